"""Datasets: the real IDX files, the logic gates, corrupt files, and verified downloads."""

import functools
import gzip
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from engine import datasets
from engine.datasets import DATASETS, FILES, CorruptDatasetFile, DatasetUnavailable

SHARED = Path(os.environ["MLPQ_DATA_DIR"])


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def serve():
    """Serve directories over HTTP on 127.0.0.1; yields a function dir -> base URL."""
    servers = []

    def start(directory):
        handler = functools.partial(QuietHandler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_mnist_matches_the_published_facts():
    (X, y), (X_test, y_test) = datasets.load("mnist")
    assert X.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_pixels_are_the_raw_bytes_over_255():
    (X, _), _ = datasets.load("mnist")
    raw = gzip.decompress((SHARED / "mnist" / FILES["train_images"]).read_bytes())
    first_image = np.frombuffer(raw, dtype=np.uint8, count=784, offset=16)
    np.testing.assert_array_equal(X[0], first_image.astype(np.float32) / np.float32(255))


def test_loaded_arrays_are_cached_and_read_only():
    first = datasets.load("mnist")
    assert datasets.load("mnist", SHARED) is first  # same directory, same cache entry
    (X, y), _ = first
    with pytest.raises(ValueError):
        X[0, 0] = 0.5
    with pytest.raises(ValueError):
        y[0] = 3


def test_fashion_mnist_loads_from_recompressed_files():
    (X, y), (X_test, y_test) = datasets.load("fashion-mnist")
    assert X.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert DATASETS["fashion-mnist"].classes[9] == "Ankle boot"


@pytest.mark.parametrize(("name", "outputs"), [("xor", [0, 1, 1, 0]), ("and", [0, 0, 0, 1]),
                                               ("or", [0, 1, 1, 1])])
def test_logic_gates_are_truth_tables(name, outputs):
    (X, y), (X_test, y_test) = datasets.load(name)
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and X.dtype == np.float32
    assert y.tolist() == outputs and y.dtype == np.int64
    assert X_test is X and y_test is y
    info = DATASETS[name]
    assert (info.input_size, info.num_classes, info.kind) == (2, 2, "gate")


def test_registry_describes_each_dataset():
    assert set(DATASETS) == {"mnist", "fashion-mnist", "xor", "and", "or", "iris", "wine",
                             "breast-cancer", "diabetes"}
    mnist = DATASETS["mnist"]
    assert (mnist.name, mnist.input_size, mnist.num_classes, mnist.kind) == ("mnist", 784, 10, "image")
    assert mnist.classes == tuple("0123456789") and mnist.image_shape == (28, 28)


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DatasetUnavailable, match="known datasets: mnist, fashion-mnist"):
        datasets.load("cifar10")


def test_data_dir_argument_then_environment_then_home(monkeypatch, tmp_path):
    assert datasets.resolve_data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("MLPQ_DATA_DIR", str(tmp_path / "env"))
    assert datasets.resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("MLPQ_DATA_DIR")
    assert datasets.resolve_data_dir() == Path.home() / ".cache" / "mlpq" / "datasets"


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(DatasetUnavailable) as raised:
        datasets.load("mnist", tmp_path, download=False)
    message = str(raised.value)
    assert str(tmp_path / "mnist") in message and "train-images-idx3-ubyte.gz" in message
    assert "MLPQ_DATA_DIR" in message


def test_offline_download_fails_with_a_clear_error(monkeypatch, tmp_path):
    # a port nobody listens on stands for an unreachable mirror
    monkeypatch.setenv("MLPQ_DATASET_MIRRORS", "http://127.0.0.1:9/")
    with pytest.raises(DatasetUnavailable) as raised:
        datasets.load("mnist", tmp_path)
    assert "Downloading failed" in str(raised.value) and "Put the four files" in str(raised.value)
    assert not any((tmp_path / "mnist").iterdir())  # no partial files left behind


def test_download_verifies_sha256_and_writes_the_files(monkeypatch, tmp_path, serve):
    monkeypatch.setenv("MLPQ_DATASET_MIRRORS", serve(SHARED))
    datasets.fetch("mnist", tmp_path)
    for file in FILES.values():
        assert (tmp_path / "mnist" / file).read_bytes() == (SHARED / "mnist" / file).read_bytes()
    assert sorted(path.name for path in (tmp_path / "mnist").iterdir()) == sorted(FILES.values())
    _, (X_test, y_test) = datasets.load("mnist", tmp_path)
    assert y_test[:3].tolist() == [7, 2, 1] and X_test.shape == (10000, 784)


