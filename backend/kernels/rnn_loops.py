"""Recurrent layers' sequence kernels: an LSTM, GRU or simple RNN over all its time steps in
one call, forward and backward through time.

Each batch row is independent through time, so a call splits the batch into fixed chunks of
`ROWS` rows and runs a chunk's whole sequence at once (threads over chunks, no
synchronization per step); a row's arithmetic is the same in any chunk, so the results are
bit-identical with any thread count. Per step a chunk computes its recurrent product
`h @ R` (`_matmul_rows`: eight rows and four terms per pass over a row of sums on a CPU with
AVX-512, four rows and four terms elsewhere), its gates' activations and its state update.

The input projection (`x @ kernel + bias`, all steps at once) is the caller's, as one GEMM;
so is the recurrent kernel's gradient (one GEMM over all steps from what the forward saved
and the backward's gate gradients: `ops/rnn.py`).

Activations are int codes (`ACTIVATIONS`), tested once per block of a row. In float32, tanh
is a rational approximation (`_tanh_fast`, max abs error 4e-7; sigmoid(x) = 0.5 *
tanh(x / 2) + 0.5): its loop vectorizes, where Numba's scalar libm tanh is 25-40 times
slower (docs/internals/kernels.md). float64 calls libm (`_tanh` picks by dtype when Numba compiles),
so finite-difference gradient checks see the exact functions. Gradients of the activations
come from their outputs.

Time indexing: `x`, `mask` and the saved arrays are indexed by input position `t`; outputs
and their gradients by processing step `s` (`t = T - 1 - s` when `reverse`), as Keras
returns them.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .. import config
from . import kernel

LINEAR, TANH, SIGMOID, RELU, HARD_SIGMOID = 0, 1, 2, 3, 4

#: Activation name -> the code the kernels take.
ACTIVATIONS = {
    "linear": LINEAR,
    "tanh": TANH,
    "sigmoid": SIGMOID,
    "relu": RELU,
    "hard_sigmoid": HARD_SIGMOID,
}

#: Rows per chunk: the unit of work of a thread, and of `_matmul_rows`' row blocking.
ROWS = 8
#: Whether `_matmul_rows` blocks all eight rows at once (it needs AVX-512's 32 vector
#: registers for their 32 multipliers); a constant when Numba compiles the kernels, and the
#: kernel cache is kept per CPU (`config.cache_key`).
EIGHT_ROW_BLOCKS = config.has_avx512()

_TANH_CLAMP = 7.99881172180175781  # where the rational tanh reaches 1 in float32


@kernel
def _tanh_fast(x):
    """tanh(x) as a ratio of polynomials in x (odd degree 13 over even degree 6, evaluated
    in halves for a shorter dependency chain), x clamped to +-7.9988 where float32's tanh
    is 1: max abs error 4e-7 in float32."""
    x = min(max(x, np.float32(-_TANH_CLAMP)), np.float32(_TANH_CLAMP))
    x2 = x * x
    x4 = x2 * x2
    p01 = np.float32(6.37261928875436e-04) * x2 + np.float32(4.89352455891786e-03)
    p23 = np.float32(5.12229709037114e-08) * x2 + np.float32(1.48572235717979e-05)
    p45 = np.float32(2.00018790482477e-13) * x2 + np.float32(-8.60467152213735e-11)
    p = (np.float32(-2.76076847742355e-16) * x4 + p45) * (x4 * x4) + (p23 * x4 + p01)
    q01 = np.float32(2.26843463243900e-03) * x2 + np.float32(4.89352518554385e-03)
    q = (np.float32(1.19825839466702e-06) * x2 + np.float32(1.18534705686654e-04)) * x4 + q01
    return (p * x) / q


def _tanh(x):
    """tanh for the kernels: `_tanh_fast` in float32, libm's in float64 (chosen when Numba
    types the call, so each dtype compiles one loop)."""
    return np.tanh(x)


@overload(_tanh)
def _tanh_typed(x):
    if x == types.float64:
        return lambda x: np.tanh(x)
    return lambda x: _tanh_fast(x)


@kernel
def _activate(code, a, out):
    """out[j] = activation(a[j]) for two 1-D views of one length: tanh, sigmoid (as 0.5 *
    tanh(a / 2) + 0.5), relu (NaN stays NaN), hard_sigmoid (relu6(a + 3) / 6, as Keras 3)
    or linear."""
    zero = out.dtype.type(0)
    half = out.dtype.type(0.5)
    if code == TANH:
        for j in range(a.shape[0]):
            out[j] = _tanh(a[j])
    elif code == SIGMOID:
        for j in range(a.shape[0]):
            out[j] = half * _tanh(half * a[j]) + half
    elif code == RELU:
        for j in range(a.shape[0]):
            out[j] = zero if a[j] < zero else a[j]
    elif code == HARD_SIGMOID:
        six = out.dtype.type(6)
        for j in range(a.shape[0]):
            v = a[j] + out.dtype.type(3)
            v = zero if v < zero else v
            out[j] = (six if v > six else v) / six
    else:
        for j in range(a.shape[0]):
            out[j] = a[j]


@kernel
def _scale_by_derivative(code, y, g):
    """g[j] *= activation'(x[j]), from the activation's output y[j] = activation(x[j])."""
    zero = g.dtype.type(0)
    one = g.dtype.type(1)
    if code == TANH:
        for j in range(g.shape[0]):
            g[j] = g[j] * (one - y[j] * y[j])
    elif code == SIGMOID:
        for j in range(g.shape[0]):
            g[j] = g[j] * (y[j] * (one - y[j]))
    elif code == RELU:
        for j in range(g.shape[0]):
            g[j] = g[j] if y[j] > zero else zero
    elif code == HARD_SIGMOID:
        six = g.dtype.type(6)
        for j in range(g.shape[0]):
            g[j] = g[j] / six if (y[j] > zero) & (y[j] < one) else zero


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c, rounded once where the CPU has a fused multiply-add, else as a multiply
    then an add (LLVM's `fmuladd`: the same choice on one machine every time, and a loop of
    them vectorizes)."""

    def codegen(context, builder, signature, args):
        t = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [t], ir.FunctionType(t, [t] * 3))
        return builder.call(fn, args)

    return a(a, a, a), codegen


