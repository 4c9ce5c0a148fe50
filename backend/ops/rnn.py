"""Recurrent layers' loops as fused primitives: an LSTM, GRU or simple RNN over a whole
sequence in one op (`backend.kernels.rnn`), with its backward through time as one more.

- `lstm_sequence`, `gru_sequence`, `simple_rnn_sequence`: the public functions (below).
  The caller computes the input projection for all steps as one GEMM (`x @ kernel + bias`,
  gate blocks in Keras' order) and passes it as `x_proj`; the LSTM takes the bias apart
  (`input_bias`), added as its loop reads each step, its gradient summed in the backward.
- Each forward primitive has one more output than the function returns: what its backward
  needs (post-activation gates, states; `kernels.rnn.SAVED_WIDTH`), indexed by input
  position. In a compiled Plan nobody reads it in inference, and `compiler.patterns_rnn`
  then runs the kernel without computing it.
- The gradient primitive (`*_sequence_grad`) runs the backward kernel, which writes
  x_proj's gradient (the gates' pre-activation gradients) and the initial states'; the
  recurrent kernel's gradient is then one GEMM over all steps (`saved`'s h_prev, transposed,
  times x_proj's gradient), or one per gate block with a recurrent dropout mask. Its own
  gradient (second order) is not supported.
- `mask` (B, T) bool and `recurrent_mask` (B, G, U) get no gradient.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..memory import work_array
from ..tensor import Spec, SymbolicTensor
from .base import Op, apply, convert

__all__ = ["FUSED_ACTIVATIONS", "gru_sequence", "lstm_sequence", "simple_rnn_sequence"]

#: The activation names the fused ops support (None means linear); the layers run other
#: activations step by step.
FUSED_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid")

_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
_STATES = {"lstm": ("h0", "c0"), "gru": ("h0",), "simple_rnn": ("h0",)}


def _layout(cell: str, attrs: dict, n_inputs: int | None = None) -> dict:
    """Positions of a forward op's inputs: x_proj, recurrent_kernel, the states, then the
    optional recurrent_bias, input_bias, mask and recurrent_mask that `attrs` says are
    present."""
    names = ["x_proj", "recurrent_kernel", *_STATES[cell]]
    for flag, name in (
        ("has_bias", "recurrent_bias"),
        ("has_input_bias", "input_bias"),
        ("has_mask", "mask"),
        ("has_recurrent_mask", "recurrent_mask"),
    ):
        if attrs.get(flag):
            names.append(name)
    return {name: i for i, name in enumerate(names)}


def _contiguous_inputs(arrays, scratch) -> list:
    """The inputs as C-contiguous arrays (the kernels' layout): each one that is not copied
    into a work array of the step's `scratch`, so a steady run allocates nothing."""
    ins = []
    for position, a in enumerate(arrays):
        if not a.flags.c_contiguous:
            copy = work_array(scratch, f"input{position}", a.shape, a.dtype)
            np.copyto(copy, a)
            a = copy
        ins.append(a)
    return ins


def _dims_match(shape, expected) -> bool:
    return len(shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected, strict=True)
    )


