"""Recurrent layers' sequence kernels: an LSTM, GRU or simple RNN over all its time steps in
one call, forward (`*_forward`) and backward through time (`*_backward`). These wrappers
check their arguments and call the loops of `rnn_loops.py` (which say how they run).

Shapes: batch B, steps T, units U, G gate blocks (LSTM 4: i, f, c, o; GRU 3: z, r, h; simple
RNN 1), in Keras' order and layout:

- `x` (B, T, G*U): the input projection `inputs @ kernel + bias`, all steps; `w` (U, G*U):
  the recurrent kernel.
- `mask` (B, T) bool or None: a masked step leaves the state as it was; its output is the
  state (the previous step's output, or the initial state at the first step), or zeros with
  `zero_output`, as Keras' backend `rnn` (the default, scanned, path).
- `rmask` (B, G, U) or None: recurrent dropout, h_prev * rmask[:, k] feeding gate k's
  recurrent product (a simple RNN has G = 1; the GRU without `reset_after` multiplies the
  candidate's masked h by r first, as Keras).
- `reverse`: steps run from the last input to the first; `out[:, s]` is step s's output, in
  processing order (as Keras returns `go_backwards` sequences).
- `saved` (B, T, `SAVED_WIDTH[cell]` * U): what the backward needs, indexed by input position;
  None in inference (nothing is written).

The backward takes the forward's `saved` and the gradients of `out` (None when zero),
`h_last` (and `c_last`), and writes `dx` (B, T, G*U), x's gradient (zero at masked steps),
the initial states' gradients and, for a GRU with `reset_after`, `drec_h` (B, T, U): the
gradient of the candidate's recurrent product. The recurrent kernel's gradient is one GEMM
the caller makes from `saved` and those (`ops/rnn.py`).
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import config, workers
from ..memory import work_array
from . import kernel, rnn_loops
from ._checks import EMPTY, FLOAT_DTYPES, check, float_dtype
from .rnn_loops import ACTIVATIONS, ROWS

#: Per cell, the saved values per step and row, in units.
SAVED_WIDTH = {"lstm": 7, "gru": 5, "simple_rnn": 2}
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}

_NO_MASK = np.zeros((0, 0), np.bool_)
# An absent optional sequence (rmask, d_out, saved, drec_h) goes to the loops as an empty
# 3-D array of the call's dtype, made once (nothing is written into it); an absent bias as
# `_checks.EMPTY`.
_EMPTY_3D = {dtype: np.zeros((0, 0, 0), dtype) for dtype in FLOAT_DTYPES}


__all__ = [
    "ACTIVATIONS",
    "GATES",
    "SAVED_WIDTH",
    "gru_backward",
    "gru_forward",
    "lstm_backward",
    "lstm_forward",
    "mask_steps",
    "simple_rnn_backward",
    "simple_rnn_forward",
]


def _codes(name: str, activation, recurrent_activation="sigmoid") -> tuple:
    return _activation(name, "activation", activation), _activation(
        name, "recurrent_activation", recurrent_activation
    )


def _activation(name: str, arg: str, value) -> int:
    code = ACTIVATIONS.get("linear" if value is None else value)
    if code is None:
        raise ValueError(
            f"{name}: {arg} must be one of {sorted(ACTIVATIONS)}. Received: {arg}={value!r}"
        )
    return code


class _Args:
    """Checks a call's arrays against the shapes its x (or saved) and w give."""

    def __init__(self, name: str, cell: str, w: np.ndarray, batch_steps: tuple, dtype):
        self.name, self.dtype = name, dtype
        check(name, "w", w, dtype=dtype)
        gates = GATES[cell]
        if w.ndim != 2 or w.shape[1] != gates * w.shape[0]:
            raise ValueError(
                f"{name}: w must have shape (units, {gates} * units). Received: w.shape={w.shape}"
            )
        self.units = w.shape[0]
        self.batch, self.steps = batch_steps
        self.gates = gates

    def array(self, arg: str, a, shape: tuple, out: bool = False) -> None:
        check(self.name, arg, a, dtype=self.dtype, shape=shape, out=out)

    def state(self, arg: str, a, out: bool = False) -> None:
        self.array(arg, a, (self.batch, self.units), out)

    def mask(self, mask) -> np.ndarray:
        if mask is None:
            return _NO_MASK
        check(self.name, "mask", mask, dtype=np.dtype(np.bool_), shape=(self.batch, self.steps))
        return mask

    def rmask(self, rmask) -> np.ndarray:
        if rmask is None:
            return _EMPTY_3D[self.dtype]
        self.array("rmask", rmask, (self.batch, self.gates, self.units))
        return rmask

    def bias(self, bias) -> np.ndarray:
        """An input bias (gates * units,), or an empty array for None."""
        if bias is None:
            return EMPTY[self.dtype]
        self.array("bias", bias, (self.gates * self.units,))
        return bias

    def sequence(self, arg: str, a, width: int, out: bool = False) -> np.ndarray:
        if a is None:
            return _EMPTY_3D[self.dtype]
        self.array(arg, a, (self.batch, self.steps, width * self.units), out)
        return a

    def run(self, run, *args) -> None:
        """Runs `run` (an `rnn_loops.*_chunks` kernel) over the batch's chunks of ROWS rows: on
        `config.get_num_threads()` Python worker threads when there are several chunks and
        the work reaches `config.parallel_threshold()`, else in one call. Workers claim
        chunks one at a time (the kernel is `nogil`), so a worker whose core another program
        keeps busy takes fewer: a static split waited for it (two-thread runs on a shared
        machine took 3-10x the one-thread time). One serial kernel serves both, so a
        program compiles nothing more for threads, and rows are independent, so the results
        are the same bits with any thread count."""
        # Numba types a read-only array apart: one would compile the whole kernel again.
        args = [a.copy() if isinstance(a, np.ndarray) and not a.flags.writeable else a
                for a in args]  # fmt: skip
        chunks = (self.batch + ROWS - 1) // ROWS
        work = self.batch * self.steps * self.units * self.units * self.gates
        threads = min(config.get_num_threads(), chunks)
        if threads < 2 or work < config.parallel_threshold():
            run(0, chunks, *args)
            return
        claimed = itertools.count()  # next() is atomic under the GIL

        def claim_chunks(worker, first, stop):
            while (chunk := next(claimed)) < chunks:
                run(chunk, chunk + 1, *args)

        workers.split(claim_chunks, threads)