@kernel
def _matmul_rows4(v, k0, k1, w, n0, n1, acc):
    """acc[r, n0:n1] += v[r, k0:k1] @ w[k0:k1, n0:n1] for the ROWS (8) rows of v, each sum's
    products added in k order (a fused multiply-add each). Four rows and four terms per pass
    over a row of sums: a load of w serves four rows, a load and store of a sum four terms,
    and the 16 scalars of v stay in registers (eight rows at once spilled them on AVX2; two
    terms per pass stored the sums twice as often: 1.8x slower at 64 x 256)."""
    k_end = k0 + (k1 - k0) // 4 * 4
    for r0 in range(0, ROWS, 4):
        a0, a1, a2, a3 = acc[r0, n0:n1], acc[r0 + 1, n0:n1], acc[r0 + 2, n0:n1], acc[r0 + 3, n0:n1]
        for k in range(k0, k_end, 4):
            w0, w1, w2, w3 = w[k, n0:n1], w[k + 1, n0:n1], w[k + 2, n0:n1], w[k + 3, n0:n1]
            p0, p1, p2, p3 = v[r0, k], v[r0, k + 1], v[r0, k + 2], v[r0, k + 3]
            q0, q1, q2, q3 = v[r0 + 1, k], v[r0 + 1, k + 1], v[r0 + 1, k + 2], v[r0 + 1, k + 3]
            e0, e1, e2, e3 = v[r0 + 2, k], v[r0 + 2, k + 1], v[r0 + 2, k + 2], v[r0 + 2, k + 3]
            f0, f1, f2, f3 = v[r0 + 3, k], v[r0 + 3, k + 1], v[r0 + 3, k + 2], v[r0 + 3, k + 3]
            for j in range(a0.shape[0]):
                x0, x1, x2, x3 = w0[j], w1[j], w2[j], w3[j]
                a0[j] = _fma(p3, x3, _fma(p2, x2, _fma(p1, x1, _fma(p0, x0, a0[j]))))
                a1[j] = _fma(q3, x3, _fma(q2, x2, _fma(q1, x1, _fma(q0, x0, a1[j]))))
                a2[j] = _fma(e3, x3, _fma(e2, x2, _fma(e1, x1, _fma(e0, x0, a2[j]))))
                a3[j] = _fma(f3, x3, _fma(f2, x2, _fma(f1, x1, _fma(f0, x0, a3[j]))))
        for k in range(k_end, k1):  # the last terms (fewer than four) one at a time
            wk = w[k, n0:n1]
            p0, q0, e0, f0 = v[r0, k], v[r0 + 1, k], v[r0 + 2, k], v[r0 + 3, k]
            for j in range(a0.shape[0]):
                x0 = wk[j]
                a0[j] = _fma(p0, x0, a0[j])
                a1[j] = _fma(q0, x0, a1[j])
                a2[j] = _fma(e0, x0, a2[j])
                a3[j] = _fma(f0, x0, a3[j])


