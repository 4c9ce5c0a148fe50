"""Cross-op fusions of a training step's convolutions (`patterns.find` calls
`trained_fusions` last, over the fusions it found):

- a conv + max pool trained as one, recording the pool's argmax (`_trained_pool`), with its
  backward from that argmax: the direct kernel's kernel and bias gradients
  (`_filter_from_argmax`), a Winograd conv's gradients (`_winograd_grads` with `pooled`), or
  the pool's gradient rebuilt (`max_unpool2d`);
- a Winograd conv's input, kernel and bias gradients as one call (`_winograd_grads`);
- a max pool over tiling windows, alone, trained with its argmax (`_pool_with_argmax`);
- batch normalization in training followed by relu as one call writing relu(y)
  (`_batch_norm_relus`): y is never written nor read again, a pass over the activation
  each. (relu's gradient stays its own pass: masking the gradient inside the batch norm's
  gradient kernels, from y's sign recomputed from x, measured slower than the separate
  pass, the masked select running as branches.)
"""

from __future__ import annotations

import numpy as np

from .patterns import Fused, Hidden, _leading_sum, _same_geometry


def trained_fusions(nodes: list, found: list, readers: dict, consumers: dict,
                    groups: dict) -> list:  # fmt: skip
    """`found` (the fusions `patterns.find` made) with the conv + max pool pairs trained as
    one, the other max pools trained with their argmax, the Winograd gradient calls and the
    batch norm + relu pairs added, and what they replace taken out."""
    position = {id(n): i for i, n in enumerate(nodes)}
    pooled, pools_taken = set(), set()
    for fused in [f for f in found if f.name.startswith("conv+")]:
        trained = _trained_pool(fused, found, readers, consumers, position)
        if trained is not None:
            forward, backward, dropped = trained
            found = [f for f in found if all(f is not d for d in dropped)]
            found += [forward, backward]
            pooled.add(id(next(n for n in forward.replaced if n.op.name == "conv")))
            pools_taken.add(id(forward.anchor))
    anchors = {id(f.anchor) for f in found}
    for pool in nodes:
        if pool.op.name != "max_pool" or id(pool) in pools_taken or id(pool) in anchors:
            continue
        trained = _pool_with_argmax(pool, found, readers, consumers)
        if trained is not None:
            forward, backward, dropped = trained
            found = [f for f in found if all(f is not d for d in dropped)]
            found += [forward, backward]
    for conv in nodes:
        if conv.op.name != "conv" or id(conv) in pooled:
            continue
        for dy in _output_gradients(conv, readers):
            dropped: list = []
            grads = _winograd_grads(conv, dy, found, readers, consumers, position, dropped)
            if grads is not None:
                found = [f for f in found if all(f is not d for d in dropped)]
                found.append(grads)
                break
    return found + _batch_norm_relus(nodes, found, readers, consumers, groups)


def _output_gradients(conv, readers: dict) -> list:
    """The values that may be the output gradient of `conv(x, k)`: those its kernel
    gradient `conv_filter_grad(x, dy)` or its input gradient `conv_transpose(dy, k)` would
    read (another conv sharing x or k has its own; `_conv_grads_of` tells them apart)."""
    x, k = conv.inputs
    found = [n.inputs[1] for n in readers.get(id(x), [])
             if n.op.name == "conv_filter_grad" and n.inputs[0] is x]  # fmt: skip
    found += [n.inputs[0] for n in readers.get(id(k), [])
              if n.op.name == "conv_transpose" and n.inputs[1] is k]  # fmt: skip
    unique: dict = {}
    for dy in found:
        unique.setdefault(id(dy), dy)
    return list(unique.values())