class SequenceOp(Op):
    """A recurrent layer's loop: `(outputs, *final_states, saved)` from `x_proj`, the
    recurrent kernel, the initial states and the optional inputs `_layout` names."""

    def __init__(self, cell: str):
        self.cell = cell
        self.name = f"{cell}_sequence"

    def infer(self, *specs, **attrs):
        cell, name, gates = self.cell, self.name, _GATES[self.cell]
        at = _layout(cell, attrs)
        if len(specs) != len(at):
            raise TypeError(f"{name}: expected {len(at)} inputs. Received: {len(specs)}")
        x, w = specs[at["x_proj"]], specs[at["recurrent_kernel"]]
        if x.dtype not in ("float32", "float64"):
            raise TypeError(
                f"{name} expects a float32 or float64 x_proj. Received: x_proj.dtype={x.dtype}"
            )
        if len(x.shape) != 3:
            raise ValueError(
                f"{name}: x_proj must be 3-D (batch, steps, {gates} * units). "
                f"Received: x_proj.shape={x.shape}"
            )
        units = w.shape[0] if len(w.shape) == 2 else None
        if len(w.shape) != 2 or not _dims_match(
            w.shape, (units, None if units is None else gates * units)
        ):
            raise ValueError(
                f"{name}: recurrent_kernel must have shape (units, {gates} * units). "
                f"Received: recurrent_kernel.shape={w.shape}"
            )
        batch, steps = x.shape[0], x.shape[1]
        width = None if units is None else gates * units
        if not _dims_match(x.shape[2:], (width,)):
            raise ValueError(
                f"{name}: x_proj's last axis must be {gates} * units = {width} "
                f"(the recurrent kernel has {units} units). Received: "
                f"x_proj.shape={x.shape}"
            )
        expected = {s: (batch, units) for s in _STATES[cell]}
        expected.update(
            recurrent_bias=(width,),
            input_bias=(width,),
            mask=(batch, steps),
            recurrent_mask=(batch, gates, units),
        )
        for arg, i in at.items():
            if arg in ("x_proj", "recurrent_kernel"):
                continue
            spec = specs[i]
            if not _dims_match(spec.shape, expected[arg]):
                raise ValueError(
                    f"{name}: {arg} must have shape {expected[arg]}. Received: "
                    f"{arg}.shape={spec.shape}"
                )
            wanted = "bool" if arg == "mask" else x.dtype
            if spec.dtype != wanted:
                raise TypeError(
                    f"{name}: {arg} must be {wanted}. Received: {arg}.dtype={spec.dtype}"
                )
        if w.dtype != x.dtype:
            raise TypeError(
                f"{name}: recurrent_kernel must be {x.dtype} like x_proj. Received: "
                f"recurrent_kernel.dtype={w.dtype}"
            )
        from ..kernels.rnn import SAVED_WIDTH

        saved = None if units is None else SAVED_WIDTH[cell] * units
        states = [Spec((batch, units), x.dtype) for _ in _STATES[cell]]
        return (Spec((batch, steps, units), x.dtype), *states, Spec((batch, steps, saved), x.dtype))

    def forward(self, ctx, *arrays, **attrs):
        b, s, width = arrays[0].shape
        units = arrays[1].shape[0]
        from ..kernels.rnn import SAVED_WIDTH

        dtype = arrays[0].dtype
        outs = [np.empty((b, s, units), dtype)] + [
            np.empty((b, units), dtype) for _ in _STATES[self.cell]
        ]
        saved = np.empty((b, s, SAVED_WIDTH[self.cell] * units), dtype)
        self.forward_into(*arrays, *outs, saved, **attrs)
        return (*outs, saved)

    uses_scratch = True

    def forward_into(self, *arrays, train: bool = True, scratch=None, **attrs) -> None:
        """Computes into the output buffers that follow the inputs in `arrays`; without
        `train`, the saved output is absent and not computed (an inference Plan)."""
        from ..kernels import rnn

        at = _layout(self.cell, attrs)
        ins = _contiguous_inputs(arrays[: len(at)], scratch)
        outs = arrays[len(at) :]
        saved = outs[-1] if train else None
        get = {name: ins[i] for name, i in at.items()}.get
        common = dict(
            mask=get("mask"),
            rmask=get("recurrent_mask"),
            reverse=attrs["go_backwards"],
            zero_output=attrs["zero_output_for_mask"],
        )
        x, w, act = get("x_proj"), get("recurrent_kernel"), attrs["activation"]
        if self.cell == "lstm":
            rnn.lstm_forward(
                x,
                w,
                get("h0"),
                get("c0"),
                **common,
                activation=act,
                recurrent_activation=attrs["recurrent_activation"],
                out=outs[0],
                h_last=outs[1],
                c_last=outs[2],
                saved=saved,
                bias=get("input_bias"),
            )
        elif self.cell == "gru":
            rnn.gru_forward(
                x,
                w,
                get("recurrent_bias"),
                get("h0"),
                **common,
                reset_after=attrs["reset_after"],
                activation=act,
                recurrent_activation=attrs["recurrent_activation"],
                out=outs[0],
                h_last=outs[1],
                saved=saved,
            )
        else:
            rnn.simple_rnn_forward(
                x, w, get("h0"), **common, activation=act, out=outs[0], h_last=outs[1], saved=saved
            )

    def vjp(self, ctx, grads, needed):
        from .creation import zeros_like

        at = _layout(self.cell, ctx.attrs)
        inputs, outputs = ctx.inputs, ctx.outputs
        saved = outputs[-1]
        n_states = len(_STATES[self.cell])
        d_out = grads[0]
        has_d_out = d_out is not None and not _is_zero_fill(d_out)
        d_states = [
            convert(g) if g is not None else zeros_like(o)
            for g, o in zip(grads[1 : 1 + n_states], outputs[1 : 1 + n_states], strict=True)
        ]
        grad_in = [inputs[at["recurrent_kernel"]]]
        if self.cell == "lstm":
            grad_in.append(inputs[at["c0"]])
        grad_in += [inputs[at[k]] for k in ("mask", "recurrent_mask") if k in at]
        grad_in.append(saved)
        if has_d_out:
            grad_in.append(convert(d_out))
        grad_in += d_states
        attrs = {**ctx.attrs, "has_d_outputs": has_d_out}
        results = apply(_GRAD_OPS[self.cell], tuple(grad_in), attrs)
        named = {"x_proj": results[0], "recurrent_kernel": results[1]}
        named.update(zip(_STATES[self.cell], results[2 : 2 + n_states], strict=True))
        extra = iter(results[2 + n_states :])
        for name in ("recurrent_bias", "input_bias"):
            if name in at:
                named[name] = next(extra)
        by_position = {i: named.get(name) for name, i in at.items()}
        return [by_position[i] if i in needed else None for i in range(len(inputs))]


