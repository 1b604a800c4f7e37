"""Datasets: MNIST-format IDX files (downloaded and verified when missing), logic gates, and
small built-in tables (engine/data/, read by engine.table_datasets)."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine import table_datasets
from engine.storage import fsync_directory
from engine.tables import CLASSIFICATION, TablePreprocessing

DEFAULT_DATA_DIR = Path("~/.cache/mlpq/datasets")
IMAGE_SHAPE = (28, 28)
FILES = {  # role -> file name, the same for every MNIST-format dataset
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
DOWNLOAD_TIMEOUT_SECONDS = 60
MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest file is 26 MB: a mirror sending more is broken


class DatasetUnavailable(RuntimeError):
    """A dataset's files are missing (and could not be downloaded) or unreadable."""


class CorruptDatasetFile(DatasetUnavailable):
    """A dataset file exists but is not a valid IDX file of the expected shape."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is: input width, classes, and where its data comes from."""

    name: str
    input_size: int
    num_classes: int  # 0 for a regression table (one output value: see output_size)
    classes: tuple[str, ...]
    kind: str  # "image" (28x28 IDX files), "gate" (a 4-row truth table) or "table" (engine/data)
    train_size: int = 4
    test_size: int = 4
    mirrors: tuple[str, ...] = ()
    sha256: dict[str, str] = field(default_factory=dict)  # data file -> SHA-256
    task: str = CLASSIFICATION  # or "regression" (tables)
    target: str | None = None  # tables: the label column's name
    feature_names: tuple[str, ...] = ()  # tables: the input columns, in order
    files: tuple[str, ...] = ()  # tables: the data files in engine/data/
    source: str = ""  # tables: where the data comes from
    licence: str = ""

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return IMAGE_SHAPE if self.kind == "image" else None

    @property
    def output_size(self) -> int:
        """Units of the output layer: one per class, or one value for regression."""
        return self.num_classes if self.task == CLASSIFICATION else 1


DIGITS = tuple(str(digit) for digit in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
GATE_INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))
GATE_OUTPUTS = {"xor": (0, 1, 1, 0), "and": (0, 0, 0, 1), "or": (0, 1, 1, 1)}

DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", 784, 10, DIGITS, "image", 60000, 10000,
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        # The canonical files' SHA-256 (their MD5s are the ones published with MNIST).
        sha256={
            FILES["train_images"]: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            FILES["train_labels"]: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            FILES["test_images"]: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            FILES["test_labels"]: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        }),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", 784, 10, FASHION, "image", 60000, 10000,
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        # Upstream (Zalando) release hashes, as recorded in Britefury/batchup
        # (batchup/datasets/fashion_mnist.py) and, identically, in Connor Olding's `mnists`.
        sha256={
            FILES["train_images"]: "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
            FILES["train_labels"]: "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
            FILES["test_images"]: "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
            FILES["test_labels"]: "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
        }),
    **{name: DatasetInfo(name, 2, 2, ("false", "true"), "gate") for name in GATE_OUTPUTS},
    **{name: DatasetInfo(name, len(fields["feature_names"]), len(fields["classes"]), kind="table",
                         **fields) for name, fields in table_datasets.TABLES.items()},
}

