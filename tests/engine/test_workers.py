"""`backend.workers.split`: shares cover the range once, run on several threads, raise what a
share raised; and the Winograd convolution it drives gives the same bits with 1 or 2."""

import threading

import numpy as np
import pytest

from backend import config, workers
from backend.ops import conv_winograd


@pytest.fixture
def threads():
    old = config.get_num_threads()

    def use(n):
        config.set_num_threads(n)

    yield use
    config.set_num_threads(old)


@pytest.mark.parametrize(("n", "count"), [(1, 7), (2, 7), (2, 1), (2, 0), (2, 2)])
def test_shares_cover_the_range_once(threads, n, count):
    threads(n)
    seen, calls = [], []
    lock = threading.Lock()

    def work(worker, start, stop):
        with lock:
            calls.append((worker, start, stop))
            seen.extend(range(start, stop))

    workers.split(work, count)
    assert sorted(seen) == list(range(count))
    assert len(calls) == max(1, min(n, count))
    assert sorted(w for w, _, _ in calls) == list(range(len(calls)))


def test_shares_run_at_once_on_other_threads(threads):
    threads(2)
    barrier = threading.Barrier(2, timeout=10)  # both shares must be inside work() together
    idents = set()

    def work(worker, start, stop):
        idents.add(threading.get_ident())
        barrier.wait()

    workers.split(work, 2)
    assert len(idents) == 2 and threading.get_ident() in idents


def test_an_exception_in_any_share_is_raised_after_all_finish(threads):
    threads(2)
    finished = []

    def work(worker, start, stop):
        if worker == 1:
            raise ValueError("share 1 failed")
        finished.append(worker)

    with pytest.raises(ValueError, match="share 1 failed"):
        workers.split(work, 4)
    assert finished == [0]


@pytest.mark.parametrize(
    "x_shape, cout, chunk_bytes",
    [
        ((5, 9, 8, 16), 8, 1),  # one image a chunk: many chunks
        # 4 images a chunk: GEMMs of 256 tiles by 32 by 64, above the size from which
        # OpenBLAS would split them over its own threads (it does not inside a split)
        ((16, 18, 18, 32), 64, None),
    ],
)
@pytest.mark.parametrize("f4", [True, False])  # F(4x4) or F(2x2) without a pool
def test_winograd_same_bits_with_one_or_two_workers(threads, monkeypatch, x_shape, cout,
                                                    chunk_bytes, f4):  # fmt: skip
    monkeypatch.setattr(conv_winograd, "F4_UNPOOLED", f4)
    if chunk_bytes is not None:
        monkeypatch.setattr(conv_winograd, "WINOGRAD_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(0)
    n, h, w, cin = x_shape
    x = rng.standard_normal(x_shape).astype(np.float32)
    k = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32)
    results = []
    for count in (1, 2):
        threads(count)
        out = np.empty((n, h - 2, w - 2, cout), np.float32)
        conv_winograd.conv_winograd(x, k, (0, 0), (h - 2, w - 2), out, {}, bias, True)
        results.append(out)
    assert results[0].tobytes() == results[1].tobytes()
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))
    ref = np.maximum(np.einsum("nijcab,abco->nijo", windows, k) + bias, 0)
    np.testing.assert_allclose(results[0], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("gradient", ["dk", "dx"])
@pytest.mark.parametrize("f4", [True, False])  # dk on F(4x4) or F(2x2); dx on F(2x2) here
def test_winograd_gradients_same_bits_with_one_or_two_workers(threads, monkeypatch, gradient,
                                                              f4):  # fmt: skip
    monkeypatch.setattr(conv_winograd, "F4_UNPOOLED", f4)
    # The kernel gradient sums chunk products in chunk order; the input gradient's chunks
    # write their own images: neither depends on the worker count.
    monkeypatch.setattr(conv_winograd, "WINOGRAD_CHUNK_BYTES", 1)  # one image a chunk: many
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 9, 8, 32)).astype(np.float32)
    k = rng.standard_normal((3, 3, 32, 24)).astype(np.float32)
    g = rng.standard_normal((5, 7, 6, 24)).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        out = np.empty(k.shape if gradient == "dk" else x.shape, np.float32)
        conv_winograd.winograd_backward(x.shape, k.shape, (0, 0), (7, 6), x=x, k=k, dy=g,
                                        **{gradient: out})  # fmt: skip
        results.append(out)
    assert results[0].tobytes() == results[1].tobytes()
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), (3, 3), axis=(1, 2))
    if gradient == "dk":
        ref = np.einsum("nijcab,nijo->abco", windows, g)
    else:
        ref = np.zeros(x.shape)
        for a in range(3):
            for b in range(3):
                ref[:, a : a + 7, b : b + 6] += g.astype(np.float64) @ k[a, b].T
    np.testing.assert_allclose(results[0], ref, rtol=1e-4, atol=1e-4)


def test_an_error_in_the_callers_share_leaves_no_error_for_the_next_split(threads):
    threads(2)

    def both_fail(worker, start, stop):
        raise ValueError(f"share {worker} failed")

    with pytest.raises(ValueError, match="share 0 failed"):  # the caller's own error wins
        workers.split(both_fail, 4)
    seen = []
    workers.split(lambda w, a, b: seen.append(w), 4)  # share 1's error was not kept for it
    assert sorted(seen) == [0, 1]


def test_a_split_while_another_thread_holds_the_workers_runs_in_its_own_thread(threads):
    threads(2)
    inside, release = threading.Event(), threading.Event()
    seen = []

    def slow(worker, start, stop):
        if worker == 0:
            inside.set()
            assert release.wait(10)

    holder = threading.Thread(target=workers.split, args=(slow, 2))
    holder.start()
    assert inside.wait(10)
    try:
        workers.split(lambda w, a, b: seen.append((w, a, b, threading.get_ident())), 6)
    finally:
        release.set()
        holder.join()
    assert seen == [(0, 0, 6, threading.get_ident())]  # the whole range, serially


def test_a_split_allocates_the_same_whatever_the_timing(threads):
    """A share handed over allocates its tuple and nothing that depends on which thread is
    first: the peak of 200 splits stays within a few hundred bytes of a split's."""
    import tracemalloc

    threads(2)
    work = lambda w, a, b: None  # noqa: E731
    for _ in range(20):
        workers.split(work, 2)
    tracemalloc.start()
    try:
        peaks = []
        for _ in range(200):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            workers.split(work, 2)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    assert max(peaks) - min(peaks) <= 256, (min(peaks), max(peaks))
    assert max(peaks) < 1024, max(peaks)
