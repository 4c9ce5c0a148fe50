"""What a compiled training step relies on in the compiler: random draws keyed in program
order, and reads of a Variable after its assignment."""

from functools import partial

import numpy as np

from backend import GradientTape, Variable, compiler, ops
from backend import random as R


def _run_eager_and_compiled(fn, gen, *args, runs=2):
    """`fn`'s results over `runs` calls, eagerly and compiled, each pass starting from the
    same state of `gen` and of the global generator."""
    results = []
    for compile_it in (False, True):
        R.set_random_seed(0)
        gen.state = (0, 0)
        call = compiler.function(fn) if compile_it else fn
        results.append([[np.asarray(o) for o in call(*args)] for _ in range(runs)])
    return results


def test_draws_follow_program_order_whatever_the_plan_order():
    gen = R.SeedGenerator(0)

    def step(x):
        first = R.normal((3,), seed=gen)
        second = R.uniform((3,), seed=gen)
        unused = R.normal((3,), seed=gen)  # pruned from the Plan, still a draw
        del unused
        third = R.normal((3,))  # the global generator
        # The outputs list the last draws first, so the Plan computes them first.
        return [third * x, second * x, first]

    eager, compiled = _run_eager_and_compiled(step, gen, np.float32(2.0))
    for eager_run, compiled_run in zip(eager, compiled, strict=True):
        for a, b in zip(eager_run, compiled_run, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(eager[0][2], eager[1][2])  # fresh every run
    assert gen.state == (0, 2 * 3)  # 3 draws a run, pruned or not


def test_a_plan_per_batch_shape_keeps_the_generator_in_step():
    gen = R.SeedGenerator(5)
    step = compiler.function(lambda x: [R.normal(x.shape, seed=gen) + x])
    a = step(np.zeros(2, "float32"))[0]
    b = step(np.zeros(3, "float32"))[0]  # a second Plan: continues the same stream
    gen_eager = R.SeedGenerator(5)
    np.testing.assert_array_equal(a, R.normal((2,), seed=gen_eager).numpy())
    np.testing.assert_array_equal(b, R.normal((3,), seed=gen_eager).numpy())


def _gan_like(w_d, w_g, z):
    """Updates `w_d`, then differentiates a loss through the updated `w_d` for `w_g`."""
    with GradientTape() as tape:
        d_loss = ops.sum(ops.square(ops.matmul(ops.matmul(z, w_g), w_d)))
    (grad_d,) = tape.gradient(d_loss, [w_d])
    w_d.assign_sub(0.1 * grad_d)
    with GradientTape() as tape:
        g_loss = ops.sum(ops.matmul(ops.matmul(z, w_g), w_d))
    grad_g, grad_d_again = tape.gradient(g_loss, [w_g, w_d])
    return [grad_g, grad_d_again]


def test_a_read_after_an_assignment_is_a_fresh_value_of_the_variable():
    rng = np.random.default_rng(0)
    d0 = rng.normal(size=(3, 1)).astype("float32")
    g0 = rng.normal(size=(2, 3)).astype("float32")
    z = rng.normal(size=(4, 2)).astype("float32")
    results = []
    for compile_it in (False, True):
        w_d, w_g = Variable(d0), Variable(g0)
        step = partial(_gan_like, w_d, w_g)
        out = compiler.function(step)(z) if compile_it else step(z)
        results.append([np.asarray(o) for o in out] + [w_d.numpy()])
    # By hand: g_loss = sum(z @ w_g @ w_d') with w_d' the updated value, a constant for it.
    d_new = d0 - 0.1 * 2 * (z @ g0).T @ (z @ g0 @ d0)
    expected_g = z.T @ np.ones((4, 1)) @ d_new.T
    expected_d = (z @ g0).T @ np.ones((4, 1))
    for grad_g, grad_d, w_d in results:
        np.testing.assert_allclose(w_d, d_new, rtol=1e-5)
        np.testing.assert_allclose(grad_g, expected_g, rtol=1e-5)  # not through the update
        np.testing.assert_allclose(grad_d, expected_d, rtol=1e-5)  # reaches the Variable


def test_reads_after_assignments_stay_inside_one_fused_update():
    # An Adam-like update reads m and v after assigning them: the reads add no pass of their
    # own, and m, v and w are still written by one fused kernel.
    w, m, v = (Variable(np.full(8, value, "float32")) for value in (1.0, 0.5, 0.25))

    def update(g):
        m.assign(ops.add(ops.multiply(m, 0.9), ops.multiply(g, 0.1)))
        v.assign(ops.add(ops.multiply(v, 0.99), ops.multiply(ops.square(g), 0.01)))
        w.assign(ops.subtract(w, ops.divide(m, ops.add(ops.sqrt(v), 1e-7))))
        return []

    step = compiler.function(update)
    g = np.linspace(-1, 1, 8).astype("float32")
    names = step.plan_for(g).describe()
    assert len(names) == 1 and names[0].startswith("fused[") and "stop_gradient" in names[0]
    step(g)
    m_new = 0.5 * 0.9 + g * 0.1
    v_new = 0.25 * 0.99 + g**2 * 0.01
    np.testing.assert_allclose(w.numpy(), 1.0 - m_new / (np.sqrt(v_new) + 1e-7), rtol=1e-6)
