"""The atomic file replacement every save goes through."""

import multiprocessing
import os

import pytest

from kerasish.saving.atomic import atomic_write, remove_stale_temporaries


def _write(path, text):
    with atomic_write(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def test_a_complete_write_replaces_the_target_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.h5"
    target.write_text("old")
    _write(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["model.h5"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.h5"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.h5"]


def test_writing_nothing_is_an_error_and_the_target_stays(tmp_path):
    target = tmp_path / "w.h5"
    target.write_text("old")
    with pytest.raises(OSError, match="nothing was written"):
        with atomic_write(target):
            pass
    assert target.read_text() == "old"


def test_a_missing_directory_is_an_oserror_naming_the_path(tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        _write(tmp_path / "nowhere" / "m.h5", "x")


def test_temporary_names_differ_between_calls(tmp_path):
    names = []
    for _ in range(2):
        with atomic_write(tmp_path / "m.h5") as tmp:
            names.append(tmp)
            open(tmp, "w").close()
    assert names[0] != names[1]
    assert all(os.path.dirname(n) == str(tmp_path) for n in names)


def _writer(path, text, rounds):
    for _ in range(rounds):
        _write(path, text * 1000)


def test_two_processes_saving_to_one_path_leave_one_whole_file(tmp_path):
    target = str(tmp_path / "shared.txt")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(target, c, 30)) for c in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    text = open(target).read()
    assert text in ("a" * 1000, "b" * 1000)
    assert os.listdir(tmp_path) == ["shared.txt"]


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "m.h5"
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=os.getpid)
    p.start()
    p.join()
    dead = tmp_path / f".m.h5.tmp-{p.pid}-0000"
    alive = tmp_path / f".m.h5.tmp-{os.getpid()}-1111"
    dead.write_text("x")
    alive.write_text("x")
    assert remove_stale_temporaries(target) == [str(dead)]
    assert alive.exists()
