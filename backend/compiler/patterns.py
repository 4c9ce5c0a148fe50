"""Cross-op fusions: small node patterns a Plan runs as one call instead of several.

Elementwise trees fuse by themselves (`fusion.py`); these are the patterns where a heavy op
and its neighbours share one pass over memory:

- **conv epilogue**: `relu(conv(x, k) + b)` (either the bias or the relu may be absent)
  runs as one convolution whose output pass adds the bias and clamps, when nothing else
  reads the raw convolution.
- **conv bias gradient**: `sum(g, axis=(0, 1, 2))` beside `conv_filter_grad(x, g)` (a conv
  layer's bias and kernel gradients, both reductions of the same output gradient) runs as
  one call writing both.
- **relu-masked max-pool gradient**: `where(y > 0, max_pool_grad(y, g), 0)` (relu's
  gradient, written with its output `y`, after the gradient of a max pool over `y`) runs as
  one max-pool gradient that routes a window's gradient only when its max is positive:
  the routed cell is the window's max, which is positive exactly when relu passed it.
- **conv then max pool** (inference): a conv epilogue read only by a max pool runs as one
  direct kernel that pools each block of convolution rows as it computes it (a small
  kernel, windows that tile the output), else by chunks of images, convolution into a
  cache-sized buffer then the pool; either way the full activation (44 MB for the MNIST
  convnet's first layer at batch 512) never goes to memory.

- **conv then max pool, trained**: when that pool's gradient (with relu's, if any) feeds
  only the conv's kernel (and bias) gradient, as in a network's first layer, whose input
  needs no gradient: the forward runs as the same direct kernel, recording each window's
  argmax (a byte per pooled value) in a buffer of its own, and the backward as one kernel
  gradient from the pooled gradient and that argmax. Neither the activation (11 MB for the
  MNIST convnet's first layer at batch 128) nor its gradient is written, nor read by the
  pool and its gradient. On Winograd (a 2x2 pool, whose windows are the output tiles), the
  backward is the conv's gradients made from the pool's gradient and the argmax in one call.
- **recurrent loops in inference**: a fused LSTM/GRU/SimpleRNN sequence whose saved values
  (for its backward) nobody reads runs without computing them (`patterns_rnn.py`).
- **gathered projections in inference**: `take(table, ids) @ W + b` gathering more rows than
  the table has runs as `take(table @ W + b, ids)` (`patterns_gather.py`).
- **a loss with its gradient**: a sparse softmax crossentropy and its logits gradient,
  whose seed is known by then, run as one pass at the loss's place (`patterns_loss.py`).
- **Winograd conv gradients**: a Winograd conv's input, kernel and bias gradients, when they
  are all that read its output gradient and each would run on Winograd alone, run as one
  call that transforms the gradient's tiles once (`conv_winograd.winograd_backward`).

`find` returns the fusions of a node list; the Plan builder emits each `Fused` at its anchor
node and skips the nodes it replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..tensor import SymbolicTensor, Tensor


@dataclass
class Fused:
    """One call replacing several nodes: `run(*inputs, *outputs)` at `anchor`'s place."""

    name: str
    run: object
    inputs: list
    outputs: list
    anchor: object  # the node whose place in the order the call takes
    replaced: list = field(default_factory=list)  # other nodes it makes redundant


def _producer(value, op_name: str):
    node = value._node if isinstance(value, SymbolicTensor) else None
    return node if node is not None and node.op.name == op_name else None


def _is_zero(value) -> bool:
    return isinstance(value, Tensor) and value.shape == () and float(value.numpy()) == 0.0