@kernel
def _matmul_rows8(v, k0, k1, w, n0, n1, acc):
    """`_matmul_rows4`'s sums with eight rows and four terms per pass: a load of w serves all
    eight rows, and the 32 scalars of v take 32 vector registers (AVX-512 has them; AVX2's
    16 spill). Each sum's products are added in k order, one fused multiply-add each, as in
    `_matmul_rows4`, so both give the same bits."""
    k_end = k0 + (k1 - k0) // 4 * 4
    a0, a1, a2, a3 = acc[0, n0:n1], acc[1, n0:n1], acc[2, n0:n1], acc[3, n0:n1]
    a4, a5, a6, a7 = acc[4, n0:n1], acc[5, n0:n1], acc[6, n0:n1], acc[7, n0:n1]
    for k in range(k0, k_end, 4):
        w0, w1, w2, w3 = w[k, n0:n1], w[k + 1, n0:n1], w[k + 2, n0:n1], w[k + 3, n0:n1]
        p0, p1, p2, p3 = v[0, k], v[0, k + 1], v[0, k + 2], v[0, k + 3]
        q0, q1, q2, q3 = v[1, k], v[1, k + 1], v[1, k + 2], v[1, k + 3]
        e0, e1, e2, e3 = v[2, k], v[2, k + 1], v[2, k + 2], v[2, k + 3]
        f0, f1, f2, f3 = v[3, k], v[3, k + 1], v[3, k + 2], v[3, k + 3]
        g0, g1, g2, g3 = v[4, k], v[4, k + 1], v[4, k + 2], v[4, k + 3]
        h0, h1, h2, h3 = v[5, k], v[5, k + 1], v[5, k + 2], v[5, k + 3]
        i0, i1, i2, i3 = v[6, k], v[6, k + 1], v[6, k + 2], v[6, k + 3]
        j0, j1, j2, j3 = v[7, k], v[7, k + 1], v[7, k + 2], v[7, k + 3]
        for j in range(a0.shape[0]):
            x0, x1, x2, x3 = w0[j], w1[j], w2[j], w3[j]
            a0[j] = _fma(p3, x3, _fma(p2, x2, _fma(p1, x1, _fma(p0, x0, a0[j]))))
            a1[j] = _fma(q3, x3, _fma(q2, x2, _fma(q1, x1, _fma(q0, x0, a1[j]))))
            a2[j] = _fma(e3, x3, _fma(e2, x2, _fma(e1, x1, _fma(e0, x0, a2[j]))))
            a3[j] = _fma(f3, x3, _fma(f2, x2, _fma(f1, x1, _fma(f0, x0, a3[j]))))
            a4[j] = _fma(g3, x3, _fma(g2, x2, _fma(g1, x1, _fma(g0, x0, a4[j]))))
            a5[j] = _fma(h3, x3, _fma(h2, x2, _fma(h1, x1, _fma(h0, x0, a5[j]))))
            a6[j] = _fma(i3, x3, _fma(i2, x2, _fma(i1, x1, _fma(i0, x0, a6[j]))))
            a7[j] = _fma(j3, x3, _fma(j2, x2, _fma(j1, x1, _fma(j0, x0, a7[j]))))
    for k in range(k_end, k1):  # the last terms (fewer than four) one at a time
        wk = w[k, n0:n1]
        for r in range(ROWS):
            ar, s = acc[r, n0:n1], v[r, k]
            for j in range(ar.shape[0]):
                ar[j] = _fma(s, wk[j], ar[j])


@kernel
def _matmul_rows(v, k0, k1, w, n0, n1, acc):
    """acc[r, n0:n1] += v[r, k0:k1] @ w[k0:k1, n0:n1] for the ROWS (8) rows of v:
    `_matmul_rows8` on a CPU with 32 vector registers (`EIGHT_ROW_BLOCKS`), else
    `_matmul_rows4`; the same bits from both. LSTM(64) at batch 8, one thread, the forward
    product (8 x 64 by 64 x 256) 2.40 -> 1.42 us and the backward's (8 x 256 by 256 x 64)
    3.74 -> 3.17 us on a Zen 5 core."""
    if EIGHT_ROW_BLOCKS:
        _matmul_rows8(v, k0, k1, w, n0, n1, acc)
    else:
        _matmul_rows4(v, k0, k1, w, n0, n1, acc)


@kernel
def _recurrent_product(h, rows, b0, rmask, m0, blocks, w, n0, hm, acc):
    """acc[:, n0:n0 + blocks*U] += h @ w[:, n0:n0 + blocks*U] for a chunk (its first row is
    batch row b0, its first `rows` rows are real). With a recurrent dropout mask (rmask not
    empty), column block k uses h * rmask[b, m0 + k] (hm: scratch shaped like h, its rows
    past `rows` zero)."""
    units = h.shape[1]
    masked = rmask.shape[0] != 0
    span = units if masked else blocks * units
    for k in range(blocks if masked else 1):
        src = h
        if masked:
            for r in range(rows):
                m = rmask[b0 + r, m0 + k]
                for j in range(units):
                    hm[r, j] = h[r, j] * m[j]
            src = hm
        start = n0 + k * span
        _matmul_rows(src, np.int64(0), units, w, start, start + span, acc)


