"""The recurrent sequence kernels against the plain-numpy step-by-step references of
`backend.testing_rnn`, their threaded runs against their serial ones, the fast tanh against
numpy, and their argument checks. Gradients are checked against finite differences in
test_ops_rnn.py."""

import numpy as np
import pytest

from backend.kernels import rnn, rnn_loops
from backend.testing import same_bits_any_threads
from backend.testing_rnn import sequence_reference

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def _inputs(cell, batch=10, steps=5, units=5, dtype=np.float64, seed=0, masks=True):
    rng = np.random.default_rng(seed)
    g = GATES[cell]
    x = rng.standard_normal((batch, steps, g * units)).astype(dtype)
    w = (rng.standard_normal((units, g * units)) * 0.6).astype(dtype)
    states = [
        rng.standard_normal((batch, units)).astype(dtype) for _ in range(2 if cell == "lstm" else 1)
    ]
    mask = rng.random((batch, steps)) > 0.3 if masks else None
    rmask = ((rng.random((batch, g, units)) > 0.3) / 0.7).astype(dtype) if masks else None
    return x, w, states, mask, rmask


def _run(
    cell,
    x,
    w,
    states,
    mask,
    rmask,
    reverse,
    zero,
    act="tanh",
    ract="sigmoid",
    reset_after=True,
    bias=None,
    train=True,
):
    b, t, _ = x.shape
    u = w.shape[0]
    out, h = np.empty((b, t, u), x.dtype), np.empty((b, u), x.dtype)
    saved = np.empty((b, t, rnn.SAVED_WIDTH[cell] * u), x.dtype) if train else None
    if cell == "lstm":
        c = np.empty_like(h)
        rnn.lstm_forward(x, w, *states, mask, rmask, reverse, zero, act, ract, out, h, c, saved)
        return out, h, c
    if cell == "gru":
        rnn.gru_forward(
            x, w, bias, *states, mask, rmask, reverse, zero, reset_after, act, ract, out, h, saved
        )
    else:
        rnn.simple_rnn_forward(x, w, *states, mask, rmask, reverse, zero, act, out, h, saved)
    return out, h