_cache: dict[tuple[str, str], tuple] = {}
_cache_lock = threading.Lock()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: the argument, else $MLPQ_DATA_DIR, else ~/.cache/mlpq/datasets."""
    chosen = data_dir or os.environ.get("MLPQ_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


def load(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = True):
    """Return `((X_train, y_train), (X_test, y_test))`, read-only and cached per process.

    X: (n, input_size) float32, in [0, 1] for images; y: (n,) int64 class indices, or float32
    standardised values for a regression table. Missing IDX files are downloaded (SHA-256
    verified) unless `download` is False. Tables come standardised with `preprocessing_for`'s
    statistics, from a split made once with a fixed seed. Raises DatasetUnavailable.
    """
    info = dataset_info(name)
    if info.kind == "gate":
        return _gate(name)
    if info.kind == "table":
        return _table(info)[1]
    directory = resolve_data_dir(data_dir) / name
    key = (name, str(directory.resolve()))
    with _cache_lock:  # one load per dataset even when threads ask at once
        if key not in _cache:
            if download:
                fetch(name, directory.parent)
            _cache[key] = _read_idx_dataset(info, directory)
        return _cache[key]


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise DatasetUnavailable(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return DATASETS[name]


def preprocessing_for(name: str) -> TablePreprocessing | None:
    """What a built-in table's rows go through before the first layer (for the model's
    manifest); None for the image and gate datasets."""
    info = dataset_info(name)
    return _table(info)[0] if info.kind == "table" else None


def _table(info: DatasetInfo):
    try:
        return table_datasets.prepared(info)
    except (OSError, table_datasets.TableFileError) as error:
        raise CorruptDatasetFile(f"built-in table {info.name!r}: {error}") from error


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _gate(name: str):
    X = np.array(GATE_INPUTS, dtype=np.float32)
    y = np.array(GATE_OUTPUTS[name], dtype=np.int64)
    X, y = _read_only(X, y)
    return (X, y), (X, y)  # a truth table has nothing held out: train == test


# ---- IDX files ----------------------------------------------------------------------------------


def load_test(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = True):
    """Return `(X_test, y_test)` only, as `load` gives them, without reading the training split.

    Not cached: for processes that only look at test examples (the API's mistakes view),
    which keep their own copy rather than the 60,000 training images `load` would hold.
    """
    info = dataset_info(name)
    if info.kind == "gate":
        return _gate(name)[1]
    if info.kind == "table":
        return _table(info)[1][1]
    directory = resolve_data_dir(data_dir) / name
    if download:
        fetch(name, directory.parent)
    return _read_idx_dataset(info, directory, splits=("test",))[0]


def _read_idx_dataset(info: DatasetInfo, directory: Path, splits=("train", "test")):
    sizes = {split: {"train": info.train_size, "test": info.test_size}[split] for split in splits}
    needed = [FILES[f"{split}_{part}"] for split in splits for part in ("images", "labels")]
    missing = [file for file in needed if not (directory / file).is_file()]
    if missing:
        raise DatasetUnavailable(_missing_message(info, directory, missing))
    labels = {split: _read_labels(info, directory / FILES[f"{split}_labels"], size)
              for split, size in sizes.items()}  # the small files first: damage shows at once
    arrays = []
    for split, size in sizes.items():
        images = read_idx(directory / FILES[f"{split}_images"], (size, *IMAGE_SHAPE))
        X = images.reshape(size, info.input_size).astype(np.float32)
        X /= np.float32(255.0)
        arrays.append(_read_only(X, labels[split]))
    return tuple(arrays)


def _read_labels(info: DatasetInfo, path: Path, size: int) -> np.ndarray:
    labels = read_idx(path, (size,))
    if labels.max() >= info.num_classes:
        raise CorruptDatasetFile(f"{path}: label {labels.max()} is out of range for "
                                 f"{info.num_classes} classes")
    return labels.astype(np.int64)


def read_idx(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes whose header must declare `shape`.

    Header: two zero bytes, type code 0x08 (ubyte), number of dimensions, then each
    dimension as a big-endian uint32; the payload must hold exactly their product.
    """
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:
        raise CorruptDatasetFile(f"{path}: not a complete gzip file ({error}); delete it "
                                 "and load again to download a fresh copy") from error
    ndim = len(shape)
    header_size = 4 + 4 * ndim
    if len(raw) < header_size or raw[:4] != bytes((0, 0, 0x08, ndim)):
        raise CorruptDatasetFile(f"{path}: not an IDX file of unsigned bytes with {ndim} "
                                 f"dimension{'s' if ndim > 1 else ''} (header {raw[:4].hex()})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if dims != shape:
        raise CorruptDatasetFile(f"{path}: header says shape {dims}, expected {shape}")
    payload = raw[header_size:]
    expected = int(np.prod(shape))
    if len(payload) != expected:
        raise CorruptDatasetFile(f"{path}: {len(payload)} data bytes, the header promises "
                                 f"{expected} (truncated or padded file)")
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def _missing_message(info: DatasetInfo, directory: Path, missing: list[str]) -> str:
    return (f"dataset {info.name!r} is not available: missing {', '.join(missing)} in "
            f"{directory}. Put the four files {', '.join(FILES.values())} in {directory} "
            "(or set MLPQ_DATA_DIR to a directory holding a "
            f"{info.name}/ folder with them)")


# ---- downloads --------------------------------------------------------------------------------


def mirrors_for(info: DatasetInfo) -> list[str]:
    """$MLPQ_DATASET_MIRRORS (space-separated base URLs laid out like a data directory:
    `<base><name>/<file>`) replaces the public mirrors when set."""
    override = os.environ.get("MLPQ_DATASET_MIRRORS", "").split()
    if override:
        return [f"{base.rstrip('/')}/{info.name}/" for base in override]
    return list(info.mirrors)


def fetch(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Download whichever of dataset `name`'s files are missing; return its directory."""
    info = dataset_info(name)
    directory = resolve_data_dir(data_dir) / name
    missing = [file for file in FILES.values() if not (directory / file).is_file()]
    for file in missing:
        failures = _download(info, directory, file)
        if failures:  # stop at the first file no mirror delivers: offline, likely all fail
            raise DatasetUnavailable(_missing_message(info, directory, missing)
                                     + ". Downloading failed: " + "; ".join(failures))
    return directory


def _download(info: DatasetInfo, directory: Path, file: str) -> list[str]:
    """Fetch `file` from the first mirror that serves it with the right SHA-256; return
    the failures (empty on success). The file appears atomically or not at all."""
    failures = []
    for base in mirrors_for(info):
        url = base + file
        try:
            _download_to(url, directory / file, info.sha256[file])
            return []
        except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
            failures.append(f"{url}: {error}")
    return failures


def _download_to(url: str, target: Path, sha256: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            while chunk := response.read(1 << 20):
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise ValueError(f"more than {MAX_DOWNLOAD_BYTES} bytes: not the dataset file")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ValueError(f"SHA-256 mismatch: got {digest.hexdigest()}, expected {sha256}")
        os.replace(temporary, target)
        fsync_directory(target.parent)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)