@kernel
def _transposed_product(d, k0, blocks, rows, b0, rmask, m0, wt, tmp, acc):
    """acc[r] += sum over column blocks k of (d[r, block k] @ wt[block k]) * rmask[b, m0 + k]
    (no mask factor when rmask is empty), block k being columns k0 + k*U to k0 + (k+1)*U:
    a recurrent product's gradient with respect to h, wt the recurrent kernel transposed
    (tmp: scratch shaped like acc)."""
    units = acc.shape[1]
    masked = rmask.shape[0] != 0
    span = units if masked else blocks * units
    for k in range(blocks if masked else 1):
        dst = acc
        if masked:
            for r in range(tmp.shape[0]):
                _zero(tmp[r])
            dst = tmp
        start = k0 + k * span
        _matmul_rows(d, start, start + span, wt, np.int64(0), units, dst)
        if masked:
            for r in range(rows):
                m = rmask[b0 + r, m0 + k]
                for j in range(units):
                    acc[r, j] += tmp[r, j] * m[j]


@kernel
def _time_index(s, steps, reverse):
    return steps - 1 - s if reverse else s


@kernel
def _valid(mask, b, t):
    return mask.shape[0] == 0 or mask[b, t]


@kernel
def _emit(h, b, s, valid, zero_output, out):
    """out[b, s] = h (a row of the state), or zeros at a masked step with zero_output."""
    o = out[b, s]
    if valid or not zero_output:
        for j in range(o.shape[0]):
            o[j] = h[j]
    else:
        for j in range(o.shape[0]):
            o[j] = 0


@kernel
def _chunk(c, batch):
    """The first batch row of chunk c and how many real rows it has."""
    r0 = np.int64(c) * ROWS
    return r0, min(ROWS, batch - r0)


@kernel
def _copy(src, dst):
    """dst[j] = src[j] for two 1-D arrays of one length (a plain loop: Numba's slice
    assignment builds a general broadcasting copy, much slower to compile)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@kernel
def _load_rows(src, r0, rows, dst):
    """dst[r] = src[r0 + r] for a chunk's real rows (batch arrays -> chunk scratch)."""
    for r in range(rows):
        _copy(src[r0 + r], dst[r])


@kernel
def _store_rows(src, r0, rows, dst):
    """dst[r0 + r] = src[r] for a chunk's real rows (chunk scratch -> batch arrays)."""
    for r in range(rows):
        _copy(src[r], dst[r0 + r])


@kernel
def _carry(valid_rows, rows, dh_prev, dh):
    """dh[r] = dh_prev[r] for the rows whose step was valid (a masked step's dh passes)."""
    for r in range(rows):
        if valid_rows[r]:
            _copy(dh_prev[r], dh[r])


@kernel
def _load_projection(x, bias, acc):
    """acc[j] = x[j] + bias[j]: a step's input projection with the input bias (an empty bias:
    x alone), the same sums as adding the bias to the whole sequence first."""
    if bias.shape[0] == 0:
        _copy(x, acc)
        return
    for j in range(acc.shape[0]):
        acc[j] = x[j] + bias[j]


@kernel
def _store_gradient(da, dx, dbias):
    """dx[j] = da[j], and da added into dbias (the input bias's gradient, summed over a
    chunk's rows and steps) unless dbias is empty."""
    _copy(da, dx)
    for j in range(dbias.shape[0]):
        dbias[j] += da[j]


@kernel
def _zero(a):
    """a[:] = 0 for a 1-D array (a plain loop, for the same reason as `_copy`)."""
    for j in range(a.shape[0]):
        a[j] = 0


@kernel
def _step_gradient(mask, b, t, s, d_out, zero_output, valid_rows, r, dh):
    """Starts row r's backward step s (input position t): records whether the step was
    valid, and adds d_out[b, s] to dh when the step's output is the state (d_out empty: no
    gradient). Returns whether the step was valid."""
    valid = _valid(mask, b, t)
    valid_rows[r] = valid
    if d_out.shape[0] != 0 and (valid or not zero_output):
        g = d_out[b, s]
        for j in range(dh.shape[0]):
            dh[j] += g[j]
    return valid


# ---- LSTM -----------------------------------------------------------------------------------
# saved[b, t] (training) = [i, f, g, o (post-activation) | act(c) | c | h_prev], 7 * units:
# c is the cell state after step t (carried through a masked step), h_prev the state before.
# Each `*_chunks` kernel runs chunks [first, stop) of ROWS rows (worker threads take runs of
# chunks); its scratch arrays have ROWS rows, and a last chunk's rows past the batch stay 0.