def _trained_pool(fused: Fused, found: list, readers: dict, consumers: dict, position: dict):
    """A conv epilogue `fused` on a `conv_pool_path`, read by a max pool and by that pool's
    gradient (through relu's, when the epilogue has a relu) -> (forward, backward, the
    fusions they replace), else None. The forward is the conv + pool recording the argmax;
    the backward is the conv's kernel (and bias) gradient from the argmax when the pool's
    gradient feeds nothing else and the conv runs direct, the conv's gradients from the
    pool's gradient and the argmax on Winograd (`_winograd_grads`), else the pool's gradient
    from the argmax (`max_unpool2d`), which the conv's gradients then read as before."""
    y = fused.outputs[0]
    conv = next((n for n in fused.replaced if n.op.name == "conv"), None)
    if conv is None or len(y.shape) != 4:
        return None
    relu = fused.anchor.op.name == "relu"
    pooling = _pool_and_gradient(y, found, readers, consumers)
    if pooling is None or (pooling[2] is not None) != relu:
        return None
    pool, pool_grad, masked, dy = pooling
    from ..ops import conv_primitives as cp

    x, k = conv.inputs
    attrs, pool_attrs = conv.attrs, pool.attrs
    path = cp.conv_pool_path(tuple(x.shape), x.dtype, tuple(k.shape), attrs["strides"],
                             attrs["dilation"], attrs["pads"], attrs["groups"],
                             pool_attrs["pool"], pool_attrs["strides"],
                             pool_attrs["padding"])  # fmt: skip
    if path is None:
        return None
    pooled = pool.outputs[0]
    argmax = Hidden(tuple(pooled.shape), "uint8")
    conv_scratch: dict = {}
    pool_args = {"pool": pool_attrs["pool"], "pool_strides": pool_attrs["strides"],
                 "pool_padding": pool_attrs["padding"]}  # fmt: skip

    def forward(*arrays):
        *ins, out, idx = arrays
        bias = ins[2].reshape(-1) if len(ins) == 3 else None
        if not cp.conv_pool_into(ins[0], ins[1], out, **attrs, **pool_args, scratch=conv_scratch,
                                 bias=bias, relu=relu, argmax=idx):  # fmt: skip
            raise AssertionError("internal error: a fused conv + max pool did not run fused")

    forward_step = Fused(fused.name + "+max_pool+argmax", forward, fused.inputs,
                         [pooled, argmax], anchor=pool,
                         replaced=[*fused.replaced, fused.anchor])  # fmt: skip
    dropped = [fused] + ([masked] if masked is not None else [])
    grad_anchor = pool_grad if masked is None else masked.anchor
    g = pool_grad.inputs[1]
    backward_step = None
    if path == "direct":
        backward_step = _filter_from_argmax(x, argmax, g, dy, conv, pool_attrs["pool"], found,
                                            readers, consumers, position, dropped)  # fmt: skip
        if backward_step is not None:
            backward_step.replaced += [pool_grad, grad_anchor]
    else:
        backward_step = _winograd_grads(conv, dy, found, readers, consumers, position, dropped,
                                        pooled=(argmax, g))  # fmt: skip
        if backward_step is not None:
            name = "max_pool_grad" + ("+relu_grad" if relu else "") + "+"
            backward_step.name = name + backward_step.name
            backward_step.replaced = [pool_grad, *backward_step.replaced, backward_step.anchor]
            backward_step.anchor = grad_anchor
    if backward_step is None:
        backward_step = _unpool(pool, pool_grad, masked, dy, argmax)
    return forward_step, backward_step, dropped


def _pool_and_gradient(y, found: list, readers: dict, consumers: dict):
    """(pool, pool_grad, masked, dy) when `y` is read by exactly a max pool and that pool's
    gradient, and, through relu's gradient (`greater(y, 0)`), the `masked` pool-gradient
    fusion of `patterns` when it is there (else None): dy is the gradient they give `y`'s
    producer. Else None."""
    by_name: dict = {}
    for node in readers.get(id(y), []):
        by_name.setdefault(node.op.name, []).append(node)
    pools, grads = by_name.pop("max_pool", []), by_name.pop("max_pool_grad", [])
    greater = by_name.pop("greater", [])
    if by_name or len(pools) != 1 or len(grads) != 1 or len(greater) > 1:
        return None
    pool, pool_grad = pools[0], grads[0]
    if consumers.get(id(y), 0) != 2 + len(greater) or pool_grad.attrs != pool.attrs:
        return None
    if pool_grad.inputs[0] is not y:
        return None
    if not greater:
        return pool, pool_grad, None, pool_grad.outputs[0]
    masked = next((f for f in found if len(f.replaced) == 1 and f.replaced[0] is pool_grad
                   and f.inputs[0] is y), None)  # fmt: skip
    if masked is None or masked.anchor.inputs[0] is not greater[0].outputs[0]:
        return None
    return pool, pool_grad, masked, masked.outputs[0]


def _unpool(pool, pool_grad, masked, dy, argmax) -> Fused:
    """The pool's (and relu's, with `masked`) gradient `dy` from the forward's `argmax`
    (`kernels.pool.max_unpool2d`), at the place of the gradient it replaces."""
    from ..kernels import pool as kpool

    window = tuple(pool.attrs["pool"])

    def unpool(idx, g, out):
        kpool.max_unpool2d(g, idx, window, out)

    name = "max_pool_grad" + ("+relu_grad" if masked is not None else "") + "+argmax"
    anchor = pool_grad if masked is None else masked.anchor
    return Fused(name, unpool, [argmax, pool_grad.inputs[1]], [dy], anchor=anchor,
                 replaced=[pool_grad])  # fmt: skip


