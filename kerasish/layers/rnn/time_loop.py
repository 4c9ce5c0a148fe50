"""The recurrent time loop, unrolled at trace time: one step function called once per time
step with ops, masked steps carrying the state through, as Keras' JAX backend does.

Both paths of the recurrent layers use it: the per-step loop over any cell (`RNN`), and the
whole-sequence functions of the built-in cells (`fused.py`).
"""

from __future__ import annotations

from backend import ops


def unrolled_loop(
    step,
    inputs: list,
    initial_states: list,
    mask=None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    carried_state: int = 0,
):
    """Runs `step(input_t, states) -> (output_t, new_states)` over the time steps.

    Args:
        step: the step function; `states` and `new_states` are flat lists of tensors.
        inputs: the per-step inputs in time order (any values `step` accepts).
        initial_states: the flat list of initial state tensors.
        mask: None, or a bool tensor `(batch, timesteps)`: where it is False the step's new
            states are discarded (the previous ones carry through) and its output is zeros
            (`zero_output_for_mask`) or the previous value of state `carried_state`, which
            is the previous output for the built-in cells (before the first step, the
            initial state). When that state's shape differs from the output's, the previous
            output is used instead (zeros before the first step).
        go_backwards: process the steps from last to first.

    Returns:
        `(outputs, final_states)`: the per-step outputs in processing order (reversed time
        with `go_backwards`) and the flat list of final states.
    """
    order = range(len(inputs) - 1, -1, -1) if go_backwards else range(len(inputs))
    step_masks = None
    if mask is not None:
        step_masks = ops.unstack(ops.expand_dims(mask, -1), axis=1)  # T x (batch, 1)
    states = list(initial_states)
    outputs: list = []
    for t in order:
        output, new_states = step(inputs[t], states)
        if len(new_states) != len(states):
            raise ValueError(
                f"An RNN cell returned {len(new_states)} state(s) for {len(states)} given. "
                "A cell's `call` must return `(output, new_states)` with one new state per "
                "state it received."
            )
        if step_masks is not None:
            keep = step_masks[t]
            if zero_output_for_mask:
                masked_output = ops.zeros_like(output)
            else:
                masked_output = _previous_output(output, states, carried_state, outputs)
            output = ops.where(keep, output, masked_output)
            new_states = [
                ops.where(keep, new, old) for new, old in zip(new_states, states, strict=True)
            ]
        outputs.append(output)
        states = list(new_states)
    return outputs, states


def _previous_output(output, states: list, carried_state: int, outputs: list):
    candidate = states[carried_state] if carried_state < len(states) else None
    if candidate is not None and tuple(candidate.shape) == tuple(output.shape):
        return candidate
    return outputs[-1] if outputs else ops.zeros_like(output)
