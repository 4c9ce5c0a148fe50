"""Whole-sequence recurrences of the built-in cells: the one seam where a sequence is
computed at once.

`lstm_sequence`, `gru_sequence` and `simple_rnn_sequence` have the signatures of the
engine's fused primitives (`backend/ops/rnn.py`): they take the input projection of every
step, `x_proj = (dropout-masked) x @ kernel + input bias`, computed by the cell as one GEMM
`(batch, timesteps, gates * units)`, and run the recurrence. Here they are written with
ops, unrolled over the steps (`time_loop.unrolled_loop`), so they are differentiable like
any composite. The built-in cells reach them only through `BaseRNNCell.fused_sequence`, and
only for the activations in `SUPPORTED_ACTIVATIONS`: importing the engine's three functions
and its `FUSED_ACTIVATIONS` (as `SUPPORTED_ACTIVATIONS`) in place of the definitions below
makes every built-in layer use the primitives, with the same results.

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

from ... import activations
from .time_loop import unrolled_loop

# The activations (by name) the whole-sequence functions take; cells with others run step
# by step. The engine's fused primitives decide this set when they replace these functions.
SUPPORTED_ACTIVATIONS = frozenset({"tanh", "sigmoid"})


def _activation(identifier):
    return activations.get(identifier)


def _per_gate(recurrent_mask, gates: int):
    if recurrent_mask is None:
        return None
    return ops.unstack(recurrent_mask, num=gates, axis=1)


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


# ---- whole sequences (the engine's signatures) -----------------------------------------------


# The most steps that read one copy of a recurrent weight (see `per_step`).
STEPS_PER_COPY = 16


def per_step(weight, steps: int) -> list:
    """The weight to read at each of `steps` steps: one copy per `STEPS_PER_COPY` steps.

    Autodiff adds up the gradients a tensor gets from its readers one by one, and the
    compiler fuses such a chain of adds into one kernel with an input per reader, compiled
    anew for each chain length: read by every step of a long sequence, a recurrent kernel
    would cost a compile of seconds per sequence length (14 s for 60 steps). With copies
    (one broadcast, split), each chain has at most `STEPS_PER_COPY` terms and the copies'
    gradients are summed by one reduction."""
    if weight is None or steps <= STEPS_PER_COPY:
        return [weight] * steps
    copies = -(-steps // STEPS_PER_COPY)
    tiled = ops.broadcast_to(ops.expand_dims(weight, 0), (copies, *weight.shape))
    return [copy for copy in ops.unstack(tiled, axis=0) for _ in range(STEPS_PER_COPY)][:steps]


def _over_steps(step, x_proj, states, mask, go_backwards, zero_output_for_mask):
    """`step` over the time steps of `x_proj`: the stacked outputs and the final states."""
    outputs, final = unrolled_loop(
        step, ops.unstack(x_proj, axis=1), states, mask, go_backwards, zero_output_for_mask
    )
    return ops.stack(outputs, axis=1), final


def lstm_sequence(
    x_proj,
    recurrent_kernel,
    h0,
    c0,
    mask=None,
    recurrent_mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    activation="tanh",
    recurrent_activation="sigmoid",
):
    """An LSTM over a whole sequence: `(outputs, h_last, c_last)`; `x_proj` is
    `(batch, timesteps, 4 * units)` (see the module docstring)."""
    act, rec_act = _activation(activation), _activation(recurrent_activation)
    masks = _per_gate(recurrent_mask, 4)
    kernels = iter(per_step(recurrent_kernel, x_proj.shape[1]))

    def step(x_t, states):
        step_kernels = gate_kernels(next(kernels), 4, masks)
        h, c = lstm_step(x_t, states[0], states[1], step_kernels, masks, act, rec_act)
        return h, [h, c]

    outputs, (h, c) = _over_steps(step, x_proj, [h0, c0], mask, go_backwards, zero_output_for_mask)
    return outputs, h, c


def gru_sequence(
    x_proj,
    recurrent_kernel,
    recurrent_bias,
    h0,
    mask=None,
    recurrent_mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    reset_after=True,
    activation="tanh",
    recurrent_activation="sigmoid",
):
    """A GRU over a whole sequence: `(outputs, h_last)`; `x_proj` is
    `(batch, timesteps, 3 * units)`, `recurrent_bias` the bias row 1 with `reset_after`
    (None without a bias, and always None when `reset_after=False`)."""
    act, rec_act = _activation(activation), _activation(recurrent_activation)
    masks = _per_gate(recurrent_mask, 3)
    kernels = iter(per_step(recurrent_kernel, x_proj.shape[1]))
    biases = iter(per_step(recurrent_bias, x_proj.shape[1]))

    def step(x_t, states):
        step_kernels = gru_kernels(next(kernels), masks, reset_after)
        h = gru_step(x_t, states[0], step_kernels, next(biases), masks, reset_after, act, rec_act)
        return h, [h]

    outputs, (h,) = _over_steps(step, x_proj, [h0], mask, go_backwards, zero_output_for_mask)
    return outputs, h


def simple_rnn_sequence(
    x_proj,
    recurrent_kernel,
    h0,
    mask=None,
    recurrent_mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    activation="tanh",
):
    """A SimpleRNN over a whole sequence: `(outputs, h_last)`; `x_proj` is
    `(batch, timesteps, units)`."""
    act = _activation(activation)
    masks = _per_gate(recurrent_mask, 1)
    kernels = iter(per_step(recurrent_kernel, x_proj.shape[1]))

    def step(x_t, states):
        h = simple_rnn_step(x_t, states[0], [next(kernels)], masks, act)
        return h, [h]

    outputs, (h,) = _over_steps(step, x_proj, [h0], mask, go_backwards, zero_output_for_mask)
    return outputs, h