def _conv_epilogue(members: list, extra: list, consumers: dict):
    """`[add(conv, b)]`, `[add(conv, b), relu]` or `[relu(conv)]` -> one convolution."""
    if extra or not 1 <= len(members) <= 2:
        return None
    names = [n.op.name for n in members]
    if names not in (["add"], ["add", "relu"], ["relu"]):
        return None
    first, root = members[0], members[-1]
    out = root.outputs[0]
    if len(out.shape) != 4:
        return None
    bias = None
    if names[0] == "add":
        a, b = first.inputs
        if _producer(a, "conv") is None:
            a, b = b, a
        cout = out.shape[-1]
        if tuple(s for s in b.shape if s != 1) != (cout,) and tuple(b.shape) != (cout,):
            return None
        if b.dtype != out.dtype:
            return None
        conv_out, bias = a, b
    else:
        conv_out = first.inputs[0]
    conv = _producer(conv_out, "conv")
    if conv is None or consumers.get(id(conv_out), 0) != 1 or conv_out.dtype != out.dtype:
        return None
    if tuple(conv_out.shape) != tuple(out.shape):
        return None
    from ..ops import conv_primitives as cp

    attrs, relu, scratch = conv.attrs, names[-1] == "relu", {}
    x, k = conv.inputs
    if bias is None:

        def run(x, k, out):
            cp.conv_into(x, k, out, **attrs, scratch=scratch, relu=relu)

        inputs = [x, k]
    else:

        def run(x, k, b, out):
            cp.conv_into(x, k, out, **attrs, scratch=scratch, bias=b.reshape(-1), relu=relu)

        inputs = [x, k, bias]
    name = "conv+" + "+".join(("bias" if n == "add" else n) for n in names)
    return Fused(name, run, inputs, [out], anchor=root, replaced=[conv])


def _masked_pool_grad(members: list, extra: list, consumers: dict):
    """`[greater(y, 0), where(_, max_pool_grad(y, g), 0)]` -> one masked pool gradient."""
    if extra or [n.op.name for n in members] != ["greater", "where"]:
        return None
    greater, where = members
    y, zero = greater.inputs
    cond, routed, other = where.inputs
    if cond is not greater.outputs[0] or not _is_zero(zero) or not _is_zero(other):
        return None
    pool_grad = _producer(routed, "max_pool_grad")
    if pool_grad is None or pool_grad.inputs[0] is not y or consumers.get(id(routed), 0) != 1:
        return None
    out = where.outputs[0]
    if tuple(out.shape) != tuple(y.shape) or out.dtype != y.dtype:
        return None
    from ..ops import pool

    attrs = pool_grad.attrs

    def run(y, g, out):
        pool.max_pool_grad_into(y, g, out, **attrs, relu_mask=True)

    return Fused(
        "max_pool_grad+relu_grad",
        run,
        [y, pool_grad.inputs[1]],
        [out],
        anchor=where,
        replaced=[pool_grad],
    )


def _leading_sum(node) -> bool:
    if node.op.name != "sum":
        return False
    attrs = node.attrs
    rank = len(node.inputs[0].shape)
    return (
        rank == 4
        and not attrs["keepdims"]
        and tuple(sorted(int(a) % rank for a in attrs["axes"])) == (0, 1, 2)
    )


def _conv_bias_grads(nodes: list, skip: set) -> list:
    """Pairs `conv_filter_grad(x, g)` with `sum(g, axis=(0, 1, 2))`."""
    position = {id(n): i for i, n in enumerate(nodes)}
    sums: dict = {}
    for node in nodes:
        if id(node) not in skip and _leading_sum(node):
            sums.setdefault(id(node.inputs[0]), node)
    fused = []
    for node in nodes:
        if node.op.name != "conv_filter_grad" or id(node) in skip:
            continue
        x, g = node.inputs
        total = sums.pop(id(g), None)
        if total is None or total.outputs[0].dtype != g.dtype:
            continue
        from ..ops import conv_primitives as cp

        attrs, scratch = node.attrs, {}

        def run(x, g, out, bias_out, attrs=attrs, scratch=scratch):
            cp.conv_filter_grad_into(x, g, out, **attrs, scratch=scratch, bias_out=bias_out)

        first, second = sorted((node, total), key=lambda n: position[id(n)])
        fused.append(
            Fused(
                "conv_filter_grad+bias_grad",
                run,
                [x, g],
                [node.outputs[0], total.outputs[0]],
                anchor=first,
                replaced=[second],
            )
        )
    return fused


