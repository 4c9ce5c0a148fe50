"""Seeds and keys of the random draws: `SeedGenerator`, the global generator that
`set_random_seed` reseeds, and the key each draw uses (`backend.random` has the draws).

A draw's seed source, kept in its op's attrs, gives its key at run time:

- an int `s`: the key is `(s,)`, so the op gives the same numbers on every call or run;
- a `SeedGenerator`: the key is `generator.next()`, `(seed, counter)` with a fresh counter,
  so each call (eager) or each run of a traced graph draws new numbers;
- None: the global `SeedGenerator`, which `set_random_seed` reseeds in place.

Inside a compiled function a draw from a generator is bound to the trace: the i-th such draw
in program order takes key `(seed, c + i)`, where `c` is the generator's counter when the
Plan starts its run, and the run advances the counter past all of its draws. So a compiled
step draws exactly the numbers the same code draws eagerly, whatever order its kernels run in
(and even when a draw is pruned as unused).
"""

from __future__ import annotations

import random as python_random
import secrets

import numpy as np

# Mixed into the global generator's seed so that after `set_random_seed(s)` the seed=None
# stream is not the stream of `SeedGenerator(s)`.
_GLOBAL_STREAM_TAG = 0x676C6F62


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_int_seed(seed, where: str) -> int:
    if not _is_int(seed):
        raise TypeError(f"{where}: `seed` must be an int >= 0. Received: seed={seed!r}")
    if seed < 0:
        raise ValueError(f"{where}: `seed` must be an int >= 0. Received: seed={seed!r}")
    return int(seed)


class SeedGenerator:
    """A seed and a counter: the state of a stream of random draws.

    `next()` returns a new key `(seed, counter)` on each call, so ops seeded with a generator
    draw new numbers each time, and two generators with the same seed give the same
    sequence. With `seed=None` the initial seed is drawn from the global generator (see
    `set_random_seed`). The state is two plain ints, `seed` and `counter`.

    Example:
        >>> import kerasish as keras
        >>> gen = keras.random.SeedGenerator(1337)
        >>> a = keras.random.normal((2,), seed=gen)
        >>> b = keras.random.normal((2,), seed=gen)
        >>> bool((a == b).numpy().all())
        False
    """

    def __init__(self, seed: int | None = None):
        if seed is None:
            seed = _seed_from_key(global_seed_generator().next())
        self._initial_seed = _check_int_seed(seed, "SeedGenerator")
        self.seed = self._initial_seed
        self.counter = 0

    def _reset(self, seed: int) -> None:
        self._initial_seed = self.seed = seed
        self.counter = 0

    def next(self) -> tuple:
        """Advances the counter and returns the key `(seed, counter)` for one draw."""
        self.counter += 1
        return (self.seed, self.counter)

    @property
    def state(self) -> tuple:
        """`(seed, counter)`, plain ints; assign a saved state to resume its stream."""
        return (self.seed, self.counter)

    @state.setter
    def state(self, value) -> None:
        seed, counter = value
        self.seed = _check_int_seed(seed, "SeedGenerator.state")
        self.counter = int(counter)

    def get_config(self) -> dict:
        return {"seed": self._initial_seed}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator seed={self.seed} counter={self.counter}>"


def _seed_from_key(key) -> int:
    """A 32-bit int seed derived from a key (as for a SeedGenerator built with seed=None)."""
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def _global_stream_seed(seed: int) -> int:
    return _seed_from_key([seed, _GLOBAL_STREAM_TAG])


_GLOBAL_GENERATOR = None


def global_seed_generator() -> SeedGenerator:
    """The generator used by ops called with `seed=None` (seeded from OS entropy until
    `set_random_seed` is called)."""
    global _GLOBAL_GENERATOR
    if _GLOBAL_GENERATOR is None:
        _GLOBAL_GENERATOR = SeedGenerator(secrets.randbits(32))
    return _GLOBAL_GENERATOR


def set_random_seed(seed: int) -> None:
    """Seeds the global generator used by random ops called with `seed=None`, and Python's
    `random` and numpy's global RNG, so that a program's draws are reproducible.

    The global generator is reseeded in place, so graphs traced before the call also draw
    the reseeded stream.

    Example:
        >>> import kerasish as keras
        >>> keras.utils.set_random_seed(7)
        >>> a = keras.random.uniform((3,))
        >>> keras.utils.set_random_seed(7)
        >>> bool((keras.random.uniform((3,)) == a).numpy().all())
        True
    """
    if (
        not _is_int(seed) or not 0 <= seed < 2**32  # numpy's global RNG takes 32-bit seeds
    ):
        raise ValueError(
            f"set_random_seed: `seed` must be an int in [0, 2**32). Received: seed={seed!r}"
        )
    seed = int(seed)
    python_random.seed(seed)
    np.random.seed(seed)
    global_seed_generator()._reset(_global_stream_seed(seed))


def _seed_source(seed, op_name: str):
    """The seed source kept in an op's attrs: an int or a SeedGenerator (None: the global)."""
    if seed is None:
        return global_seed_generator()
    if isinstance(seed, SeedGenerator):
        return seed
    if not _is_int(seed):
        raise TypeError(
            f"{op_name}: `seed` must be an int, a SeedGenerator or None. Received: seed={seed!r}"
        )
    return _check_int_seed(seed, op_name)


class _DrawFrame:
    """The draws one traced graph makes from one generator: `count` of them per run. Each
    run (`begin`) reserves the next `count` counter values, as that many eager calls would."""

    def __init__(self, generator: SeedGenerator):
        self.generator = generator
        self.count = 0
        self.start = None  # the generator's counter when the current run began

    def begin(self) -> None:
        self.start = self.generator.counter
        self.generator.counter += self.count


class _FramedSeed:
    """The seed of a traced draw: the `offset`-th draw (program order) in its frame."""

    __slots__ = ("frame", "offset")

    def __init__(self, frame: _DrawFrame, offset: int):
        self.frame = frame
        self.offset = offset

    def key(self) -> tuple:
        if self.frame.start is None:
            raise RuntimeError("A traced random draw ran outside the Plan it was compiled into.")
        return (self.frame.generator.seed, self.frame.start + self.offset + 1)

    def __repr__(self) -> str:
        return f"<draw {self.offset} of {self.frame.generator!r} per run>"


def _bind_seed(attrs: dict, trace) -> dict:
    """`attrs` with a SeedGenerator seed replaced by its next draw in `trace`'s frame."""
    seed = attrs.get("seed")
    if not isinstance(seed, SeedGenerator):
        return attrs
    frame = trace.draw_frames.get(id(seed))
    if frame is None:
        frame = trace.draw_frames[id(seed)] = _DrawFrame(seed)
    bound = _FramedSeed(frame, frame.count)
    frame.count += 1
    return {**attrs, "seed": bound}


def _rng(seed) -> np.random.Generator:
    """The numpy generator for one draw. Int keys are `(s,)`, generator keys `(s, n >= 1)`,
    so an int seed never repeats a generator's draw."""
    if isinstance(seed, SeedGenerator):
        key = seed.next()
    elif isinstance(seed, _FramedSeed):
        key = seed.key()
    else:
        key = (seed,)
    return np.random.default_rng(key)
