"""The fused recurrent sequence ops through the op harness (float64 finite differences for
every differentiable input, symbolic and compiled runs equal to eager), their Plans, and
their errors."""

import numpy as np
import pytest

from backend import compiler, kernels, ops
from backend.autodiff import GradientTape
from backend.tensor import Tensor
from backend.testing import check_op
from backend.testing_rnn import sequence_reference
from backend.variables import Variable

B, T, U = 5, 6, 3


def _data(gates, seed=0, batch=B, steps=T, units=U):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, gates * units))
    w = rng.standard_normal((units, gates * units)) * 0.5
    h0, c0 = rng.standard_normal((batch, units)), rng.standard_normal((batch, units))
    mask = rng.random((batch, steps)) > 0.3
    rmask = (rng.random((batch, gates, units)) > 0.3) / 0.7
    return x, w, h0, c0, mask, rmask


@pytest.mark.parametrize("backwards, zero", [(False, False), (True, False), (True, True)])
def test_lstm_gradients_with_masks(backwards, zero):
    x, w, h0, c0, mask, rmask = _data(4)
    opts = dict(go_backwards=backwards, zero_output_for_mask=zero)
    check_op(
        lambda x, w, h, c, m, r: ops.lstm_sequence(x, w, h, c, mask=m, recurrent_mask=r, **opts),
        [x, w, h0, c0, mask, rmask],
        lambda x, w, h, c, m, r: sequence_reference("lstm", x, w, [h, c], m, r, backwards, zero),
        grad_inputs=[0, 1, 2, 3],
    )


@pytest.mark.parametrize("masks", [False, True])
def test_lstm_input_bias_gradients(masks):
    # The bias added inside the loop (its gradient summed in the backward kernel) against
    # the reference on x_proj + bias, float64 finite differences for every input.
    x, w, h0, c0, mask, rmask = _data(4, seed=3)
    b = np.random.default_rng(4).standard_normal(4 * U)
    m, r = (mask, rmask) if masks else (None, None)
    check_op(
        lambda x, w, h, c, b: ops.lstm_sequence(x, w, h, c, mask=m, recurrent_mask=r, input_bias=b),
        [x, w, h0, c0, b],
        lambda x, w, h, c, b: sequence_reference("lstm", x + b, w, [h, c], m, r),
    )


def test_lstm_input_bias_shape_error():
    x, w, h0, c0, _, _ = _data(4)
    with pytest.raises(ValueError, match=r"input_bias must have shape \(12,\)"):
        ops.lstm_sequence(x, w, h0, c0, input_bias=np.zeros(5))


def test_lstm_without_masks_and_other_activations():
    x, w, h0, c0, _, _ = _data(4, seed=1)
    opts = dict(activation="relu", recurrent_activation="hard_sigmoid")
    check_op(
        lambda x, w, h, c: ops.lstm_sequence(x, w, h, c, **opts),
        [x, w * 0.5, h0, c0],
        lambda x, w, h, c: sequence_reference(
            "lstm", x, w, [h, c], None, None, False, False, "relu", "hard_sigmoid"
        ),
    )


