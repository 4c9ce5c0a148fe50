"""How masks travel between layers, as in Keras 3 (docs/masking.md tells the whole story).

A mask is a boolean tensor stored on the tensor it describes, in the attribute `_mask`
(Keras' `_keras_mask`): `(batch, steps)` for a `(batch, steps, features)` sequence, True for
the steps to use. `Layer.__call__` does three things with it:

1. **Before `call`**, `previous_mask` is the mask the caller gave (`mask=`) or else that of
   the first argument (a list of masks, None where absent, for a list of inputs). A `call`
   that takes `mask` gets `previous_mask` there; one that takes `x_mask` for an argument `x`
   gets `x`'s mask there (an attention layer's `query_mask`, `value_mask`). What the caller
   passed explicitly is never replaced.
2. **After `call`**, a layer that `supports_masking` sets `compute_mask(inputs,
   previous_mask)` on every output that has no mask yet (all outputs already masked: left as
   they are). Outputs are matched to masks in order; a single mask goes to the first output.
3. A layer that does not support masking leaves its outputs unmasked, and warns once when it
   receives a mask that no output carries on (the mask is dropped there).

`supports_masking` defaults to True for a layer that defines its own `compute_mask`, and
`compute_mask`'s default passes `previous_mask` on.
"""

from __future__ import annotations

import warnings

from backend import nest
from backend.tensor import SymbolicTensor, Tensor


def mask_of(x):
    """The mask carried by `x`: a tensor's `_mask`; for a list, tuple or dict of tensors, the
    list of their masks (None where absent); None when nothing carries one."""
    if isinstance(x, (list, tuple, dict)):
        masks = [getattr(v, "_mask", None) for v in nest.flatten(x)]
        return masks if any(m is not None for m in masks) else None
    return getattr(x, "_mask", None)


def fill_masks(layer, args: tuple, kwargs: dict):
    """Fills `kwargs` with the masks `layer.call` takes and the caller did not give: `mask`
    from the first argument, `<arg>_mask` from each argument `<arg>`. Returns
    `previous_mask`: the `mask` the caller gave, else the first argument's mask."""
    given = kwargs.get("mask")
    if given is not None and not layer._call_takes_mask:
        kwargs.pop("mask")  # a call without `mask`: the given mask is only passed on
    previous = given if given is not None else mask_of(args[0])
    if layer._call_takes_mask and given is None and previous is not None:
        kwargs["mask"] = previous
    names = [n for n in layer._call_mask_params if kwargs.get(n) is None]
    if names:
        try:
            bound = layer._call_signature.bind_partial(*args, **kwargs).arguments
        except TypeError:
            return previous  # the call itself reports the bad arguments
        for name in names:
            mask = mask_of(bound.get(name[: -len("_mask")]))
            if mask is not None:
                kwargs[name] = mask
    return previous


def set_output_masks(layer, inputs, outputs, previous_mask) -> None:
    """Puts `layer.compute_mask(inputs, previous_mask)` on the outputs that have none (when
    the layer supports masking); else warns once if a received mask goes no further."""
    flat = [o for o in nest.flatten(outputs) if isinstance(o, (Tensor, SymbolicTensor))]
    if layer.supports_masking:
        if flat and all(o._mask is not None for o in flat):
            return
        masks = layer.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        flat_masks = nest.flatten(masks) if isinstance(masks, (list, tuple)) else [masks]
        for out, mask in zip(flat, flat_masks, strict=False):
            if out._mask is None and mask is not None:
                out._mask = mask
        return
    received = nest.flatten(previous_mask) if isinstance(previous_mask, list) else [previous_mask]
    dropped = any(m is not None for m in received) and all(o._mask is None for o in flat)
    if dropped and not layer._warned_dropped_mask:
        layer._warned_dropped_mask = True
        warnings.warn(
            f"Layer '{layer.name}' ({type(layer).__name__}) received a mask but does not "
            "support masking, so its outputs carry no mask: the layers after it see every "
            "step. See docs/masking.md for the layers that pass masks on.",
            stacklevel=3,
        )