def _reference(
    cell,
    x,
    w,
    states,
    mask,
    rmask,
    reverse,
    zero,
    act="tanh",
    ract="sigmoid",
    reset_after=True,
    bias=None,
):
    return sequence_reference(
        cell, x, w, states, mask, rmask, reverse, zero, act, ract, reset_after, bias
    )


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("masks", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("zero", [False, True])
def test_forward_matches_the_step_by_step_reference(cell, masks, reverse, zero):
    x, w, states, mask, rmask = _inputs(cell, masks=masks)
    got = _run(cell, x, w, states, mask, rmask, reverse, zero)
    want = _reference(cell, x, w, states, mask, rmask, reverse, zero)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_masked_steps_output_the_previous_state_or_zeros():
    # A masked first step outputs the initial state (Keras' scanned rnn), a later masked
    # step the state before it; with zero_output_for_mask, zeros.
    x, w, (h0, c0), _, _ = _inputs("lstm", batch=2, steps=3, masks=False)
    mask = np.array([[False, True, False], [True, True, True]])
    out, h, _ = _run("lstm", x, w, [h0, c0], mask, None, False, False)
    np.testing.assert_array_equal(out[0, 0], h0[0])
    np.testing.assert_array_equal(out[0, 2], out[0, 1])
    np.testing.assert_array_equal(h[0], out[0, 1])
    zeros, _, _ = _run("lstm", x, w, [h0, c0], mask, None, False, True)
    assert not zeros[0, 0].any() and not zeros[0, 2].any()
    np.testing.assert_array_equal(zeros[0, 1], out[0, 1])


@pytest.mark.parametrize("reset_after, bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("masks", [False, True])
def test_gru_variants(reset_after, bias, masks):
    x, w, states, mask, rmask = _inputs("gru", masks=masks, seed=3)
    b = np.random.default_rng(4).standard_normal(3 * w.shape[0]) if bias else None
    got = _run("gru", x, w, states, mask, rmask, True, False, reset_after=reset_after, bias=b)
    want = _reference(
        "gru", x, w, states, mask, rmask, True, False, reset_after=reset_after, bias=b
    )
    for a, c in zip(got, want, strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "linear", "hard_sigmoid"])
def test_each_activation(act):
    x, w, states, mask, _ = _inputs("lstm", seed=5)
    w = w * 0.3  # keeps relu and linear cells finite
    for a, r in ((act, "sigmoid"), ("tanh", act)):
        got = _run("lstm", x, w, states, mask, None, False, False, a, r)
        want = _reference("lstm", x, w, states, mask, None, False, False, a, r)
        for g, e in zip(got, want, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    x, w, states, mask, _ = _inputs("simple_rnn", seed=6)
    got = _run("simple_rnn", x, w * 0.3, states, mask, None, True, False, act)
    want = _reference("simple_rnn", x, w * 0.3, states, mask, None, True, False, act)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_float32_within_the_golden_tolerance(cell):
    x, w, states, mask, rmask = _inputs(cell, dtype=np.float32, steps=20, units=8)
    got = _run(cell, x, w, states, mask, rmask, False, False)
    want = _reference(cell, x, w, states, mask, rmask, False, False)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_inference_writes_the_same_outputs():
    x, w, states, mask, rmask = _inputs("gru", dtype=np.float32)
    train = _run("gru", x, w, states, mask, rmask, False, True)
    infer = _run("gru", x, w, states, mask, rmask, False, True, train=False)
    for a, b in zip(train, infer, strict=True):
        assert a.tobytes() == b.tobytes()


def test_fast_tanh_error_against_numpy():
    # float32 uses the rational tanh (sigmoid through it); float64 calls libm.
    a = np.linspace(-30, 30, 200_001)
    for name, exact in (("tanh", np.tanh(a)), ("sigmoid", 1 / (1 + np.exp(-a)))):
        code = rnn.ACTIVATIONS[name]
        out32 = np.empty(a.shape, np.float32)
        rnn_loops._activate(code, a.astype(np.float32), out32)
        assert np.abs(out32 - exact).max() < 5e-7
        out64 = np.empty_like(a)
        rnn_loops._activate(code, a, out64)
        assert np.abs(out64 - exact).max() < 1e-15


def _backward(cell, x, w, states, mask, rmask, reverse, zero, reset_after=True):
    rng = np.random.default_rng(9)
    b, t, _ = x.shape
    u = w.shape[0]
    saved = np.empty((b, t, rnn.SAVED_WIDTH[cell] * u), x.dtype)
    out, h = np.empty((b, t, u), x.dtype), np.empty((b, u), x.dtype)
    d_out = rng.standard_normal(out.shape).astype(x.dtype)
    dh = rng.standard_normal(h.shape).astype(x.dtype)
    dx, dh0 = np.empty_like(x), np.empty_like(h)
    if cell == "lstm":
        c = np.empty_like(h)
        rnn.lstm_forward(
            x, w, *states, mask, rmask, reverse, zero, "tanh", "sigmoid", out, h, c, saved
        )
        dc0 = np.empty_like(h)
        rnn.lstm_backward(
            w,
            states[1],
            mask,
            rmask,
            saved,
            d_out,
            dh,
            dh * 0.5,
            reverse,
            zero,
            "tanh",
            "sigmoid",
            dx,
            dh0,
            dc0,
        )
        return dx, dh0, dc0
    if cell == "gru":
        rnn.gru_forward(
            x,
            w,
            None,
            *states,
            mask,
            rmask,
            reverse,
            zero,
            reset_after,
            "tanh",
            "sigmoid",
            out,
            h,
            saved,
        )
        drec = np.empty((b, t, u), x.dtype) if reset_after else None
        rnn.gru_backward(
            w,
            mask,
            rmask,
            saved,
            d_out,
            dh,
            reverse,
            zero,
            reset_after,
            "tanh",
            "sigmoid",
            dx,
            drec,
            dh0,
        )
        return (dx, dh0) + ((drec,) if reset_after else ())
    rnn.simple_rnn_forward(x, w, *states, mask, rmask, reverse, zero, "tanh", out, h, saved)
    rnn.simple_rnn_backward(w, mask, rmask, saved, d_out, dh, reverse, zero, "tanh", dx, dh0)
    return dx, dh0


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_threaded_runs_give_the_serial_bits(cell):
    # float32 for the LSTM (its default activations' own pass); the others' float64 kernels
    # are the ones the other tests compile (their code has nothing per dtype in backward).
    dtype = np.float32 if cell == "lstm" else np.float64
    x, w, states, mask, rmask = _inputs(cell, batch=20, dtype=dtype, units=8)
    same_bits_any_threads(lambda: _run(cell, x, w, states, mask, rmask, True, False))
    same_bits_any_threads(lambda: _backward(cell, x, w, states, mask, rmask, True, False))


def test_read_only_inputs_compile_nothing_more():
    x, w, states, mask, rmask = _inputs("simple_rnn")
    first = _run("simple_rnn", x, w, states, mask, rmask, False, False)
    count = rnn_loops._simple_chunks.signatures
    for a in (x, w, *states, mask, rmask):
        a.flags.writeable = False
    again = _run("simple_rnn", x, w, states, mask, rmask, False, False)
    assert rnn_loops._simple_chunks.signatures == count
    for a, b in zip(first, again, strict=True):
        assert a.tobytes() == b.tobytes()


def test_a_row_gives_the_same_bits_in_any_chunk():
    # Rows are independent: row 5 alone (a partial chunk) equals row 5 of the full batch.
    x, w, states, mask, _ = _inputs("lstm", batch=8, dtype=np.float32, units=8)
    full = _run("lstm", x, w, states, mask, None, False, False)
    alone = _run(
        "lstm",
        x[5:6].copy(),
        w,
        [s[5:6].copy() for s in states],
        mask[5:6].copy(),
        None,
        False,
        False,
    )
    for a, b in zip(full, alone, strict=True):
        assert a[5:6].tobytes() == b.tobytes()


def test_masked_steps_get_no_gate_gradient():
    x, w, states, mask, _ = _inputs("lstm", masks=True)
    dx, _, _ = _backward("lstm", x, w, states, mask, None, False, False)
    assert not dx[~mask].any()
    assert np.abs(dx[mask]).min(initial=1.0) >= 0 and dx[mask].any()


def test_argument_errors_name_the_kernel_and_argument():
    x, w, (h0, c0), _, _ = _inputs("lstm", batch=6, masks=False)
    out, h = np.empty((6, 5, 5)), np.empty((6, 5))
    with pytest.raises(ValueError, match=r"lstm_forward: w must have shape \(units, 4 \* units\)"):
        rnn.lstm_forward(
            x,
            w[:, :8].copy(),
            h0,
            c0,
            None,
            None,
            False,
            False,
            "tanh",
            "sigmoid",
            out,
            h,
            h.copy(),
        )
    with pytest.raises(ValueError, match=r"lstm_forward: h0 must have shape \(6, 5\)"):
        rnn.lstm_forward(
            x, w, h0[:3], c0, None, None, False, False, "tanh", "sigmoid", out, h, h.copy()
        )
    with pytest.raises(ValueError, match="lstm_forward: activation must be one of"):
        rnn.lstm_forward(
            x, w, h0, c0, None, None, False, False, "gelu", "sigmoid", out, h, h.copy()
        )
    with pytest.raises(TypeError, match="lstm_forward: mask must be bool"):
        rnn.lstm_forward(
            x, w, h0, c0, np.ones((6, 5)), None, False, False, "tanh", "sigmoid", out, h, h.copy()
        )
    with pytest.raises(ValueError, match=r"gru_forward: x must be 3-D"):
        rnn.gru_forward(
            x[0].copy(),
            w[:, :15].copy(),
            None,
            h0,
            None,
            None,
            False,
            False,
            True,
            "tanh",
            "sigmoid",
            out,
            h,
        )


def test_docstring_examples():
    import doctest

    result = doctest.testmod(rnn, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def _lstm_with_bias(x, w, bias, h0, c0, mask, d_out, dh_last, dc_last):
    """lstm_forward then lstm_backward with an input bias: (out, h, c, dx, dh0, dc0, dbias)."""
    b, t, u = x.shape[0], x.shape[1], w.shape[0]
    out, h, c = np.empty((b, t, u), x.dtype), np.empty((b, u), x.dtype), np.empty((b, u), x.dtype)
    saved = np.empty((b, t, 7 * u), x.dtype)
    rnn.lstm_forward(x, w, h0, c0, mask, None, False, False, "tanh", "sigmoid", out, h, c,
                     saved, bias=bias)  # fmt: skip
    dx, dh0, dc0 = np.empty_like(x), np.empty_like(h0), np.empty_like(c0)
    dbias = np.empty(4 * u, x.dtype)
    rnn.lstm_backward(w, c0, mask, None, saved, d_out, dh_last, dc_last, False, False, "tanh",
                      "sigmoid", dx, dh0, dc0, dbias)  # fmt: skip
    return out, h, c, dx, dh0, dc0, dbias


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lstm_input_bias_is_added_per_step_and_summed_in_backward(dtype):
    # Adding the bias as each step is read gives the bits of adding it first; its gradient
    # is numpy's sum of dx over rows and steps (masked steps contribute zeros).
    x, w, (h0, c0), mask, _ = _inputs("lstm", batch=19, steps=6, units=6, dtype=dtype)
    rng = np.random.default_rng(5)
    bias = rng.standard_normal(24).astype(dtype)
    d_out = rng.standard_normal((19, 6, 6)).astype(dtype)
    dh_last, dc_last = rng.standard_normal((2, 19, 6)).astype(dtype)
    got = _lstm_with_bias(x, w, bias, h0, c0, mask, d_out, dh_last, dc_last)
    want = _lstm_with_bias(x + bias, w, None, h0, c0, mask, d_out, dh_last, dc_last)
    for a, b in zip(got[:6], want[:6], strict=True):
        assert a.tobytes() == b.tobytes()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got[6], got[3].astype(np.float64).sum(axis=(0, 1)), atol=tol)
    same_bits_any_threads(
        lambda: _lstm_with_bias(x, w, bias, h0, c0, mask, d_out, dh_last, dc_last)
    )


def test_matmul_rows_against_numpy():
    # The recurrent product's block: every remainder of k (k1 - k0 = 0..9 terms) and a
    # column window, added into what acc held.
    from numba import njit

    @njit
    def call(v, k0, k1, w, n0, n1, acc):
        rnn_loops._matmul_rows(v, k0, k1, w, n0, n1, acc)

    rng = np.random.default_rng(6)
    v, w = rng.standard_normal((rnn_loops.ROWS, 12)), rng.standard_normal((12, 20))
    for k0, k1 in [(0, 12), (2, 11), (3, 3), (1, 2), (0, 7)]:
        acc = rng.standard_normal((rnn_loops.ROWS, 20))
        want = acc.copy()
        want[:, 4:17] += v[:, k0:k1] @ w[k0:k1, 4:17]
        call(v, np.int64(k0), np.int64(k1), w, np.int64(4), np.int64(17), acc)
        np.testing.assert_allclose(acc, want, rtol=1e-13, atol=1e-13)


def test_eight_and_four_row_blocks_give_the_same_bits():
    # `_matmul_rows` takes one or the other by the CPU; each adds a sum's products in k
    # order, so float32 results match bit for bit, remainders of k and column windows too.
    rng = np.random.default_rng(7)
    v = rng.standard_normal((rnn_loops.ROWS, 70)).astype(np.float32)
    w = rng.standard_normal((70, 260)).astype(np.float32)
    for k0, k1, n0, n1 in [(0, 64, 0, 256), (1, 70, 3, 259), (5, 8, 0, 64), (4, 4, 0, 16)]:
        start = rng.standard_normal((rnn_loops.ROWS, 260)).astype(np.float32)
        blocks = []
        for block in (rnn_loops._matmul_rows8, rnn_loops._matmul_rows4):
            acc = start.copy()
            block(v, np.int64(k0), np.int64(k1), w, np.int64(n0), np.int64(n1), acc)
            blocks.append(acc)
        assert blocks[0].tobytes() == blocks[1].tobytes()
        want = start.astype(np.float64)
        want[:, n0:n1] += v[:, k0:k1].astype(np.float64) @ w[k0:k1, n0:n1]
        np.testing.assert_allclose(blocks[0], want, rtol=1e-5, atol=1e-4)


def test_mask_steps_against_numpy_on_the_saved_view():
    rng = np.random.default_rng(11)
    saved = rng.standard_normal((5, 4, 7 * 3)).astype(np.float32)
    h_prev = saved[..., 6 * 3 :]  # strided, as the recurrent kernel's gradient reads it
    rmask = rng.standard_normal((5, 4, 3)).astype(np.float32)
    out = np.empty((5, 4, 3), np.float32)
    for k in range(4):
        rnn.mask_steps(h_prev, rmask, k, out)
        assert out.tobytes() == (h_prev * rmask[:, None, k, :]).tobytes()
    with pytest.raises(ValueError, match="mask_steps: k must be in"):
        rnn.mask_steps(h_prev, rmask, 4, out)
    with pytest.raises(ValueError, match=r"mask_steps: rmask must have shape \(5, gates, 3\)"):
        rnn.mask_steps(h_prev, rmask[:, :, :2], 0, out)
    with pytest.raises(ValueError, match="mask_steps: out must have shape"):
        rnn.mask_steps(h_prev, rmask, 0, out[:, :3])


def test_backward_work_arrays_are_kept_in_the_scratch_and_give_the_same_bits():
    x, w, (h0, c0), mask, _ = _inputs("lstm", batch=19, steps=6, units=6, dtype=np.float32)
    b, t, u = x.shape[0], x.shape[1], w.shape[0]
    out, h, c = np.empty((b, t, u), x.dtype), np.empty((b, u), x.dtype), np.empty((b, u), x.dtype)
    saved = np.empty((b, t, 7 * u), x.dtype)
    rnn.lstm_forward(x, w, h0, c0, mask, None, False, False, "tanh", "sigmoid", out, h, c, saved)
    dh_last = np.random.default_rng(2).standard_normal((b, u)).astype(x.dtype)
    results, scratch = [], {}
    for kept in (None, scratch, scratch):
        grads = np.empty_like(x), np.empty_like(h0), np.empty_like(c0), np.empty(4 * u, x.dtype)
        rnn.lstm_backward(w, c0, mask, None, saved, None, dh_last, np.zeros_like(dh_last), False,
                          False, "tanh", "sigmoid", *grads, scratch=kept)  # fmt: skip
        results.append(b"".join(g.tobytes() for g in grads))
        if kept is scratch:
            arrays = {key: id(a) for key, a in scratch.items()}
    assert results[0] == results[1] == results[2]
    assert {key[0] for key in scratch} == {"recurrent_kernel_t", "bias_parts"}
    assert arrays == {key: id(a) for key, a in scratch.items()}  # the same arrays again