def _is_zero_fill(g) -> bool:
    """Whether a traced gradient is the zeros autodiff makes for an unused output."""
    node = getattr(g, "_node", None)
    return (
        isinstance(g, SymbolicTensor)
        and node is not None
        and node.op.name == "full_like"
        and node.attrs.get("fill_value") == 0
    )


class SequenceGradOp(Op):
    """The gradients of a `SequenceOp` with respect to x_proj, the recurrent kernel, the
    initial states and the recurrent and input biases, from its saved output and its
    outputs' gradients (the input bias's summed inside the backward kernel). Inputs:
    recurrent_kernel, c0 (LSTM), the forward's mask and recurrent_mask when present, saved,
    the gradient of the outputs (when `has_d_outputs`), then of the final states."""

    def __init__(self, cell: str):
        self.cell = cell
        self.name = f"{cell}_sequence_grad"

    def _positions(self, attrs) -> dict:
        names = ["recurrent_kernel"] + (["c0"] if self.cell == "lstm" else [])
        names += [
            k
            for flag, k in (("has_mask", "mask"), ("has_recurrent_mask", "recurrent_mask"))
            if attrs[flag]
        ]
        names.append("saved")
        if attrs["has_d_outputs"]:
            names.append("d_outputs")
        names += ["d_" + s[0] + "_last" for s in _STATES[self.cell]]
        return {name: i for i, name in enumerate(names)}

    def infer(self, *specs, **attrs):
        at = self._positions(attrs)
        w, saved = specs[at["recurrent_kernel"]], specs[at["saved"]]
        batch, steps = saved.shape[0], saved.shape[1]
        units = w.shape[0]
        gates = _GATES[self.cell]
        out = [Spec((batch, steps, gates * units), w.dtype), Spec(w.shape, w.dtype)]
        out += [Spec((batch, units), w.dtype) for _ in _STATES[self.cell]]
        for flag in ("has_bias", "has_input_bias"):
            if attrs.get(flag):
                out.append(Spec((gates * units,), w.dtype))
        return tuple(out)

    def forward(self, ctx, *arrays, **attrs):
        specs = self.infer(*(Spec(a.shape, a.dtype.name) for a in arrays), **attrs)
        outs = [np.empty(s.shape, s.dtype) for s in specs]
        self.forward_into(*arrays, *outs, **attrs)
        return tuple(outs)

    uses_scratch = True

    def forward_into(self, *arrays, scratch=None, **attrs) -> None:
        """The backward kernel into dx (x_proj's gradient) and the states' gradients, then
        the recurrent kernel's (and bias's) gradient as GEMMs over all steps."""
        from ..kernels import rnn

        at = self._positions(attrs)
        ins = _contiguous_inputs(arrays[: len(at)], scratch)
        dx, dw, *rest = arrays[len(at) :]
        get = {name: ins[i] for name, i in at.items()}.get
        w, saved, units = get("recurrent_kernel"), get("saved"), ins[0].shape[0]
        common = dict(
            mask=get("mask"),
            rmask=get("recurrent_mask"),
            saved=saved,
            d_out=get("d_outputs"),
            reverse=attrs["go_backwards"],
            zero_output=attrs["zero_output_for_mask"],
        )
        rmask = get("recurrent_mask")
        if self.cell == "lstm":
            rnn.lstm_backward(
                w,
                get("c0"),
                **common,
                dh_last=get("d_h_last"),
                dc_last=get("d_c_last"),
                activation=attrs["activation"],
                recurrent_activation=attrs["recurrent_activation"],
                dx=dx,
                dh0=rest[0],
                dc0=rest[1],
                dbias=rest[2] if attrs.get("has_input_bias") else None,
                scratch=scratch,
            )
            _kernel_gradient(saved[..., 6 * units :], dx, rmask, range(4), dw, scratch)
        elif self.cell == "gru":
            reset_after = attrs["reset_after"]
            drec_h = None
            if reset_after:
                drec_h = work_array(scratch, "drec_h", dx.shape[:2] + (units,), dx.dtype)
            rnn.gru_backward(
                w,
                **common,
                dh_last=get("d_h_last"),
                reset_after=reset_after,
                activation=attrs["activation"],
                recurrent_activation=attrs["recurrent_activation"],
                dx=dx,
                drec_h=drec_h,
                dh0=rest[0],
                scratch=scratch,
            )
            h_prev = saved[..., 4 * units :]
            _kernel_gradient(
                h_prev, dx[..., : 2 * units], rmask, range(2), dw[:, : 2 * units], scratch
            )
            if reset_after:
                _kernel_gradient(h_prev, drec_h, rmask, range(2, 3), dw[:, 2 * units :], scratch)
            else:  # the candidate's product read r * (h_prev * mask), saved as is
                _kernel_gradient(
                    saved[..., 3 * units : 4 * units],
                    dx[..., 2 * units :],
                    None,
                    range(1),
                    dw[:, 2 * units :],
                    scratch,
                )
            if attrs.get("has_bias"):
                db = rest[1]
                np.sum(dx[..., : 2 * units], axis=(0, 1), out=db[: 2 * units])
                np.sum(drec_h, axis=(0, 1), out=db[2 * units :])
        else:
            rnn.simple_rnn_backward(
                w,
                **common,
                dh_last=get("d_h_last"),
                activation=attrs["activation"],
                dx=dx,
                dh0=rest[0],
                scratch=scratch,
            )
            _kernel_gradient(saved[..., units:], dx, rmask, range(1), dw, scratch)

    def vjp(self, ctx, grads, needed):
        raise NotImplementedError(
            f"{self.cell}_sequence: gradients of its gradient (second order) are not supported."
        )