def _pool_with_argmax(pool, found: list, readers: dict, consumers: dict):
    """A max pool over non-overlapping windows (strides = pool, "valid", under 255 cells)
    whose input is read only by it and its gradient (through relu's, perhaps): (forward,
    backward, the fusions they replace), the forward recording each window's argmax
    (`kernels.pool.max_pool2d_argmax`) and the backward routing the pool's gradient by it
    (`max_unpool2d`), the input not read again. Else None."""
    y = pool.inputs[0]
    attrs = pool.attrs
    window = tuple(attrs["pool"])
    if (len(y.shape) != 4 or any(s is None for s in y.shape[1:])
            or tuple(attrs["strides"]) != window or attrs["padding"] != "valid"
            or window[0] * window[1] >= 255
            or str(y.dtype) not in ("float32", "float64")):  # fmt: skip
        return None
    pooling = _pool_and_gradient(y, found, readers, consumers)
    if pooling is None or pooling[0] is not pool:
        return None
    _, pool_grad, masked, dy = pooling
    from ..kernels import pool as kpool

    pooled = pool.outputs[0]
    argmax = Hidden(tuple(pooled.shape), "uint8")
    relu = masked is not None

    def forward(x, out, idx):
        kpool.max_pool2d_argmax(x, window, out, idx, relu_mask=relu)

    forward_step = Fused("max_pool+argmax", forward, [y], [pooled, argmax], anchor=pool)
    backward_step = _unpool(pool, pool_grad, masked, dy, argmax)
    return forward_step, backward_step, [masked] if masked is not None else []


def _filter_from_argmax(x, argmax, g, dy, conv, pool, found, readers, consumers, position,
                        dropped):  # fmt: skip
    """When `dy` (the conv's output gradient) feeds only the conv's kernel gradient (and its
    bias sum): one call computing them from the pool's gradient `g` and the `argmax`
    (appending the kernel-gradient fusion it replaces to `dropped`), else None."""
    dy_readers = readers.get(id(dy), [])
    filters = [n for n in dy_readers if n.op.name == "conv_filter_grad"]
    if len(filters) != 1 or consumers.get(id(dy), 0) != len(dy_readers):
        return None
    filter_grad = filters[0]
    if filter_grad.inputs[0] is not x or not _same_geometry(conv, filter_grad):
        return None
    paired = next((f for f in found if f.name == "conv_filter_grad+bias_grad"
                   and filter_grad in (f.anchor, *f.replaced)), None)  # fmt: skip
    if len(dy_readers) != (2 if paired else 1):
        return None
    from ..ops import conv_primitives as cp

    scratch: dict = {}
    geometry = {key: conv.attrs[key] for key in ("strides", "dilation", "pads")}
    kernel_size = filter_grad.attrs["kernel_size"]

    def backward(x, idx, g, out, bias_out=None):
        cp.conv_pool_filter_grad_into(x, idx, g, out, kernel_size, **geometry, pool=pool,
                                      scratch=scratch, bias_out=bias_out)  # fmt: skip

    parts = [filter_grad] + ([] if paired is None else [paired.anchor, *paired.replaced])
    gradients = sorted(set(parts), key=lambda n: position[id(n)])
    if paired is not None:
        dropped.append(paired)
    return Fused("conv_filter_grad" + ("+bias_grad" if paired else "") + "+max_pool_grad",
                 backward, [x, argmax, g], paired.outputs if paired else [filter_grad.outputs[0]],
                 anchor=gradients[0], replaced=list(gradients[1:]))  # fmt: skip


def _conv_grads_of(conv, dy, readers: dict, consumers: dict):
    """{"dx": conv_transpose(dy, k), "dk": conv_filter_grad(x, dy), "db": sum(dy, (0, 1,
    2))} (those present) when they are everything that reads `dy`, the output gradient of
    `conv(x, k)`, with the conv's geometry; else None."""
    x, k = conv.inputs
    dy_readers = readers.get(id(dy), [])
    if not dy_readers or consumers.get(id(dy), 0) != len(dy_readers):
        return None
    parts: dict = {}
    for node in dy_readers:
        name = node.op.name
        if (name == "conv_transpose" and node.inputs[0] is dy and node.inputs[1] is k
                and tuple(node.outputs[0].shape) == tuple(x.shape)):  # fmt: skip
            key = "dx"
        elif name == "conv_filter_grad" and node.inputs[0] is x and node.inputs[1] is dy:
            key = "dk"
        elif _leading_sum(node):
            key = "db"
        else:
            return None
        if key in parts or (key != "db" and not _same_geometry(conv, node)):
            return None
        parts[key] = node
    return parts