def _forward_args(name: str, cell: str, x: np.ndarray, w: np.ndarray) -> _Args:
    dtype = float_dtype(name, "x", x)
    if x.ndim != 3:
        raise ValueError(
            f"{name}: x must be 3-D (batch, steps, gates * units). Received: x.shape={x.shape}"
        )
    check(name, "x", x, dtype=dtype)
    args = _Args(name, cell, w, x.shape[:2], dtype)
    args.array("x", x, (args.batch, args.steps, args.gates * args.units))
    return args


def _backward_args(name: str, cell: str, saved: np.ndarray, w: np.ndarray) -> _Args:
    dtype = float_dtype(name, "saved", saved)
    if saved.ndim != 3:
        raise ValueError(f"{name}: saved must be 3-D. Received: saved.shape={saved.shape}")
    args = _Args(name, cell, w, saved.shape[:2], dtype)
    args.sequence("saved", saved, SAVED_WIDTH[cell])
    return args


def _transposed(w: np.ndarray, scratch) -> np.ndarray:
    """The recurrent kernel transposed, C-contiguous (the backward loops read its rows), in a
    work array of `scratch` when given (a step of a compiled function: no allocation)."""
    wt = work_array(scratch, "recurrent_kernel_t", w.shape[::-1], w.dtype)
    np.copyto(wt, w.T)
    return wt