@kernel
def _lstm_cell_standard(a, g, c, ac, h):
    """One row's LSTM step with Keras' default activations (sigmoid gates, tanh) in one pass
    over the units, with the same arithmetic as the general path's passes: from the
    pre-activations a (4U), writes the gates g (4U), the cell c, act(c) and h (U each)."""
    units = c.shape[0]
    ai, af, ag, ao = a[:units], a[units : 2 * units], a[2 * units : 3 * units], a[3 * units :]
    gi, gf, gg, go = g[:units], g[units : 2 * units], g[2 * units : 3 * units], g[3 * units :]
    half = c.dtype.type(0.5)
    for j in range(units):
        i = half * _tanh(half * ai[j]) + half
        f = half * _tanh(half * af[j]) + half
        cand = _tanh(ag[j])
        o = half * _tanh(half * ao[j]) + half
        cj = f * c[j] + i * cand
        act_c = _tanh(cj)
        gi[j], gf[j], gg[j], go[j], c[j], ac[j], h[j] = i, f, cand, o, cj, act_c, o * act_c


@kernel
def _lstm_cell_standard_grad(sv, c_prev, dh, dc, da):
    """`_lstm_cell_standard`'s gradient for one row in one pass, the same arithmetic as the
    general path's passes: from the saved gates and act(c) (sv), c_prev and the gradients
    dh, dc of the step's h and c, writes the pre-activations' gradients da (4U) and dc's
    for the step before."""
    units = dh.shape[0]
    gi, gf, gg, go = (
        sv[:units],
        sv[units : 2 * units],
        sv[2 * units : 3 * units],
        sv[3 * units : 4 * units],
    )
    ac = sv[4 * units : 5 * units]
    di, df, dg, do = da[:units], da[units : 2 * units], da[2 * units : 3 * units], da[3 * units :]
    one = dh.dtype.type(1)
    for j in range(units):
        i, f, cand, o, act_c, dhj = gi[j], gf[j], gg[j], go[j], ac[j], dh[j]
        dcj = dc[j] + dhj * o * (one - act_c * act_c)
        do[j] = dhj * act_c * (o * (one - o))
        di[j] = dcj * cand * (i * (one - i))
        df[j] = dcj * c_prev[j] * (f * (one - f))
        dg[j] = dcj * i * (one - cand * cand)
        dc[j] = dcj * f


@kernel
def _lstm_chunks(
    first,
    stop,
    x,
    w,
    bias,
    h0,
    c0,
    mask,
    rmask,
    reverse,
    zero_output,
    act,
    ract,
    out,
    h_last,
    c_last,
    saved,
):
    batch, steps, units = x.shape[0], x.shape[1], w.shape[0]
    col0 = np.int64(0)  # an int64, not a literal 0: one helper signature for all calls
    train = saved.shape[0] != 0
    acc, gates = np.zeros((ROWS, 4 * units), x.dtype), np.empty((ROWS, 4 * units), x.dtype)
    h, c = np.zeros((ROWS, units), x.dtype), np.zeros((ROWS, units), x.dtype)
    hm, ac = np.zeros((ROWS, units), x.dtype), np.empty((ROWS, units), x.dtype)
    codes = np.empty(5, np.int64)  # the gates', then the cell's
    codes[0], codes[1], codes[2], codes[3], codes[4] = ract, ract, act, ract, act
    standard = act == TANH and ract == SIGMOID
    for chunk in range(first, stop):
        r0, rows = _chunk(chunk, batch)
        _load_rows(h0, r0, rows, h)
        _load_rows(c0, r0, rows, c)
        for s in range(steps):
            t = _time_index(s, steps, reverse)
            for r in range(rows):
                _load_projection(x[r0 + r, t], bias, acc[r])
            _recurrent_product(h, rows, r0, rmask, col0, np.int64(4), w, col0, hm, acc)
            for r in range(rows):
                b = r0 + r
                valid = _valid(mask, b, t)
                g = saved[b, t, : 4 * units] if train else gates[r]
                acr = saved[b, t, 4 * units : 5 * units] if train else ac[r]
                if train:
                    _copy(h[r], saved[b, t, 6 * units :])
                if valid and standard:
                    _lstm_cell_standard(acc[r], g, c[r], acr, h[r])
                elif valid:
                    gi, gf, go = g[:units], g[units : 2 * units], g[3 * units :]
                    gg, cr, hr = g[2 * units : 3 * units], c[r], h[r]
                    for k in range(5):  # four gates, then act(c) once c is updated
                        src = acc[r, k * units : (k + 1) * units]
                        dst = g[k * units : (k + 1) * units]
                        if k == 4:
                            for j in range(units):
                                cr[j] = gf[j] * cr[j] + gi[j] * gg[j]
                            src, dst = cr, acr
                        _activate(codes[k], src, dst)
                    for j in range(units):
                        hr[j] = go[j] * acr[j]
                if train:
                    _copy(c[r], saved[b, t, 5 * units : 6 * units])
                _emit(h[r], b, s, valid, zero_output, out)
        _store_rows(h, r0, rows, h_last)
        _store_rows(c, r0, rows, c_last)


