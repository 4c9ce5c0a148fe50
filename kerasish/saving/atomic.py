"""Atomic file replacement: every save writes a temporary file beside the target and
renames it over the target only once it is complete.

The promise, for any caller (model and weights saving, checkpoints):

- While `atomic_write(path)` runs, `path` is untouched: readers see the old file (or none).
- On success the target is replaced in one `os.replace` (atomic on POSIX and Windows for
  two names in one directory), after the new file's bytes were flushed and fsynced; the
  directory is fsynced too (where the platform allows), so after a crash or power loss the
  target is either the complete old file or the complete new one, never a mixture.
- On any failure (an exception in the body, a full disk, an interrupt) the temporary file is
  removed and the exception propagates (an OSError is raised again naming the target, of
  the same errno and so the same subclass); the target is exactly as it was.
- The temporary name is unique per process and per call (`.<name>.tmp-<pid>-<random>` in
  the target's directory), so two processes, or two threads, saving to one path never write
  into each other's file: the last rename wins and the result is one whole file.
- A process killed with SIGKILL mid-save leaves the target intact and may leave one stale
  `.<name>.tmp-*` file; `remove_stale_temporaries(path)` deletes those of dead processes.

Example:
    >>> import os, tempfile
    >>> from kerasish.saving.atomic import atomic_write
    >>> target = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with atomic_write(target) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("complete")
    >>> open(target).read()
    'complete'
"""

from __future__ import annotations

import contextlib
import os
import secrets

_TMP_MARK = ".tmp-"


def temporary_name(path: str) -> str:
    """A fresh temporary path in `path`'s directory, unique to this process and call."""
    directory, name = os.path.split(os.path.abspath(path))
    token = secrets.token_hex(4)
    return os.path.join(directory, f".{name}{_TMP_MARK}{os.getpid()}-{token}")


def fsync_file(path: str) -> None:
    """Flushes `path`'s data to the disk (the file is opened read-only for it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: str) -> None:
    """Makes a rename in `directory` durable, where the platform supports it."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: directories cannot be opened this way
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename itself happened
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path):
    """Context manager yielding a temporary path to write `path`'s new contents to.

    The caller creates and closes the file at the yielded path inside the `with` block; on
    a normal exit it is fsynced and renamed over `path`; on an exception it is deleted and
    `path` is left alone. Raises OSError (naming `path`) when the directory is missing or
    not writable.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OSError(f"Cannot save to {path!r}: the directory {directory!r} does not exist.")
    tmp = temporary_name(path)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise OSError(f"Saving {path!r}: nothing was written to the temporary file.")
        fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as err:  # a full disk, a permission refused: say which save failed
        _remove(tmp)
        if path in str(err):
            raise
        message = f"Cannot save {path!r} (the previous file is untouched): {err.strerror or err}"
        raise (OSError(err.errno, message) if err.errno else OSError(message)) from err
    except BaseException:
        _remove(tmp)
        raise
    fsync_directory(directory)


def _remove(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(tmp)


def remove_stale_temporaries(path) -> list:
    """Deletes temporary files left beside `path` by saves of processes that no longer
    run (killed mid-save); returns the paths removed. Files of live processes stay."""
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    prefix = f".{name}{_TMP_MARK}"
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        pid_text = entry[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        full = os.path.join(directory, entry)
        with contextlib.suppress(OSError):
            os.remove(full)
            removed.append(full)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or the platform cannot tell)
    return True
