"""The built-in cells' recurrences: one step written with ops (what a cell's `call` runs),
and the whole-sequence seam.

A built-in cell computes a whole sequence through the engine's fused primitives
`lstm_sequence`, `gru_sequence` and `simple_rnn_sequence` (`backend/ops/rnn.py`): the input
projection of every step, `x_proj = (dropout-masked) x @ kernel + input bias`, is one GEMM
`(batch, timesteps, gates * units)` made by the cell, and the recurrence and its backward
through time are one Numba kernel call each. Cells with activations outside
`SUPPORTED_ACTIVATIONS`, and user cells, run step by step (`time_loop.unrolled_loop`) with
the step functions below.

Conventions shared with the engine:
- `outputs` is `(batch, timesteps, units)` in processing order: with `go_backwards` its
  first step is the last time step, as Keras returns it.
- `mask` is a bool `(batch, timesteps)`: a masked step keeps the previous state, and its
  output is the previous output (the initial `h` before any step), or zeros with
  `zero_output_for_mask`. The last states returned are the carried ones.
- `recurrent_mask` is None or `(batch, gates, units)`: the recurrent dropout mask of each
  gate, multiplied into `h` before that gate's recurrent product (one gate for SimpleRNN).
- Gate order: LSTM i, f, c, o; GRU z, r, h (Keras' layouts).
"""

from __future__ import annotations

from backend import ops
from backend.ops.rnn import (  # noqa: F401  (the whole-sequence seam the cells call)
    FUSED_ACTIVATIONS,
    gru_sequence,
    lstm_sequence,
    simple_rnn_sequence,
)

# The activations (by name) the fused primitives take; cells with others run step by step.
SUPPORTED_ACTIVATIONS = frozenset(FUSED_ACTIVATIONS)


def recurrent_product(h, kernels: list, recurrent_masks):
    """`h @ recurrent_kernel`, or with per-gate dropout masks `concat(h * m_g @ kernel_g)`.

    `kernels` is `[recurrent_kernel]` or the kernel split into its gate blocks when
    `recurrent_masks` (one `(batch, units)` mask per gate) is given."""
    if recurrent_masks is None:
        return ops.matmul(h, kernels[0])
    parts = [
        ops.matmul(ops.multiply(h, m), k) for m, k in zip(recurrent_masks, kernels, strict=True)
    ]
    return ops.concatenate(parts, axis=-1)


def gate_kernels(recurrent_kernel, gates: int, recurrent_masks) -> list:
    """The recurrent kernel whole, or split into gate blocks when masks differ per gate."""
    if recurrent_masks is None:
        return [recurrent_kernel]
    return ops.split(recurrent_kernel, gates, axis=1)


# ---- one step ------------------------------------------------------------------------------


def simple_rnn_step(x_proj, h, kernels, recurrent_masks, activation):
    """`h' = activation(x_proj + (h * m) @ recurrent_kernel)`."""
    return activation(ops.add(x_proj, recurrent_product(h, kernels, recurrent_masks)))


def lstm_step(x_proj, h, c, kernels, recurrent_masks, activation, recurrent_activation):
    """One LSTM step from the input projection: returns `(h', c')`.

    `z = x_proj + h @ R`; `i, f, g, o` its four blocks; `c' = sa(f) c + sa(i) a(g)`,
    `h' = sa(o) a(c')` (`a` the activation, `sa` the recurrent activation)."""
    z = ops.add(x_proj, recurrent_product(h, kernels, recurrent_masks))
    i, f, g, o = ops.split(z, 4, axis=-1)
    c = ops.add(
        ops.multiply(recurrent_activation(f), c),
        ops.multiply(recurrent_activation(i), activation(g)),
    )
    h = ops.multiply(recurrent_activation(o), activation(c))
    return h, c


def gru_kernels(recurrent_kernel, recurrent_masks, reset_after: bool) -> list:
    """The recurrent kernel in the pieces `gru_step` multiplies by: whole (`[R]`), or
    `[R_zr, R_h]` without `reset_after`, or one block per gate with recurrent dropout."""
    if recurrent_masks is not None:
        return ops.split(recurrent_kernel, 3, axis=1)
    if reset_after:
        return [recurrent_kernel]
    units = recurrent_kernel.shape[0]
    return ops.split(recurrent_kernel, [2 * units], axis=1)


def gru_step(
    x_proj,
    h,
    kernels,
    recurrent_bias,
    recurrent_masks,
    reset_after,
    activation,
    recurrent_activation,
):
    """One GRU step from the input projection: returns `h'`; `kernels` from `gru_kernels`.

    `z = sa(x_z + h_z @ R_z)`, `r = sa(x_r + h_r @ R_r)`; the candidate is
    `a(x_h + r * (h_h @ R_h + b_h))` with `reset_after`, else `a(x_h + (r * h_h) @ R_h)`;
    `h' = z h + (1 - z) candidate` (`h_g` is `h` times gate g's recurrent dropout mask)."""
    x_z, x_r, x_h = ops.split(x_proj, 3, axis=-1)
    if reset_after:
        inner = recurrent_product(h, kernels, recurrent_masks)
        if recurrent_bias is not None:
            inner = ops.add(inner, recurrent_bias)
        r_z, r_r, r_h = ops.split(inner, 3, axis=-1)
    elif recurrent_masks is None:
        r_z, r_r = ops.split(ops.matmul(h, kernels[0]), 2, axis=-1)
        h_h, kernel_h = h, kernels[1]
    else:
        r_z = ops.matmul(ops.multiply(h, recurrent_masks[0]), kernels[0])
        r_r = ops.matmul(ops.multiply(h, recurrent_masks[1]), kernels[1])
        h_h, kernel_h = ops.multiply(h, recurrent_masks[2]), kernels[2]
    z = recurrent_activation(ops.add(x_z, r_z))
    r = recurrent_activation(ops.add(x_r, r_r))
    if reset_after:
        candidate = activation(ops.add(x_h, ops.multiply(r, r_h)))
    else:
        candidate = activation(ops.add(x_h, ops.matmul(ops.multiply(r, h_h), kernel_h)))
    return ops.add(ops.multiply(z, h), ops.multiply(ops.subtract(1.0, z), candidate))