@kernel
def _lstm_grad_chunks(
    first,
    stop,
    wt,
    c0,
    mask,
    rmask,
    saved,
    d_out,
    dh_last,
    dc_last,
    reverse,
    zero_output,
    act,
    ract,
    dx,
    dh0,
    dc0,
    dbias,
):
    batch, steps, units = saved.shape[0], saved.shape[1], wt.shape[1]
    col0 = np.int64(0)  # an int64, not a literal 0: one helper signature for all calls
    dh, dc = np.zeros((ROWS, units), dx.dtype), np.zeros((ROWS, units), dx.dtype)
    da = np.zeros((ROWS, 4 * units), dx.dtype)
    dh_prev, tmp = np.zeros((ROWS, units), dx.dtype), np.zeros((ROWS, units), dx.dtype)
    valid_rows = np.zeros(ROWS, np.bool_)
    codes = np.empty(4, np.int64)
    codes[0], codes[1], codes[2], codes[3] = ract, ract, act, ract
    standard = act == TANH and ract == SIGMOID
    for chunk in range(first, stop):
        r0, rows = _chunk(chunk, batch)
        if dbias.shape[1] != 0:
            _zero(dbias[chunk])
        _load_rows(dh_last, r0, rows, dh)
        _load_rows(dc_last, r0, rows, dc)
        for s in range(steps - 1, -1, -1):
            t = _time_index(s, steps, reverse)
            t_prev = _time_index(s - 1, steps, reverse)
            for r in range(rows):
                b = r0 + r
                dhr, dcr, dar = dh[r], dc[r], da[r]
                if not _step_gradient(mask, b, t, s, d_out, zero_output, valid_rows, r, dhr):
                    _zero(dar)
                    _zero(dx[b, t])
                    continue
                sv = saved[b, t]
                gi, gf, gg, go = (
                    sv[:units],
                    sv[units : 2 * units],
                    sv[2 * units : 3 * units],
                    sv[3 * units : 4 * units],
                )
                acr = sv[4 * units : 5 * units]
                c_prev = c0[b] if s == 0 else saved[b, t_prev, 5 * units : 6 * units]
                if standard:
                    _lstm_cell_standard_grad(sv, c_prev, dhr, dcr, dar)
                    _store_gradient(dar, dx[b, t], dbias[chunk])
                    continue
                di, df, dg, do = (
                    dar[:units],
                    dar[units : 2 * units],
                    dar[2 * units : 3 * units],
                    dar[3 * units :],
                )
                for j in range(units):
                    do[j] = dhr[j] * acr[j]
                    dg[j] = dhr[j] * go[j]  # the gradient of act(c), through act' next
                _scale_by_derivative(act, acr, dg)
                for j in range(units):
                    dcj = dcr[j] + dg[j]
                    di[j] = dcj * gg[j]
                    df[j] = dcj * c_prev[j]
                    dg[j] = dcj * gi[j]
                    dcr[j] = dcj * gf[j]
                for k in range(4):
                    _scale_by_derivative(
                        codes[k], sv[k * units : (k + 1) * units], dar[k * units : (k + 1) * units]
                    )
                _store_gradient(dar, dx[b, t], dbias[chunk])
            for r in range(ROWS):
                _zero(dh_prev[r])
            _transposed_product(da, col0, np.int64(4), rows, r0, rmask, col0, wt, tmp, dh_prev)
            _carry(valid_rows, rows, dh_prev, dh)
        _store_rows(dh, r0, rows, dh0)
        _store_rows(dc, r0, rows, dc0)


# ---- GRU ------------------------------------------------------------------------------------
# saved[b, t] (training) = [z, r, hh (post-activation) | rec | h_prev], 5 * units, where rec is
# (h_prev * mask_h) @ R_h + b_h with reset_after, else r * (h_prev * mask_h): the input of the
# candidate's recurrent product.