@pytest.mark.parametrize("reset_after, bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("masks", [False, True])
def test_gru_gradients(reset_after, bias, masks):
    x, w, h0, _, mask, rmask = _data(3, seed=2)
    b = np.random.default_rng(3).standard_normal(3 * U) if bias else None
    m, r = (mask, rmask) if masks else (None, None)
    opts = dict(go_backwards=masks, reset_after=reset_after)

    def fn(x, w, h, *rest):
        rest = list(rest)
        bias_t = rest.pop(0) if bias else None
        return ops.gru_sequence(x, w, bias_t, h, mask=m, recurrent_mask=r, **opts)

    def reference(x, w, h, *rest):
        return sequence_reference(
            "gru",
            x,
            w,
            [h],
            m,
            r,
            masks,
            False,
            reset_after=reset_after,
            recurrent_bias=rest[0] if bias else None,
        )

    check_op(fn, [x, w, h0] + ([b] if bias else []), reference)


@pytest.mark.parametrize("masks", [False, True])
def test_simple_rnn_gradients(masks):
    x, w, h0, _, mask, rmask = _data(1, seed=4)
    m, r = (mask, rmask[:, :1]) if masks else (None, None)
    check_op(
        lambda x, w, h: ops.simple_rnn_sequence(
            x, w, h, mask=m, recurrent_mask=r, go_backwards=True, zero_output_for_mask=masks
        ),
        [x, w, h0],
        lambda x, w, h: sequence_reference("simple_rnn", x, w, [h], m, r, True, masks),
    )


def test_only_the_last_state_used():
    # The gradient reaching `outputs` is autodiff's zeros: the grad op skips reading it.
    from backend import symbolic

    x = symbolic((B, T, 4 * U), "float32")
    w = Variable(np.random.default_rng(0).standard_normal((U, 4 * U)).astype(np.float32))
    zeros = np.zeros((B, U), np.float32)
    _, h, _ = ops.lstm_sequence(x, w, zeros, zeros)
    from backend.autodiff import gradients

    (g,) = gradients([ops.sum(h)], [w])
    grad_node = g._node
    assert grad_node.op.name == "lstm_sequence_grad"
    assert grad_node.attrs["has_d_outputs"] is False


def _model_data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 12, 4)).astype(np.float32)
    kernel = Variable(rng.standard_normal((4, 4 * U)).astype(np.float32) * 0.5)
    recurrent = Variable(rng.standard_normal((U, 4 * U)).astype(np.float32) * 0.5)
    return x, kernel, recurrent


def test_compiled_training_step_has_no_per_step_nodes():
    x, kernel, recurrent = _model_data()
    zeros = np.zeros((8, U), np.float32)

    def step(x):
        with GradientTape() as tape:
            proj = ops.matmul(x, kernel)
            _, h, _ = ops.lstm_sequence(proj, recurrent, zeros, zeros)
            loss = ops.mean(ops.square(h))
        gk, gr = tape.gradient(loss, [kernel, recurrent])
        kernel.assign_sub(0.1 * gk)
        recurrent.assign_sub(0.1 * gr)
        return loss

    fn = compiler.function(step)
    names = fn.plan_for(x).describe()
    assert names.count("lstm_sequence") == 1 and names.count("lstm_sequence_grad") == 1
    # None per time step: a sequence three times as long compiles to the same calls.
    assert fn.plan_for(np.concatenate([x, x, x], axis=1)).describe() == names
    before = recurrent.numpy().copy()
    losses = [float(fn(x)) for _ in range(3)]
    assert losses[2] < losses[0]
    assert not np.array_equal(before, recurrent.numpy())


def test_compiled_equals_eager_and_inference_skips_the_saved_values(monkeypatch):
    x, kernel, recurrent = _model_data()
    zeros = np.zeros((8, U), np.float32)
    mask = np.random.default_rng(1).random((8, 12)) > 0.2

    def predict(x, mask):
        proj = ops.matmul(x, kernel)
        out, h, c = ops.lstm_sequence(proj, recurrent, zeros, zeros, mask=mask, go_backwards=True)
        return out, h, c

    eager = [t.numpy() for t in predict(Tensor(x), Tensor(mask))]
    saved_args = []
    real = kernels.rnn.lstm_forward

    def spy(*args, **kwargs):
        saved_args.append(kwargs.get("saved"))
        return real(*args, **kwargs)

    monkeypatch.setattr(kernels.rnn, "lstm_forward", spy)
    fn = compiler.function(predict)
    compiled = fn(x, mask)
    assert fn.plan_for(x, mask).describe() == ["matmul", "lstm_sequence[inference]"]
    assert saved_args == [None]
    for a, b in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("batch, steps", [(0, 3), (2, 0)])