@kernel
def _mask_steps(h_prev, rmask, k, out):
    """out[b, t] = h_prev[b, t] * rmask[b, k] for every row b and step t."""
    for b in range(out.shape[0]):
        m = rmask[b, k]
        for t in range(out.shape[1]):
            src, dst = h_prev[b, t], out[b, t]
            for j in range(dst.shape[0]):
                dst[j] = src[j] * m[j]


def mask_steps(h_prev: np.ndarray, rmask: np.ndarray, k: int, out: np.ndarray) -> None:
    """`out = h_prev * rmask[:, None, k]`: the states (B, T, U) that gate block k's recurrent
    product read under recurrent dropout (rmask (B, G, U)); `out` C-contiguous (B, T, U).
    `h_prev` may be a strided view (the saved values' h_prev columns).

    Example:
        >>> h = np.ones((1, 2, 2), np.float32)
        >>> rmask = np.array([[[0.0, 2.0]]], np.float32)
        >>> out = np.empty_like(h)
        >>> mask_steps(h, rmask, 0, out)
        >>> out.tolist()
        [[[0.0, 2.0], [0.0, 2.0]]]
    """
    name = "mask_steps"
    dtype = float_dtype(name, "h_prev", h_prev)
    if h_prev.ndim != 3:
        raise ValueError(f"{name}: h_prev must be 3-D. Received: h_prev.shape={h_prev.shape}")
    batch, _, units = h_prev.shape
    if rmask.ndim != 3 or rmask.shape[0] != batch or rmask.shape[2] != units:
        raise ValueError(
            f"{name}: rmask must have shape ({batch}, gates, {units}). Received: "
            f"rmask.shape={rmask.shape}"
        )
    if not 0 <= k < rmask.shape[1]:
        raise ValueError(f"{name}: k must be in [0, {rmask.shape[1]}). Received: k={k}")
    check(name, "rmask", rmask, dtype=dtype)
    check(name, "out", out, dtype=dtype, shape=h_prev.shape, out=True)
    _mask_steps(h_prev, rmask, int(k), out)


def lstm_forward(
    x,
    w,
    h0,
    c0,
    mask,
    rmask,
    reverse,
    zero_output,
    activation,
    recurrent_activation,
    out,
    h_last,
    c_last,
    saved=None,
    bias=None,
) -> None:
    """An LSTM over all steps: writes `out` (B, T, U), `h_last`, `c_last` (B, U) and, when
    given, `saved`. Per step: `a = x[:, t] + bias + h @ w` (`bias` (4U,): the input bias,
    or None; with rmask, block k of `a` from
    `(h * rmask[:, k]) @ w[:, block k]`); `i, f, o = recurrent_activation(a_i, a_f, a_o)`,
    `g = activation(a_c)`; `c = f * c + i * g`; `h = o * activation(c)`.

    Example:
        >>> x = np.zeros((1, 2, 4), np.float32)
        >>> w = np.zeros((1, 4), np.float32)
        >>> h0, c0 = np.zeros((1, 1), np.float32), np.ones((1, 1), np.float32)
        >>> out, h, c = np.empty((1, 2, 1), np.float32), np.empty_like(h0), np.empty_like(c0)
        >>> lstm_forward(x, w, h0, c0, None, None, False, False, "tanh", "sigmoid", out, h, c)
        >>> c.round(4).tolist()  # f = 0.5 twice, g = 0
        [[0.25]]
    """
    name = "lstm_forward"
    args = _forward_args(name, "lstm", x, w)
    for arg, a, is_out in (
        ("h0", h0, False),
        ("c0", c0, False),
        ("h_last", h_last, True),
        ("c_last", c_last, True),
    ):
        args.state(arg, a, is_out)
    args.sequence("out", out, 1, True)
    act, ract = _codes(name, activation, recurrent_activation)
    args.run(
        rnn_loops._lstm_chunks,
        x,
        w,
        args.bias(bias),
        h0,
        c0,
        args.mask(mask),
        args.rmask(rmask),
        bool(reverse),
        bool(zero_output),
        act,
        ract,
        out,
        h_last,
        c_last,
        args.sequence("saved", saved, SAVED_WIDTH["lstm"], True),
    )