def test_download_rejects_a_wrong_hash_and_tries_the_next_mirror(monkeypatch, tmp_path, serve):
    bad = tmp_path / "bad" / "mnist"
    bad.mkdir(parents=True)
    for file in FILES.values():  # same names, one byte changed
        content = bytearray((SHARED / "mnist" / file).read_bytes())
        content[-1] ^= 0xFF
        (bad / file).write_bytes(bytes(content))
    target = tmp_path / "data"
    monkeypatch.setenv("MLPQ_DATASET_MIRRORS", serve(bad.parent))
    with pytest.raises(DatasetUnavailable, match="SHA-256 mismatch"):
        datasets.fetch("mnist", target)
    assert list((target / "mnist").iterdir()) == []
    monkeypatch.setenv("MLPQ_DATASET_MIRRORS", f"{serve(bad.parent)} {serve(SHARED)}")
    datasets.fetch("mnist", target)
    assert (target / "mnist" / FILES["test_labels"]).read_bytes() == \
        (SHARED / "mnist" / FILES["test_labels"]).read_bytes()


def test_download_checks_upstream_hashes_not_local_copies(monkeypatch, tmp_path, serve):
    # Debian's recompressed Fashion-MNIST differs from the upstream .gz: a download of it is refused
    monkeypatch.setenv("MLPQ_DATASET_MIRRORS", serve(SHARED))
    with pytest.raises(DatasetUnavailable, match="SHA-256 mismatch"):
        datasets.fetch("fashion-mnist", tmp_path)


def dataset_dir_with(tmp_path, file, content):
    """A copy of the MNIST directory (symlinks) where `file` has `content`."""
    directory = tmp_path / "mnist"
    directory.mkdir()
    for name in FILES.values():
        if name != file:
            (directory / name).symlink_to(SHARED / "mnist" / name)
    (directory / file).write_bytes(content)
    return tmp_path


def idx(header: bytes, dims, payload: bytes) -> bytes:
    dims_bytes = b"".join(dim.to_bytes(4, "big") for dim in dims)
    return gzip.compress(header + dims_bytes + payload)


LABELS = gzip.decompress((SHARED / "mnist" / FILES["test_labels"]).read_bytes())
CORRUPT_FILES = [
    ("truncated gzip", (SHARED / "mnist" / FILES["test_labels"]).read_bytes()[:2000], "not a complete gzip"),
    ("not gzip at all", b"hello", "not a complete gzip"),
    ("images magic on labels", idx(b"\x00\x00\x08\x03", (10000,), LABELS[8:]), "not an IDX file"),
    ("wrong count in header", idx(b"\x00\x00\x08\x01", (9999,), LABELS[8:]), "header says shape"),
    ("payload shorter than header", gzip.compress(LABELS[:-10]), "truncated or padded"),
    ("payload longer than header", gzip.compress(LABELS + b"\x00"), "truncated or padded"),
    ("label out of range", idx(b"\x00\x00\x08\x01", (10000,), b"\x0a" * 10000), "out of range"),
]


@pytest.mark.parametrize(("content", "message"), [case[1:] for case in CORRUPT_FILES],
                         ids=[case[0] for case in CORRUPT_FILES])
def test_corrupt_file_is_a_clear_error(tmp_path, content, message):
    data_dir = dataset_dir_with(tmp_path, FILES["test_labels"], content)
    with pytest.raises(CorruptDatasetFile, match=message) as raised:
        datasets.load("mnist", data_dir, download=False)
    assert FILES["test_labels"] in str(raised.value)


def test_truncated_image_file_is_a_clear_error(tmp_path):
    images = gzip.decompress((SHARED / "mnist" / FILES["test_images"]).read_bytes())
    data_dir = dataset_dir_with(tmp_path, FILES["test_images"], gzip.compress(images[:-784]))
    with pytest.raises(CorruptDatasetFile, match="7839216 data bytes, the header promises 7840000"):
        datasets.load("mnist", data_dir, download=False)