def test_empty_batch_or_sequence(batch, steps):
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((batch, steps, 8)))
    w, h0 = Tensor(rng.standard_normal((2, 8))), Tensor(rng.standard_normal((batch, 2)))
    with GradientTape() as tape:
        tape.watch(x)
        tape.watch(w)
        tape.watch(h0)
        out, h, c = ops.lstm_sequence(x, w, h0, ops.zeros_like(h0))
        loss = ops.sum(out) + ops.sum(h)
    gx, gw, gh = tape.gradient(loss, [x, w, h0])
    assert out.shape == (batch, steps, 2) and gx.shape == x.shape
    np.testing.assert_array_equal(h.numpy(), h0.numpy())  # no step: the initial state
    assert not gw.numpy().any()
    np.testing.assert_array_equal(gh.numpy(), np.ones((batch, 2)) if steps == 0 else gh.numpy())


def test_second_order_is_not_supported():
    x, w, h0, c0, _, _ = _data(4)
    xt = Tensor(x)
    with GradientTape() as outer:
        outer.watch(xt)
        with GradientTape() as inner:
            inner.watch(xt)
            out, _, _ = ops.lstm_sequence(xt, w, h0, c0)
            loss = ops.sum(out)
        g = inner.gradient(loss, xt)
        total = ops.sum(g)
    with pytest.raises(NotImplementedError, match="lstm_sequence: gradients of its gradient"):
        outer.gradient(total, xt)


def test_shape_errors_name_the_op_and_what_was_received():
    x, w, h0, c0, mask, _ = _data(4)
    with pytest.raises(
        ValueError, match=r"lstm_sequence: x_proj must be 3-D .*Received: x_proj.shape=\(5, 12\)"
    ):
        ops.lstm_sequence(x[:, 0], w, h0, c0)
    with pytest.raises(
        ValueError,
        match=r"recurrent_kernel must have shape \(units, 4 \* units\). Received: "
        r"recurrent_kernel.shape=\(3, 9\)",
    ):
        ops.lstm_sequence(x, w[:, :9], h0, c0)
    with pytest.raises(
        ValueError, match=r"lstm_sequence: x_proj's last axis must be 4 \* units = 8"
    ):
        ops.lstm_sequence(x, np.zeros((2, 8)), h0[:, :2], c0[:, :2])
    with pytest.raises(
        ValueError, match=r"lstm_sequence: c0 must have shape \(5, 3\). Received: c0.shape=\(4, 3\)"
    ):
        ops.lstm_sequence(x, w, h0, c0[:4])
    with pytest.raises(ValueError, match=r"lstm_sequence: mask must have shape \(5, 6\)"):
        ops.lstm_sequence(x, w, h0, c0, mask=mask[:, :4])
    with pytest.raises(
        ValueError, match=r"gru_sequence: recurrent_mask must have shape \(5, 3, 3\)"
    ):
        ops.gru_sequence(x[..., :9], w[:, :9], None, h0, recurrent_mask=np.ones((5, 4, 3)))
    with pytest.raises(
        ValueError, match="gru_sequence: recurrent_bias must be None when reset_after=False"
    ):
        ops.gru_sequence(x[..., :9], w[:, :9], np.zeros(9), h0, reset_after=False)
    with pytest.raises(TypeError, match="lstm_sequence expects a float32 or float64 x_proj"):
        ops.lstm_sequence(x.astype(np.float16), w, h0, c0)
    with pytest.raises(ValueError, match="simple_rnn_sequence: activation must be one of"):
        ops.simple_rnn_sequence(x[..., :3], w[:, :3], h0, activation="gelu")
    assert set(ops.FUSED_ACTIVATIONS) >= {"tanh", "sigmoid", "relu", "linear", "hard_sigmoid"}


def test_docstring_examples():
    import doctest

    from backend.ops import rnn

    result = doctest.testmod(rnn, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