def _winograd_grads(conv, dy, found, readers, consumers, position, dropped, pooled=None):
    """One call for the gradients of a Winograd `conv` that read its output gradient `dy`
    (`_conv_grads_of`), sharing the transform of the gradient's tiles
    (`conv_winograd.winograd_backward`), else None. With `pooled` = (argmax, g), `dy` is the
    gradient a 2x2 max pool (and relu) route from the pool's gradient g and the forward's
    argmax, and the call makes it from them instead (dy is never built); without, it fires
    only when the input and kernel gradients are both wanted and each would run on Winograd
    alone. Appends the kernel-gradient fusion it replaces to `dropped`."""
    parts = _conv_grads_of(conv, dy, readers, consumers)
    if parts is None or ("dx" not in parts and "dk" not in parts):
        return None
    if pooled is None and not ("dx" in parts and "dk" in parts):
        return None
    from ..ops import conv_primitives as cp
    from ..ops import conv_winograd as cw

    x, k = conv.inputs
    attrs = conv.attrs
    if x.dtype != k.dtype or x.dtype != dy.dtype:
        return None
    dx_ok, dk_ok = cp.winograd_grads_path(tuple(x.shape), x.dtype, tuple(k.shape),
                                          attrs["strides"], attrs["dilation"], attrs["pads"],
                                          attrs["groups"])  # fmt: skip
    if ("dx" in parts and not dx_ok) or ("dk" in parts and not (dk_ok or pooled is not None)):
        return None
    paired = None
    if "dk" in parts:
        paired = next((f for f in found if f.name == "conv_filter_grad+bias_grad"
                       and parts["dk"] in (f.anchor, *f.replaced)), None)  # fmt: skip
    if paired is not None:
        dropped.append(paired)
    if pooled is None:
        inputs = {"dy": dy}
    else:
        inputs = {"argmax": pooled[0], "pooled_grad": pooled[1]}
    if "dk" in parts:
        inputs["x"] = x
    if "dx" in parts:
        inputs["k"] = k
    outputs = {key: parts[key].outputs[0] for key in ("dx", "dk", "db") if key in parts}
    in_names, out_names = list(inputs), list(outputs)
    geometry = (tuple(x.shape), tuple(k.shape), (attrs["pads"][0][0], attrs["pads"][1][0]),
                tuple(dy.shape[1:3]))  # fmt: skip
    scratch: dict = {}

    def run(*arrays):
        named = dict(zip(in_names + out_names, arrays, strict=True))
        cw.winograd_backward(*geometry, scratch=scratch, **named)

    nodes = sorted(parts.values(), key=lambda n: position[id(n)])
    return Fused("conv_grads[" + ",".join(out_names) + "]", run, list(inputs.values()),
                 list(outputs.values()), anchor=nodes[0], replaced=nodes[1:])  # fmt: skip


def _batch_norm_relus(nodes: list, found: list, readers: dict, consumers: dict,
                      groups: dict) -> list:  # fmt: skip
    """For each `batch_norm_train` whose y only a lone relu reads (an elementwise group of
    its own): one call writing relu(y) (`kernels.norm.batch_norm_train` with `relu`) and the
    statistics, at the batch norm's place. Float32 and float64 only (the kernels' dtypes)."""
    taken = {id(n) for f in found for n in (f.anchor, *f.replaced)}
    fusions = []
    for bn in nodes:
        if bn.op.name != "batch_norm_train" or id(bn) in taken:
            continue
        y = bn.outputs[0]
        relus = readers.get(id(y), [])
        if len(relus) != 1 or consumers.get(id(y), 0) != 1 or relus[0].op.name != "relu":
            continue
        relu = relus[0]
        members, extra = groups.get(id(relu), (None, None))
        if members is None or len(members) != 1 or members[0] is not relu or extra:
            continue
        if id(relu) in taken:
            continue
        r = relu.outputs[0]
        if (str(y.dtype) not in ("float32", "float64") or r.dtype != y.dtype
                or tuple(r.shape) != tuple(y.shape)):  # fmt: skip
            continue
        fusions.append(_batch_norm_relu_forward(bn, r))
    return fusions


def _batch_norm_relu_forward(bn, r) -> Fused:
    """relu(batch_norm_train(x, gamma, beta)[0]) and its mean and var as one call."""
    from ..kernels import norm

    axis = int(bn.attrs["axis"]) % len(bn.inputs[0].shape)
    epsilon = float(bn.attrs["epsilon"])

    def run(x, gamma, beta, out, mean, var):
        arrays = (x, gamma, beta, out, mean, var)
        if all(a.flags.c_contiguous and a.dtype == x.dtype for a in arrays):
            norm.batch_norm_train(x, gamma, beta, axis, epsilon, out, mean, var, relu=True)
            return
        bn.op.forward_into(x, gamma, beta, out, mean, var, axis=axis, epsilon=epsilon)
        np.maximum(out, 0, out=out)  # a strided view: the op's own path, then relu

    return Fused("batch_norm_train+relu", run, list(bn.inputs), [r, *bn.outputs[1:]],
                 anchor=bn, replaced=[r._node])  # fmt: skip
