"""The API package: the engine guard, the public namespaces, and a light import."""

import os
import subprocess
import sys
import textwrap

import numpy as np

import kerasish as keras


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_users_own_backend_module_is_reported(tmp_path):
    (tmp_path / "backend.py").write_text("x = 1\n")
    result = _run("import kerasish", tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "shadowing" in result.stderr


def test_import_stays_light(tmp_path):
    # Numba and h5py are imported only when first needed, so `import kerasish` is fast.
    result = _run(
        """
        import sys
        import kerasish
        heavy = [m for m in ("numba", "h5py", "tqdm") if m in sys.modules]
        print(heavy)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_names():
    assert keras.backend.__kerasish_engine__ is True
    assert keras.backend.floatx() == "float32"
    for name in [
        "convert_to_tensor", "matmul", "einsum", "softmax", "sparse_categorical_crossentropy",
        "getitem", "moments", "logsumexp", "take_along_axis", "one_hot", "stop_gradient",
    ]:  # fmt: skip
        assert callable(getattr(keras.ops, name)), name
    assert callable(keras.random.normal) and callable(keras.utils.set_random_seed)
    assert keras.Variable is keras.backend.Variable


def test_keras_style_usage():
    x = keras.ops.convert_to_tensor(np.array([[1.0, -2.0]], np.float32))
    w = keras.Variable(np.ones((2, 1)))
    with keras.GradientTape() as tape:
        y = keras.ops.sum(keras.ops.relu(x @ w + 3.0))
    g = tape.gradient(y, w)
    np.testing.assert_allclose(g.numpy(), [[1.0], [-2.0]])
    assert isinstance(y, keras.Tensor)