#: Bytes of convolution output a chunked conv + max pool computes per chunk of images: well
#: inside the 32 MB L3 of the machine we measured, so the full activation never goes to
#: memory; 1-2 MB chunks measured slower (more, shorter threaded calls).
POOL_CHUNK_BYTES = 8 << 20


def _then_pool(fused: Fused, readers: dict):
    """A conv epilogue whose only reader is a max pool -> one direct kernel that pools each
    row block of the convolution as it computes it (`conv_primitives.conv_pool_into`), else
    conv and pool by chunks of images (inference: in training the pool's gradient reads the
    activation too)."""
    out = fused.outputs[0]
    pool_nodes = readers.get(id(out), [])
    if len(pool_nodes) != 1 or pool_nodes[0].op.name != "max_pool" or len(out.shape) != 4:
        return None
    pool_node = pool_nodes[0]
    if any(s is None for s in out.shape[1:]):
        return None
    from ..ops import conv_primitives as cp
    from ..ops import pool

    conv_run, attrs = fused.run, pool_node.attrs
    # The epilogue's parts, from its nodes: the conv it replaced, a relu at its root, a bias
    # as its third input.
    conv_attrs = next(n for n in fused.replaced if n.op.name == "conv").attrs
    relu = fused.anchor.op.name == "relu"
    pool_args = {"pool": attrs["pool"], "pool_strides": attrs["strides"],
                 "pool_padding": attrs["padding"]}  # fmt: skip
    image_bytes = int(np.prod(out.shape[1:])) * np.dtype(out.dtype).itemsize
    chunk = max(1, POOL_CHUNK_BYTES // image_bytes)
    scratch: dict = {}
    conv_scratch: dict = {}

    def run(*arrays):
        *ins, pooled = arrays
        bias = ins[2].reshape(-1) if len(ins) == 3 else None
        if cp.conv_pool_into(ins[0], ins[1], pooled, **conv_attrs, **pool_args,
                             scratch=conv_scratch, bias=bias, relu=relu):  # fmt: skip
            return
        n = pooled.shape[0]
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            shape = (stop - start, *out.shape[1:])
            act = scratch.get(shape)
            if act is None:
                act = scratch[shape] = np.empty(shape, out.dtype)
            conv_run(ins[0][start:stop], *ins[1:], act)
            pool.max_pool_into(act, pooled[start:stop], **attrs)

    return Fused(
        fused.name + "+max_pool",
        run,
        fused.inputs,
        [pool_node.outputs[0]],
        anchor=pool_node,
        replaced=[*fused.replaced, fused.anchor],
    )


@dataclass
class Hidden:
    """A buffer that two fused calls share and no node produces (a pool's argmax)."""

    shape: tuple
    dtype: str


def _same_geometry(conv, grad) -> bool:
    a, b = conv.attrs, grad.attrs
    return all(a[k] == b[k] for k in ("strides", "dilation", "pads", "groups"))


def find(nodes: list, groups: dict, consumers: dict) -> list:
    """The fusions among `nodes`; `groups` maps id(root node) -> (members, extra outputs) of
    the elementwise groups, `consumers` id(value) -> how many readers it has."""
    readers: dict = {}
    for node in nodes:
        for x in set(map(id, node.inputs)):
            readers.setdefault(x, []).append(node)
    found = []
    for members, extra in groups.values():
        for match in (_conv_epilogue, _masked_pool_grad):
            fused = match(members, extra, consumers)
            if fused is not None:
                if match is _conv_epilogue and consumers.get(id(fused.outputs[0])) == 1:
                    fused = _then_pool(fused, readers) or fused
                found.append(fused)
                break
    taken = {id(n) for f in found for n in f.replaced}
    found += _conv_bias_grads(nodes, taken)
    from .patterns_gather import gathered_projections
    from .patterns_loss import losses_with_gradients
    from .patterns_rnn import inference_sequences
    from .patterns_trained import trained_fusions  # it builds on this module's helpers

    found = trained_fusions(nodes, found, readers, consumers, groups)
    return (
        found
        + losses_with_gradients(nodes, found, readers)
        + inference_sequences(nodes, consumers)
        + gathered_projections(nodes, groups, readers, consumers)
    )
