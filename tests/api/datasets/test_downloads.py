"""get_file and the downloading loaders, end to end against a loopback HTTP server.

Nothing here reaches the internet: the loaders' URLs and hashes are pointed at small files
served from this machine, and the real download, checksum, cache and unpickling code runs.
"""

import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import tarfile
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kerasish.datasets import cifar10, fashion_mnist, imdb, mnist
from kerasish.utils import Progbar, get_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


class Server:
    """Serves `files` (path -> bytes) on 127.0.0.1; paths in `truncated` send half their
    bytes, announce all of them, and close the connection."""

    def __init__(self):
        self.files, self.truncated, self.hits = {}, set(), Counter()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits[self.path] += 1
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in owner.truncated:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def serve(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url + path

    def close(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASISH_HOME", str(tmp_path / "home"))
    running = Server()
    yield running
    running.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---- get_file ---------------------------------------------------------------------------


def test_a_good_file_is_downloaded_checked_cached_and_reused(server, tmp_path, capsys):
    body = os.urandom(200_000)
    url = server.serve("/data/blob.bin", body)
    path = get_file(origin=url, file_hash=sha256(body))
    assert path == str(tmp_path / "home" / "datasets" / "blob.bin")
    assert Path(path).read_bytes() == body
    out = capsys.readouterr().out
    assert f"Downloading data from {url}" in out and "200000/200000" in out
    assert get_file(origin=url, file_hash=sha256(body)) == path  # from the cache
    assert server.hits["/data/blob.bin"] == 1
    md5 = hashlib.md5(body).hexdigest()
    assert get_file("blob.bin", origin=url, md5_hash=md5) == path
    assert server.hits["/data/blob.bin"] == 1


def test_a_bad_checksum_is_rejected_and_nothing_is_left(server, tmp_path):
    url = server.serve("/blob.bin", b"not what was promised")
    with pytest.raises(ValueError, match=r"corrupt or not the expected one.*sha256 hash is"):
        get_file(origin=url, file_hash=sha256(b"the real content"))
    assert leftovers(tmp_path / "home" / "datasets") == []


def test_a_cached_file_that_no_longer_matches_is_downloaded_again(server, tmp_path, capsys):
    body = b"x" * 1000
    url = server.serve("/blob.bin", body)
    path = Path(get_file(origin=url, file_hash=sha256(body)))
    path.write_bytes(b"damaged")
    assert Path(get_file(origin=url, file_hash=sha256(body))).read_bytes() == body
    assert server.hits["/blob.bin"] == 2
    assert "does not match the expected sha256 hash" in capsys.readouterr().out


def test_an_interrupted_download_leaves_no_partial_file(server, tmp_path):
    url = server.serve("/big.bin", os.urandom(300_000))
    server.truncated.add("/big.bin")
    with pytest.raises(OSError, match=r"Could not download .*big\.bin"):
        get_file(origin=url)
    assert leftovers(tmp_path / "home" / "datasets") == []


def test_ctrl_c_during_a_download_leaves_no_partial_file(server, tmp_path, monkeypatch):
    url = server.serve("/big.bin", os.urandom(300_000))

    def interrupt(self, current, values=None, finalize=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Progbar, "update", interrupt)  # Ctrl-C after the first chunk
    with pytest.raises(KeyboardInterrupt):
        get_file(origin=url)
    assert leftovers(tmp_path / "home" / "datasets") == []


def test_offline_the_error_names_the_url_and_where_to_put_the_file(server, tmp_path):
    server.close()  # nothing listens there any more
    url = server.url + "/mnist.npz"
    with pytest.raises(OSError) as raised:
        get_file(origin=url, file_hash="ab" * 32)
    message = str(raised.value)
    assert f"Could not download {url}" in message
    assert str(tmp_path / "home" / "datasets" / "mnist.npz") in message
    assert "copy it to" in message and "ab" * 32 in message


def make_tar(members: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_extract_unpacks_archives_and_refuses_members_outside_the_folder(server, tmp_path):
    url = server.serve("/photos.tgz", make_tar({"photos/a/1.txt": b"one", "photos/b/2.txt": b"2"}))
    folder = Path(get_file(origin=url, extract=True))
    assert folder == tmp_path / "home" / "datasets" / "photos.tgz"
    assert (folder / "photos" / "a" / "1.txt").read_bytes() == b"one"
    assert get_file(origin=url, extract=True) == str(folder) and server.hits["/photos.tgz"] == 1
    evil = server.serve("/evil.tgz", make_tar({"../../escaped.txt": b"gotcha"}))
    with pytest.raises(ValueError, match="outside its folder"):
        get_file(origin=evil, extract=True)
    assert not (tmp_path / "home" / "escaped.txt").exists()
    assert not any(p.name.startswith(".extracting") for p in folder.parent.iterdir())


def test_get_file_arguments_are_checked():
    with pytest.raises(ValueError, match="origin"):
        get_file("x.bin")
    with pytest.raises(ValueError, match="Received: fname='a/b.bin'"):
        get_file("a/b.bin", origin="http://127.0.0.1:9/b.bin")
    with pytest.raises(ValueError, match="Received: hash_algorithm='sha1'"):
        get_file(origin="http://127.0.0.1:9/b.bin", file_hash="0" * 40, hash_algorithm="sha1")


# ---- the loaders ------------------------------------------------------------------------


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_mnist_downloads_once_and_returns_the_arrays(server, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    body = npz_bytes(**arrays)
    monkeypatch.setattr(mnist, "ORIGIN", server.serve("/mnist.npz", body))
    monkeypatch.setattr(mnist, "SHA256", sha256(body))
    for _ in range(2):
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        for name, value in zip(arrays, (x_train, y_train, x_test, y_test), strict=True):
            np.testing.assert_array_equal(value, arrays[name])
    assert server.hits["/mnist.npz"] == 1
    monkeypatch.setattr(mnist, "SHA256", sha256(b"the real file"))
    with pytest.raises(ValueError, match="corrupt or not the expected one"):
        mnist.load_data("other.npz")


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = np.array([magic, *array.shape], ">u4").tobytes()
    return gzip.compress(header + array.tobytes())


def test_fashion_mnist_reads_idx_files_and_deletes_a_corrupt_one(server, monkeypatch, tmp_path):
    rng = np.random.default_rng(1)
    x_train, x_test = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for n in (5, 2))
    y_train, y_test = (rng.integers(0, 10, n, dtype=np.uint8) for n in (5, 2))
    parts = dict(zip(fashion_mnist.FILES, [(y_train, 2049), (x_train, 2051), (y_test, 2049),
                                           (x_test, 2051)], strict=True))  # fmt: skip
    for name, (array, magic) in parts.items():
        server.serve(f"/fm/{name}", idx_bytes(array, magic))
    monkeypatch.setattr(fashion_mnist, "ORIGIN_FOLDER", server.url + "/fm/")
    (a, b), (c, d) = fashion_mnist.load_data()
    for got, want in ((a, x_train), (b, y_train), (c, x_test), (d, y_test)):
        np.testing.assert_array_equal(got, want)
    cached = tmp_path / "home" / "datasets" / "fashion-mnist" / fashion_mnist.FILES[1]
    cached.write_bytes(idx_bytes(x_train[:, :27], 2051))  # 28x27 images: not Fashion-MNIST
    with pytest.raises(ValueError, match=r"corrupt \(its images are \(27, 28\)"):
        fashion_mnist.load_data()
    assert not cached.exists()  # so the next call downloads it again
    fashion_mnist.load_data()
    assert server.hits[f"/fm/{fashion_mnist.FILES[1]}"] == 2


class RunsACommand:
    """What a malicious pickle carries: a call to make on loading."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def cifar_archive(batches: dict) -> bytes:
    members = {
        f"cifar-10-batches-py/{name}": pickle.dumps(batch, protocol=2)
        for name, batch in batches.items()
    }
    return make_tar(members)


def test_cifar10_reads_pickled_batches_as_channels_last_images(server, monkeypatch, tmp_path):
    rng = np.random.default_rng(2)
    planes = {n: rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8) for n in range(6)}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {
        name: {b"data": planes[i].reshape(2, -1), b"labels": [i, 9 - i], b"batch_label": b"x"}
        for i, name in enumerate(names)
    }
    body = cifar_archive(batches)
    monkeypatch.setattr(cifar10, "ORIGIN", server.serve("/cifar.tar.gz", body))
    monkeypatch.setattr(cifar10, "SHA256", sha256(body))
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and y_train.shape == (10, 1)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train[2], planes[1][0].transpose(1, 2, 0))  # channels last
    np.testing.assert_array_equal(x_test, planes[5].transpose(0, 2, 3, 1))
    assert y_train[:, 0].tolist() == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5] and y_test.tolist() == [
        [5],
        [4],
    ]

    marker = tmp_path / "ran"
    batches["test_batch"] = {b"data": RunsACommand(marker), b"labels": [0]}
    (tmp_path / "home" / "datasets" / "cifar-10-python.tar.gz").unlink()
    body = cifar_archive(batches)
    server.serve("/cifar.tar.gz", body)
    monkeypatch.setattr(cifar10, "SHA256", sha256(body))
    with pytest.raises(pickle.UnpicklingError, match=r"Refusing to load `posix\.system`"):
        cifar10.load_data()
    assert not marker.exists()


@pytest.fixture
def imdb_files(server, monkeypatch):
    body = (FIXTURES / "datasets" / "imdb.npz").read_bytes()
    server.serve("/imdb/imdb.npz", body)
    index = (FIXTURES / "datasets" / "imdb_word_index.json").read_bytes()
    server.serve("/imdb/imdb_word_index.json", index)
    monkeypatch.setattr(imdb, "ORIGIN_FOLDER", server.url + "/imdb/")
    monkeypatch.setattr(imdb, "SHA256", sha256(body))
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", hashlib.md5(index).hexdigest())
    return server


GOLDEN_IMDB = json.loads((FIXTURES / "keras_goldens" / "imdb.json").read_text())


@pytest.mark.parametrize("case", sorted(GOLDEN_IMDB["cases"]))
def test_imdb_gives_what_keras_gives(imdb_files, case):
    recorded = GOLDEN_IMDB["cases"][case]
    (x_train, y_train), (x_test, y_test) = imdb.load_data(**recorded["kwargs"])
    assert x_train.dtype == object and x_train.ndim == 1
    assert [list(r) for r in x_train] == recorded["x_train"]
    assert [list(r) for r in x_test] == recorded["x_test"]
    assert y_train.tolist() == recorded["y_train"] and y_test.tolist() == recorded["y_test"]
    assert imdb_files.hits["/imdb/imdb.npz"] == 1


def test_imdb_word_index_and_argument_checks(imdb_files):
    index = imdb.get_word_index()
    assert len(index) == GOLDEN_IMDB["word_index_size"] and index["word3"] == 3
    with pytest.raises(ValueError, match="Received: num_words=0"):
        imdb.load_data(num_words=0)
    with pytest.raises(ValueError, match="no review is shorter than maxlen=2"):
        imdb.load_data(maxlen=2)


def test_imdb_refuses_a_pickle_that_runs_code(server, monkeypatch, tmp_path):
    marker = tmp_path / "ran"
    evil = np.empty(1, dtype=object)
    evil[0] = RunsACommand(marker)
    body = npz_bytes(x_train=evil, y_train=np.zeros(1), x_test=evil, y_test=np.zeros(1))
    monkeypatch.setattr(imdb, "ORIGIN_FOLDER", server.url + "/")
    server.serve("/imdb.npz", body)
    monkeypatch.setattr(imdb, "SHA256", sha256(body))
    with pytest.raises(pickle.UnpicklingError, match="Refusing to load `posix.system`"):
        imdb.load_data()
    assert not marker.exists()