def _kernel_gradient(h_prev, dgates, rmask, blocks, out, scratch=None) -> None:
    """out = sum over rows and steps of h_prev^T @ dgates: one GEMM over all steps; with a
    recurrent dropout mask, one per gate block k of h_prev * rmask[:, k] (its block of
    dgates; the masked copy in a work array of `scratch`)."""
    rows = h_prev.shape[0] * h_prev.shape[1]
    units = h_prev.shape[2]
    if rmask is None:
        np.matmul(h_prev.reshape(rows, units).T, dgates.reshape(rows, out.shape[1]), out=out)
        return
    from ..kernels import rnn

    masked = work_array(scratch, "masked_h_prev", h_prev.shape, h_prev.dtype)
    for j, k in enumerate(blocks):
        rnn.mask_steps(h_prev, rmask, k, masked)
        d = dgates[..., j * units : (j + 1) * units].reshape(rows, units)
        np.matmul(masked.reshape(rows, units).T, d, out=out[:, j * units : (j + 1) * units])


_GRAD_OPS = {cell: SequenceGradOp(cell) for cell in _GATES}
_OPS = {cell: SequenceOp(cell) for cell in _GATES}


def _check_activation(name: str, arg: str, value) -> str:
    value = "linear" if value is None else value
    if value not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"{name}: {arg} must be one of {FUSED_ACTIVATIONS} (other activations "
            f"run step by step). Received: {arg}={value!r}"
        )
    return value