@kernel
def _gru_chunks(
    first,
    stop,
    x,
    w,
    bias,
    h0,
    mask,
    rmask,
    reverse,
    zero_output,
    reset_after,
    act,
    ract,
    out,
    h_last,
    saved,
):
    batch, steps, units = x.shape[0], x.shape[1], w.shape[0]
    col0 = np.int64(0)  # an int64, not a literal 0: one helper signature for all calls
    train = saved.shape[0] != 0
    rec, gates = np.zeros((ROWS, 3 * units), x.dtype), np.empty((ROWS, 3 * units), x.dtype)
    h, hm, rh = (
        np.zeros((ROWS, units), x.dtype),
        np.zeros((ROWS, units), x.dtype),
        np.zeros((ROWS, units), x.dtype),
    )
    one = x.dtype.type(1)
    for chunk in range(first, stop):
        r0, rows = _chunk(chunk, batch)
        _load_rows(h0, r0, rows, h)
        for s in range(steps):
            t = _time_index(s, steps, reverse)
            for r in range(rows):
                if bias.shape[0] == 0:
                    _zero(rec[r])
                else:
                    _copy(bias, rec[r])
            _recurrent_product(
                h, rows, r0, rmask, col0, np.int64(3 if reset_after else 2), w, col0, hm, rec
            )
            for r in range(rows):
                b = r0 + r
                g = saved[b, t, : 3 * units] if train else gates[r]
                xr, recr, gzr = x[b, t, : 2 * units], rec[r, : 2 * units], g[: 2 * units]
                for j in range(2 * units):
                    gzr[j] = xr[j] + recr[j]
                _activate(ract, gzr, gzr)
                if not reset_after:  # the candidate's product reads r * (h * mask_h)
                    gr, hr, rhr = g[units : 2 * units], h[r], rh[r]
                    if rmask.shape[0] == 0:
                        for j in range(units):
                            rhr[j] = gr[j] * hr[j]
                    else:
                        m = rmask[b, 2]
                        for j in range(units):
                            rhr[j] = gr[j] * (hr[j] * m[j])
            if not reset_after:
                for r in range(rows):
                    _zero(rec[r, 2 * units :])
                _matmul_rows(rh, col0, units, w, 2 * units, 3 * units, rec)
            for r in range(rows):
                b = r0 + r
                valid = _valid(mask, b, t)
                g = saved[b, t, : 3 * units] if train else gates[r]
                gz, gr, gh = g[:units], g[units : 2 * units], g[2 * units :]
                xh, rech, hr = x[b, t, 2 * units :], rec[r, 2 * units :], h[r]
                if train:
                    _copy(hr, saved[b, t, 4 * units :])
                    _copy(rech if reset_after else rh[r], saved[b, t, 3 * units : 4 * units])
                if reset_after:
                    for j in range(units):
                        gh[j] = xh[j] + gr[j] * rech[j]
                else:
                    for j in range(units):
                        gh[j] = xh[j] + rech[j]
                _activate(act, gh, gh)
                if valid:
                    for j in range(units):
                        hr[j] = gz[j] * hr[j] + (one - gz[j]) * gh[j]
                _emit(hr, b, s, valid, zero_output, out)
        _store_rows(h, r0, rows, h_last)


@kernel
def _gru_grad_chunks(
    first,
    stop,
    wt,
    mask,
    rmask,
    saved,
    d_out,
    dh_last,
    reverse,
    zero_output,
    reset_after,
    act,
    ract,
    dx,
    drec_h,
    dh0,
):
    """dx[b, t] = the gradients of the gates' pre-activations [z, r, candidate] (x_proj's);
    with reset_after, drec_h[b, t] = the gradient of the candidate's recurrent product (r
    times the candidate's)."""
    batch, steps, units = saved.shape[0], saved.shape[1], wt.shape[1]
    col0 = np.int64(0)  # an int64, not a literal 0: one helper signature for all calls
    dh, dh_prev = np.zeros((ROWS, units), dx.dtype), np.zeros((ROWS, units), dx.dtype)
    tmp, d_rh = np.zeros((ROWS, units), dx.dtype), np.zeros((ROWS, units), dx.dtype)
    da = np.zeros((ROWS, 3 * units), dx.dtype)
    valid_rows = np.zeros(ROWS, np.bool_)
    one = dx.dtype.type(1)
    for chunk in range(first, stop):
        r0, rows = _chunk(chunk, batch)
        _load_rows(dh_last, r0, rows, dh)
        for s in range(steps - 1, -1, -1):
            t = _time_index(s, steps, reverse)
            for r in range(rows):
                b = r0 + r
                dhr, dar, dpr = dh[r], da[r], dh_prev[r]
                if not _step_gradient(mask, b, t, s, d_out, zero_output, valid_rows, r, dhr):
                    _zero(dar)
                    continue
                sv = saved[b, t]
                gz, gr, gh = sv[:units], sv[units : 2 * units], sv[2 * units : 3 * units]
                rec, h_prev = sv[3 * units : 4 * units], sv[4 * units :]
                dz, dr, dhh = dar[:units], dar[units : 2 * units], dar[2 * units :]
                for j in range(units):
                    dz[j] = dhr[j] * (h_prev[j] - gh[j])
                    dhh[j] = dhr[j] * (one - gz[j])
                    dpr[j] = dhr[j] * gz[j]
                _scale_by_derivative(ract, gz, dz)
                _scale_by_derivative(act, gh, dhh)
                if reset_after:
                    drh = drec_h[b, t]
                    for j in range(units):
                        dr[j] = dhh[j] * rec[j]
                        drh[j] = dhh[j] * gr[j]
                    _scale_by_derivative(ract, gr, dr)
            if not reset_after:  # r's gradient needs the candidate's product transposed first
                for r in range(ROWS):
                    _zero(d_rh[r])
                _matmul_rows(da, 2 * units, 3 * units, wt, col0, units, d_rh)
                for r in range(rows):
                    if not valid_rows[r]:
                        continue
                    b = r0 + r
                    sv = saved[b, t]
                    gr, h_prev = sv[units : 2 * units], sv[4 * units :]
                    dr, drh, dpr = da[r, units : 2 * units], d_rh[r], dh_prev[r]
                    if rmask.shape[0] == 0:
                        for j in range(units):
                            dr[j] = drh[j] * h_prev[j]
                            dpr[j] += drh[j] * gr[j]
                    else:
                        m = rmask[b, 2]
                        for j in range(units):
                            dr[j] = drh[j] * (h_prev[j] * m[j])
                            dpr[j] += drh[j] * gr[j] * m[j]
                    _scale_by_derivative(ract, gr, dr)
            for r in range(rows):
                b = r0 + r
                if valid_rows[r]:
                    _copy(da[r], dx[b, t])
                    if reset_after:  # the product's gradient replaces the candidate's
                        _copy(drec_h[b, t], da[r, 2 * units :])
                else:
                    _zero(dx[b, t])
                    _zero(dh_prev[r])
                    if reset_after:
                        _zero(drec_h[b, t])
            _transposed_product(
                da, col0, np.int64(3 if reset_after else 2), rows, r0, rmask, col0, wt, tmp, dh_prev
            )
            _carry(valid_rows, rows, dh_prev, dh)
        _store_rows(dh, r0, rows, dh0)


