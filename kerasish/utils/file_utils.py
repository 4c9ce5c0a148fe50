"""`get_file`: downloads into a cache, checks the file's hash, extracts archives.

A download goes to a temporary file beside its destination and is checked before it is
renamed into place, so the cache never holds a partial or unverified file, whatever stops
the download (a network error, a bad checksum, Ctrl-C).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse

__all__ = ["check_file_name", "get_file", "kerasish_home", "validate_file"]

_CHUNK = 1 << 16
_TIMEOUT_SECONDS = 60  # a stalled connection fails rather than hanging forever


def kerasish_home() -> str:
    """Where kerasish keeps downloaded files: `$KERASISH_HOME`, else `~/.kerasish`."""
    return os.path.expanduser(os.environ.get("KERASISH_HOME", "").strip() or "~/.kerasish")


def _algorithm(file_hash: str, algorithm: str) -> str:
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(
            "get_file: `hash_algorithm` must be 'auto', 'sha256' or 'md5'. "
            f"Received: hash_algorithm={algorithm!r}"
        )
    if algorithm == "auto":
        return "sha256" if len(file_hash) == 64 else "md5"
    return algorithm


def _hash_file(path: str, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535) -> bool:
    """Whether the file at `fpath` has the hash `file_hash` (sha256, or md5 for 32 digits)."""
    del chunk_size  # accepted for Keras' signature
    chosen = _algorithm(str(file_hash), algorithm)
    return _hash_file(os.fspath(fpath), chosen) == str(file_hash).lower()


def _download(origin: str, target: str, file_hash, algorithm: str) -> None:
    """Downloads `origin` to a temporary file next to `target`, checks it, renames it."""
    import http.client  # imported here: `import kerasish` stays light
    import urllib.error
    import urllib.request

    from .progbar import Progbar

    print(f"Downloading data from {origin}", flush=True)
    folder, name = os.path.split(target)
    handle, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            request = urllib.request.Request(origin, headers={"User-Agent": "kerasish"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                progbar = Progbar(expected)
                received = 0
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    received += len(chunk)
                    progbar.update(received)
                if expected is not None and received != expected:
                    raise OSError(f"the connection closed after {received} of {expected} bytes")
                progbar.update(received, finalize=True)
        if file_hash is not None:
            actual = _hash_file(partial, algorithm)
            if actual != str(file_hash).lower():
                raise ValueError(
                    f"The file downloaded from {origin} is corrupt or not the expected one: "
                    f"its {algorithm} hash is {actual}, expected {file_hash}. It was deleted; "
                    "try again, or download it by hand and check it."
                )
        os.replace(partial, target)
    except BaseException as error:
        if os.path.exists(partial):
            os.remove(partial)
        network = (urllib.error.URLError, http.client.HTTPException, OSError)
        if isinstance(error, network) and not isinstance(error, FileNotFoundError):
            hint = f" (expected {algorithm} hash: {file_hash})" if file_hash else ""
            reason = getattr(error, "reason", None) or error
            raise OSError(
                f"Could not download {origin}: {reason}. Without internet access, download "
                f"that file on another machine and copy it to {target}{hint}; it is then "
                "used without downloading."
            ) from error
        raise


def _check_member_path(root: str, name: str, archive: str) -> None:
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([path, os.path.realpath(root)]) != os.path.realpath(root):
        raise ValueError(
            f"The archive {archive} holds a file that would land outside its folder: {name!r}. "
            "It was not extracted."
        )


def _extract(archive: str, destination: str, archive_format) -> bool:
    """Extracts `archive` into `destination` (through a temporary folder renamed into place);
    False when it is none of the `archive_format` kinds."""
    import tarfile
    import zipfile

    formats = ["tar", "zip"] if archive_format == "auto" else archive_format
    formats = [formats] if isinstance(formats, str) else list(formats or [])
    opener = None
    if "tar" in formats and tarfile.is_tarfile(archive):
        opener = "tar"
    elif "zip" in formats and zipfile.is_zipfile(archive):
        opener = "zip"
    if opener is None:
        return False
    parent = os.path.dirname(destination) or "."
    staging = tempfile.mkdtemp(prefix=".extracting.", dir=parent)
    try:
        if opener == "tar":
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    _check_member_path(staging, member.name, archive)
                    if member.issym() or member.islnk():
                        _check_member_path(staging, member.linkname, archive)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tar.extractall(staging)
        else:
            with zipfile.ZipFile(archive) as zipped:
                for name in zipped.namelist():
                    _check_member_path(staging, name, archive)
                zipped.extractall(staging)
        if os.path.exists(destination):
            shutil.rmtree(destination)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def check_file_name(path, what: str = "path") -> None:
    """A TypeError unless `path` is a non-empty string or path-like (a dataset's file name in
    the cache), naming the argument and the value received."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(
            f"`{what}` must be a file name (a non-empty string). Received: {what}={path!r}"
        )


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False) -> str:  # fmt: skip
    """Downloads a file from a URL unless it is already in the cache; returns its path.

    The file goes to `cache_dir/cache_subdir/fname`, where `cache_dir` defaults to
    `$KERASISH_HOME` or `~/.kerasish` and `fname` to the last part of the URL. With
    `file_hash` (sha256, or md5 for 32 hex digits), a download is checked before it is put
    in place, and a cached file that does not match is downloaded again. The download is
    atomic: nothing is left at the destination unless the whole, checked file is there.
    With `extract=True` (or `untar=True`), a tar or zip archive is unpacked (members that
    would land outside the folder are refused) and the folder's path is returned. Without
    internet access, the error names the URL and where to copy the file by hand.

    Example:
        >>> path = get_file(origin="https://example.com/data.csv")  # doctest: +SKIP
    """
    if origin is None:
        raise ValueError("get_file: give the URL of the file to download as `origin`.")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = None if file_hash is None else _algorithm(str(file_hash), hash_algorithm)
    base = os.path.expanduser(os.fspath(cache_dir)) if cache_dir is not None else kerasish_home()
    os.makedirs(base, exist_ok=True)
    if not os.access(base, os.W_OK):
        base = os.path.join(tempfile.gettempdir(), ".kerasish")
    folder = os.path.join(base, cache_subdir)
    os.makedirs(folder, exist_ok=True)

    given = os.fspath(fname) if fname is not None else None
    fname = given or os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname:
        raise ValueError(
            f"get_file: cannot take a file name from the URL; pass `fname`. Received: "
            f"origin={origin!r}"
        )
    if os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(
            "get_file: `fname` is a file name; choose the folder with `cache_dir` and "
            f"`cache_subdir`. Received: fname={fname!r}"
        )
    unpack = bool(extract or untar)
    if unpack:  # where Keras puts the archive and the folder it unpacks to
        if given and "." in fname:
            target = os.path.join(folder, fname)
            extracted = os.path.join(folder, fname[: fname.find(".")] + "_extracted")
        else:
            extracted = os.path.join(folder, fname)
            target = os.path.join(folder, f"{fname}_archive")
    else:
        target = os.path.join(folder, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, algorithm):
        print(
            f"The cached file {target} does not match the expected {algorithm} hash "
            f"{file_hash}; downloading it again.",
            flush=True,
        )
        download = True
    if download:
        _download(origin, target, file_hash, algorithm)
    if not unpack:
        return target
    if download or not os.path.exists(extracted):
        if not _extract(target, extracted, archive_format):
            raise ValueError(
                f"get_file: {target} is not a {archive_format} archive, so it cannot be "
                f"extracted. Received: archive_format={archive_format!r}"
            )
    return extracted