def _sequence(
    cell,
    x_proj,
    recurrent_kernel,
    states,
    recurrent_bias,
    mask,
    recurrent_mask,
    attrs,
    input_bias=None,
):
    name = f"{cell}_sequence"
    x = convert(x_proj)
    if not dt.is_float(x.dtype):
        from .elementwise import cast

        x = cast(x, dt.config.floatx())
    inputs = [x, convert(recurrent_kernel, x.dtype)] + [convert(s, x.dtype) for s in states]
    attrs = dict(attrs)
    for arg in ("activation", "recurrent_activation"):
        if arg in attrs:
            attrs[arg] = _check_activation(name, arg, attrs[arg])
    attrs["has_bias"] = recurrent_bias is not None
    if recurrent_bias is not None:
        inputs.append(convert(recurrent_bias, x.dtype))
    attrs["has_input_bias"] = input_bias is not None
    if input_bias is not None:
        inputs.append(convert(input_bias, x.dtype))
    attrs["has_mask"] = mask is not None
    if mask is not None:
        inputs.append(convert(mask, "bool"))
    attrs["has_recurrent_mask"] = recurrent_mask is not None
    if recurrent_mask is not None:
        inputs.append(convert(recurrent_mask, x.dtype))
    for flag in ("go_backwards", "zero_output_for_mask", "reset_after"):
        if flag in attrs:
            attrs[flag] = bool(attrs[flag])
    return apply(_OPS[cell], tuple(inputs), attrs)[:-1]


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
    input_bias=None,
):
    """An LSTM layer's loop over all steps, fused: returns `(outputs, h_last, c_last)`.

    `x_proj` (B, T, 4U) is the input projection `x @ kernel` of every step, gate blocks i,
    f, c, o, with the bias added or, better, given as `input_bias` (4U,) (the loop adds it
    as it reads each step, and its gradient is summed inside the backward loop: two passes
    over (B, T, 4U) fewer); `recurrent_kernel` (U, 4U); `h0`, `c0` (B, U). Per step:
    `i, f, o = recurrent_activation(...)`, `g = activation(...)` of
    `x_proj[:, t] + input_bias + h @ R`,
    `c = f * c + i * g`, `h = o * activation(c)`. `mask` (B, T) bool: a masked step keeps the
    states; its output is the previous state (h0 at the first step) or, with
    `zero_output_for_mask`, zeros. `go_backwards`: steps run last to first, `outputs` in
    processing order. `recurrent_mask` (B, 4, U): recurrent dropout, `h * recurrent_mask[:,
    k]` feeding gate k's product. Activations: one of `FUSED_ACTIVATIONS`.

    `h_last`/`c_last` are the states after the last step (carried through masked steps).
    Keras' layer returns `outputs[:, -1]` without `return_sequences`: that is `h_last`
    except with `zero_output_for_mask` and a masked last step (then zeros), so `h_last` can
    stand for it otherwise, and the gradient then skips `outputs` entirely.

    Example:
        >>> import numpy as np
        >>> from kerasish import ops
        >>> x = np.zeros((1, 3, 4), np.float32)
        >>> out, h, c = ops.lstm_sequence(x, np.zeros((1, 4), np.float32),
        ...                               np.zeros((1, 1), np.float32), np.ones((1, 1), np.float32))
        >>> c.numpy().tolist()  # f = 0.5 three times, g = 0
        [[0.125]]
    """
    attrs = dict(
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
        activation=activation,
        recurrent_activation=recurrent_activation,
    )
    return _sequence(
        "lstm", x_proj, recurrent_kernel, (h0, c0), None, mask, recurrent_mask, attrs, input_bias
    )


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
    """A GRU layer's loop over all steps, fused: returns `(outputs, h_last)`.

    `x_proj` (B, T, 3U): `x @ kernel` plus the input bias, gate blocks z, r, h;
    `recurrent_kernel` (U, 3U); `h0` (B, U). With `reset_after` (Keras' default),
    `recurrent_bias` (3U,) is row 1 of Keras' (2, 3U) bias, or None, and the candidate is
    `activation(x_h + r * (h @ R_h + b_h))`; without, `recurrent_bias` must be None and the
    candidate is `activation(x_h + (r * h) @ R_h)`. `h = z * h + (1 - z) * candidate`.
    `mask`, `go_backwards`, `zero_output_for_mask` as `lstm_sequence`; `recurrent_mask`
    (B, 3, U) multiplies h before gate k's product (without `reset_after`, the candidate's
    product reads `r * (h * recurrent_mask[:, 2])`), as Keras' GRUCell.

    Example:
        >>> import numpy as np
        >>> from kerasish import ops
        >>> out, h = ops.gru_sequence(np.zeros((1, 2, 3), np.float32),
        ...                           np.zeros((1, 3), np.float32), None,
        ...                           np.ones((1, 1), np.float32))
        >>> h.numpy().tolist()  # z = 0.5 twice, candidate 0
        [[0.25]]
    """
    if recurrent_bias is not None and not reset_after:
        raise ValueError(
            "gru_sequence: recurrent_bias must be None when reset_after=False (the "
            "whole bias goes into x_proj). Received: a recurrent_bias"
        )
    attrs = dict(
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
        reset_after=reset_after,
        activation=activation,
        recurrent_activation=recurrent_activation,
    )
    return _sequence(
        "gru", x_proj, recurrent_kernel, (h0,), recurrent_bias, mask, recurrent_mask, attrs
    )


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
    """A SimpleRNN layer's loop over all steps, fused: returns `(outputs, h_last)`, with
    `h = activation(x_proj[:, t] + h @ recurrent_kernel)`; `x_proj` (B, T, U), `h0` (B, U).
    `mask`, `go_backwards`, `zero_output_for_mask` as `lstm_sequence`; `recurrent_mask`
    (B, 1, U) multiplies h before the product.

    Example:
        >>> import numpy as np
        >>> from kerasish import ops
        >>> out, h = ops.simple_rnn_sequence(np.ones((1, 3, 1), np.float32),
        ...                                  np.ones((1, 1), np.float32),
        ...                                  np.zeros((1, 1), np.float32), activation="linear")
        >>> out.numpy().ravel().tolist()
        [1.0, 2.0, 3.0]
    """
    attrs = dict(
        go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask, activation=activation
    )
    return _sequence(
        "simple_rnn", x_proj, recurrent_kernel, (h0,), None, mask, recurrent_mask, attrs
    )