# ---- simple RNN -----------------------------------------------------------------------------
# saved[b, t] (training) = [h (post-activation) | h_prev], 2 * units.


@kernel
def _simple_chunks(
    first, stop, x, w, h0, mask, rmask, reverse, zero_output, act, out, h_last, saved
):
    batch, steps, units = x.shape[0], x.shape[1], w.shape[0]
    col0 = np.int64(0)  # an int64, not a literal 0: one helper signature for all calls
    train = saved.shape[0] != 0
    acc, y = np.zeros((ROWS, units), x.dtype), np.empty((ROWS, units), x.dtype)
    h, hm = np.zeros((ROWS, units), x.dtype), np.zeros((ROWS, units), x.dtype)
    for chunk in range(first, stop):
        r0, rows = _chunk(chunk, batch)
        _load_rows(h0, r0, rows, h)
        for s in range(steps):
            t = _time_index(s, steps, reverse)
            for r in range(rows):
                _copy(x[r0 + r, t], acc[r])
            _recurrent_product(h, rows, r0, rmask, col0, np.int64(1), w, col0, hm, acc)
            for r in range(rows):
                b = r0 + r
                valid = _valid(mask, b, t)
                yr = saved[b, t, :units] if train else y[r]
                if train:
                    _copy(h[r], saved[b, t, units:])
                _activate(act, acc[r], yr)
                if valid:
                    _copy(yr, h[r])
                _emit(h[r], b, s, valid, zero_output, out)
        _store_rows(h, r0, rows, h_last)


@kernel
def _simple_grad_chunks(
    first, stop, wt, mask, rmask, saved, d_out, dh_last, reverse, zero_output, act, dx, dh0
):
    batch, steps, units = saved.shape[0], saved.shape[1], wt.shape[1]
    col0 = np.int64(0)  # an int64, not a literal 0: one helper signature for all calls
    dh, da = np.zeros((ROWS, units), dx.dtype), np.zeros((ROWS, units), dx.dtype)
    dh_prev, tmp = np.zeros((ROWS, units), dx.dtype), np.zeros((ROWS, units), dx.dtype)
    valid_rows = np.zeros(ROWS, np.bool_)
    for chunk in range(first, stop):
        r0, rows = _chunk(chunk, batch)
        _load_rows(dh_last, r0, rows, dh)
        for s in range(steps - 1, -1, -1):
            t = _time_index(s, steps, reverse)
            for r in range(rows):
                b = r0 + r
                if _step_gradient(mask, b, t, s, d_out, zero_output, valid_rows, r, dh[r]):
                    _copy(dh[r], da[r])
                    _scale_by_derivative(act, saved[b, t, :units], da[r])
                else:
                    _zero(da[r])
                _copy(da[r], dx[b, t])
            for r in range(ROWS):
                _zero(dh_prev[r])
            _transposed_product(da, col0, np.int64(1), rows, r0, rmask, col0, wt, tmp, dh_prev)
            _carry(valid_rows, rows, dh_prev, dh)
        _store_rows(dh, r0, rows, dh0)