def lstm_backward(
    w,
    c0,
    mask,
    rmask,
    saved,
    d_out,
    dh_last,
    dc_last,
    reverse,
    zero_output,
    activation,
    recurrent_activation,
    dx,
    dh0,
    dc0,
    dbias=None,
    scratch=None,
) -> None:
    """The gradients of `lstm_forward` with respect to x (`dx`, (B, T, 4U)), h0 and c0, from
    its `saved` values and the gradients of `out` (None: zero), `h_last` and `c_last`; and,
    when `dbias` (4U,) is given, the input bias's (the sum of `dx` over rows and steps: each
    chunk of ROWS rows sums its own, then the chunks' sums are added in order)."""
    name = "lstm_backward"
    args = _backward_args(name, "lstm", saved, w)
    for arg, a, is_out in (
        ("c0", c0, False),
        ("dh_last", dh_last, False),
        ("dc_last", dc_last, False),
        ("dh0", dh0, True),
        ("dc0", dc0, True),
    ):
        args.state(arg, a, is_out)
    args.sequence("dx", dx, 4, True)
    if dbias is not None:
        args.array("dbias", dbias, (4 * args.units,), True)
    # The input bias's gradient per chunk (no columns: not computed), summed after the run.
    chunks = (args.batch + ROWS - 1) // ROWS
    parts = work_array(
        scratch, "bias_parts", (chunks, 0 if dbias is None else 4 * args.units), args.dtype
    )
    act, ract = _codes(name, activation, recurrent_activation)
    args.run(
        rnn_loops._lstm_grad_chunks,
        _transposed(w, scratch),
        c0,
        args.mask(mask),
        args.rmask(rmask),
        saved,
        args.sequence("d_out", d_out, 1),
        dh_last,
        dc_last,
        bool(reverse),
        bool(zero_output),
        act,
        ract,
        dx,
        dh0,
        dc0,
        parts,
    )
    if dbias is not None:
        np.sum(parts, axis=0, out=dbias)


def gru_forward(
    x,
    w,
    bias,
    h0,
    mask,
    rmask,
    reverse,
    zero_output,
    reset_after,
    activation,
    recurrent_activation,
    out,
    h_last,
    saved=None,
) -> None:
    """A GRU over all steps: writes `out` (B, T, U), `h_last` (B, U) and, when given, `saved`.
    Per step, with `rec = h @ w + bias` (bias (3U,) or None; with rmask, block k from
    `h * rmask[:, k]`): `z, r = recurrent_activation(x_z + rec_z, x_r + rec_r)`; the candidate
    `hh = activation(x_h + r * rec_h)` with `reset_after`, else (bias None)
    `activation(x_h + (r * h) @ w_h)`; `h = z * h + (1 - z) * hh`.

    Example:
        >>> x, w = np.zeros((1, 1, 3), np.float32), np.zeros((1, 3), np.float32)
        >>> h0 = np.ones((1, 1), np.float32)
        >>> out, h = np.empty((1, 1, 1), np.float32), np.empty_like(h0)
        >>> gru_forward(x, w, None, h0, None, None, False, False, True, "tanh", "sigmoid",
        ...             out, h)
        >>> h.tolist()  # z = 0.5, candidate 0
        [[0.5]]
    """
    name = "gru_forward"
    args = _forward_args(name, "gru", x, w)
    args.state("h0", h0)
    args.state("h_last", h_last, True)
    args.sequence("out", out, 1, True)
    if bias is None:
        bias = EMPTY[x.dtype]
    elif not reset_after:
        raise ValueError(
            f"{name}: a recurrent bias needs reset_after=True. Received: "
            f"bias.shape={bias.shape}, reset_after=False"
        )
    else:
        args.array("bias", bias, (3 * args.units,))
    act, ract = _codes(name, activation, recurrent_activation)
    args.run(
        rnn_loops._gru_chunks,
        x,
        w,
        bias,
        h0,
        args.mask(mask),
        args.rmask(rmask),
        bool(reverse),
        bool(zero_output),
        bool(reset_after),
        act,
        ract,
        out,
        h_last,
        args.sequence("saved", saved, SAVED_WIDTH["gru"], True),
    )


def gru_backward(
    w,
    mask,
    rmask,
    saved,
    d_out,
    dh_last,
    reverse,
    zero_output,
    reset_after,
    activation,
    recurrent_activation,
    dx,
    drec_h,
    dh0,
    scratch=None,
) -> None:
    """The gradients of `gru_forward` with respect to x (`dx`, (B, T, 3U)) and h0, and with
    `reset_after` the candidate's recurrent product's (`drec_h`, (B, T, U); else None)."""
    name = "gru_backward"
    args = _backward_args(name, "gru", saved, w)
    args.state("dh_last", dh_last)
    args.state("dh0", dh0, True)
    args.sequence("dx", dx, 3, True)
    if reset_after != (drec_h is not None):
        raise ValueError(
            f"{name}: drec_h is written exactly when reset_after. Received: "
            f"reset_after={reset_after}, drec_h={'None' if drec_h is None else 'an array'}"
        )
    act, ract = _codes(name, activation, recurrent_activation)
    args.run(
        rnn_loops._gru_grad_chunks,
        _transposed(w, scratch),
        args.mask(mask),
        args.rmask(rmask),
        saved,
        args.sequence("d_out", d_out, 1),
        dh_last,
        bool(reverse),
        bool(zero_output),
        bool(reset_after),
        act,
        ract,
        dx,
        args.sequence("drec_h", drec_h, 1, True),
        dh0,
    )


def simple_rnn_forward(
    x, w, h0, mask, rmask, reverse, zero_output, activation, out, h_last, saved=None
) -> None:
    """A simple RNN over all steps: `h = activation(x[:, t] + (h * rmask[:, 0]) @ w)`; writes
    `out` (B, T, U), `h_last` and, when given, `saved`.

    Example:
        >>> x, w = np.ones((1, 2, 1), np.float32), np.full((1, 1), 2.0, np.float32)
        >>> out, h = np.empty((1, 2, 1), np.float32), np.empty((1, 1), np.float32)
        >>> simple_rnn_forward(x, w, np.zeros((1, 1), np.float32), None, None, False, False,
        ...                    "linear", out, h)
        >>> out.ravel().tolist()
        [1.0, 3.0]
    """
    name = "simple_rnn_forward"
    args = _forward_args(name, "simple_rnn", x, w)
    args.state("h0", h0)
    args.state("h_last", h_last, True)
    args.sequence("out", out, 1, True)
    act, _ = _codes(name, activation)
    args.run(
        rnn_loops._simple_chunks,
        x,
        w,
        h0,
        args.mask(mask),
        args.rmask(rmask),
        bool(reverse),
        bool(zero_output),
        act,
        out,
        h_last,
        args.sequence("saved", saved, SAVED_WIDTH["simple_rnn"], True),
    )


def simple_rnn_backward(
    w,
    mask,
    rmask,
    saved,
    d_out,
    dh_last,
    reverse,
    zero_output,
    activation,
    dx,
    dh0,
    scratch=None,
) -> None:
    """The gradients of `simple_rnn_forward` with respect to x (`dx`, (B, T, U)) and h0."""
    name = "simple_rnn_backward"
    args = _backward_args(name, "simple_rnn", saved, w)
    args.state("dh_last", dh_last)
    args.state("dh0", dh0, True)
    args.sequence("dx", dx, 1, True)
    act, _ = _codes(name, activation)
    args.run(
        rnn_loops._simple_grad_chunks,
        _transposed(w, scratch),
        args.mask(mask),
        args.rmask(rmask),
        saved,
        args.sequence("d_out", d_out, 1),
        dh_last,
        bool(reverse),
        bool(zero_output),
        act,
        dx,
        dh0,
    )
