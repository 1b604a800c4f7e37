"""Safe model and checkpoint files: JSON manifests plus .npz arrays, never pickle.

A model is a directory holding `manifest.json` and `weights.npz`; a checkpoint is a directory
holding `checkpoint.json` and `arrays.npz`. Every write builds the whole directory beside its
destination and then swaps it in, so a reader sees the old files or the new ones, never a mix.
Every read checks the SHA-256 recorded in the JSON, then every array's name, shape, dtype and
finiteness, and raises ModelFileError with the reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine import spec as specs
from engine.datasets import DATASETS, preprocessing_for
from engine.storage import write_directory
from engine.tasks import TargetScale

FORMAT_VERSION = 1
MANIFEST, WEIGHTS = "manifest.json", "weights.npz"  # the one place these names are written
MODEL_FILES = {"manifest": MANIFEST, "weights": WEIGHTS}  # every file of a model, by short name
CHECKPOINT, CHECKPOINT_ARRAYS = "checkpoint.json", "arrays.npz"
WEIGHT_DTYPES = ("float32", "float64")


class ModelFileError(ValueError):
    """A model or checkpoint directory is missing, truncated, tampered with or inconsistent."""


# ---- models -------------------------------------------------------------------------------------


def save(net, path, metadata: dict | None = None, *, dataset: str | None = None,
         classes: list[str] | None = None, preprocessing: dict | None = None) -> Path:
    """Write `net` to the directory `path` atomically (replacing any model there).

    `dataset` (or `metadata["dataset"]`) names an engine dataset, which supplies the class
    names and the input preprocessing unless `classes` / `preprocessing` are given. A
    regression network has no classes; its `target_scale` is written as the manifest's
    `target_scale` ({"mean": [...], "std": [...]} or null) and must agree with a regression
    target's mean and std in `preprocessing`.
    """
    dataset = dataset or (metadata or {}).get("dataset")
    info = DATASETS.get(dataset) if isinstance(dataset, str) else None
    num_classes = net.num_classes or 0  # None for regression
    if classes is None:
        classes = list(info.classes) if info and num_classes else [
            str(label) for label in range(num_classes)]
    if len(classes) != num_classes:
        raise ValueError(f"{len(classes)} class names for a network with {num_classes} classes")
    weights = _npz_bytes(_weight_arrays(net))
    manifest = {
        "format_version": FORMAT_VERSION,
        "spec": net.spec,
        "training_config": net.training_config,
        "history": net.history,
        "dataset": dataset,
        "classes": [str(name) for name in classes],
        "input_shape": [net.input_size],
        "preprocessing": preprocessing if preprocessing is not None else _preprocessing(info),
        "dtype": str(net.params[0]["W"].dtype),
        "parameter_count": sum(layer["W"].size + layer["b"].size for layer in net.params),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "metadata": metadata or {},
    }
    if net.task == "regression":  # classification manifests stay as they were
        _check_target_scale(net.target_scale, manifest["preprocessing"])
        manifest["target_scale"] = None if net.target_scale is None else net.target_scale.to_dict()
    return write_directory(path, {MANIFEST: _json_bytes(_plain(manifest)), WEIGHTS: weights})


def _preprocessing(info) -> dict:
    if info is not None and info.kind == "table":  # a built-in table: engine.tables' dict
        return preprocessing_for(info.name).to_dict()
    if info is not None and info.image_shape is not None:
        return {"scale": "0-1", "image_shape": list(info.image_shape)}
    return {"scale": "none"}


def _check_target_scale(scale: TargetScale | None, preprocessing) -> None:
    """A regression target's mean and std in the table preprocessing (engine.tables) are the
    network's target scale: raises ValueError when they differ."""
    expected = TargetScale.of_preprocessing(preprocessing)
    if expected is not None and scale != expected:
        raise ValueError(f"the target scale {scale} differs from the preprocessing target's {expected}")


def _weight_arrays(net) -> dict[str, np.ndarray]:
    arrays = {}
    for index, layer in enumerate(net.params):
        arrays[f"W{index}"], arrays[f"b{index}"] = layer["W"], layer["b"]
    return arrays


def read_manifest(path) -> dict:
    """The manifest of the model at `path`, checked for the fields `load` relies on."""
    manifest = _read_json(Path(path) / MANIFEST)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format_version {version!r} is not supported (this engine "
                             f"reads version {FORMAT_VERSION})")
    for key, kind in (("spec", dict), ("input_shape", list), ("classes", list),
                      ("weights_sha256", str), ("history", list)):
        if not isinstance(manifest.get(key), kind):
            raise ModelFileError(f"{path}/{MANIFEST}: {key!r} is missing or not a {kind.__name__}")
    if not all(isinstance(name, str) for name in manifest["classes"]):
        raise ModelFileError(f"{path}/{MANIFEST}: classes must be a list of strings")
    shape = manifest["input_shape"]
    if len(shape) != 1 or not isinstance(shape[0], int) or isinstance(shape[0], bool) or shape[0] < 1:
        raise ModelFileError(f"{path}/{MANIFEST}: input_shape must be [n] with n >= 1, got {shape}")
    return manifest


def read_model(path) -> dict:
    """The checked contents of the model directory `path`, for `Network.load`:
    {"spec", "input_size", "dtype", "classes", "params", "history", "training_config",
    "target_scale" (a TargetScale or None)}."""
    path = Path(path)
    manifest = read_manifest(path)
    input_size = manifest["input_shape"][0]
    try:
        spec = specs.validate_model_spec(manifest["spec"], input_size=input_size)
    except specs.SpecError as error:
        raise ModelFileError(f"{path}/{MANIFEST}: the spec is invalid: {error}") from error
    dtype = manifest.get("dtype", "float32")
    if dtype not in WEIGHT_DTYPES:
        raise ModelFileError(f"{path}/{MANIFEST}: dtype {dtype!r} is not one of {WEIGHT_DTYPES}")
    sizes = [input_size] + [layer["units"] for layer in spec["layers"]]
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
    expected = {}
    for index, (fan_in, fan_out) in enumerate(shapes):
        expected[f"W{index}"] = ((fan_in, fan_out), np.dtype(dtype))
        expected[f"b{index}"] = ((fan_out,), np.dtype(dtype))
    arrays = _read_npz(path / WEIGHTS, manifest["weights_sha256"], expected)
    scale = _read_target_scale(manifest, spec, path)
    return {"spec": spec, "input_size": input_size, "dtype": np.dtype(dtype),
            "target_scale": scale,
            "classes": manifest["classes"], "history": manifest["history"],
            "training_config": manifest.get("training_config"),
            "params": [{"W": arrays[f"W{index}"], "b": arrays[f"b{index}"]}
                       for index in range(len(shapes))]}


def _read_target_scale(manifest: dict, spec: dict, path: Path) -> TargetScale | None:
    """The manifest's `target_scale` (absent in classification and older manifests: None),
    checked: only on a regression network, one mean and std > 0 per output unit, agreeing
    with the preprocessing target."""
    value, where = manifest.get("target_scale"), f"{path}/{MANIFEST}"
    if spec["task"] != "regression":
        if value is not None:
            raise ModelFileError(f"{where}: a {spec['task']} model has no target_scale")
        return None
    if value is not None and not isinstance(value, dict):
        raise ModelFileError(f"{where}: target_scale must be an object {{mean, std}} or null")
    try:
        scale = TargetScale.of(value)
        _check_target_scale(scale, manifest.get("preprocessing"))
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{where}: target_scale is invalid ({error})") from error
    units = spec["layers"][-1]["units"]
    if scale is not None and scale.outputs != units:
        raise ModelFileError(f"{where}: target_scale has {scale.outputs} columns for {units} "
                             "output units")
    return scale


# ---- checkpoints --------------------------------------------------------------------------------


def save_checkpoint(path, checkpoint: dict) -> Path:
    """Write a `Network.checkpoint()` dict atomically: arrays to .npz, the rest to JSON.

    Arrays anywhere in the dict are replaced in the JSON by {"__array__": name}; a NumPy
    Generator by {"__generator__": its bit generator's state}, so resuming draws the same
    numbers; non-finite floats by {"__float__": "inf"} (JSON has no infinity).
    """
    arrays: dict[str, np.ndarray] = {}
    document = _encode(checkpoint, arrays)
    blob = _npz_bytes(arrays)
    document = {"format_version": FORMAT_VERSION, "arrays_sha256": hashlib.sha256(blob).hexdigest(),
                "arrays": {name: [list(array.shape), str(array.dtype)] for name, array in arrays.items()},
                "checkpoint": document}
    return write_directory(path, {CHECKPOINT: _json_bytes(document), CHECKPOINT_ARRAYS: blob})


def load_checkpoint(path) -> dict:
    """Read a checkpoint directory written by `save_checkpoint`; raises ModelFileError."""
    path = Path(path)
    document = _read_json(path / CHECKPOINT)
    if document.get("format_version") != FORMAT_VERSION or not isinstance(document.get("arrays"), dict):
        raise ModelFileError(f"{path}/{CHECKPOINT}: not a checkpoint of format version {FORMAT_VERSION}")
    try:
        expected = {name: (tuple(shape), np.dtype(dtype))
                    for name, (shape, dtype) in document["arrays"].items()}
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}/{CHECKPOINT}: malformed array table ({error})") from error
    arrays = _read_npz(path / CHECKPOINT_ARRAYS, document.get("arrays_sha256"), expected,
                       require_finite=False)
    return _decode(document.get("checkpoint"), arrays, path)


def _encode(value, arrays: dict, where: str = "checkpoint"):
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, np.random.Generator):
        return {"__generator__": _plain(value.bit_generator.state)}
    if isinstance(value, dict):
        return {str(key): _encode(item, arrays, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item, arrays, f"{where}[{index}]") for index, item in enumerate(value)]
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{where}: cannot store a {type(value).__name__} in a checkpoint")


def _decode(value, arrays: dict, path: Path):
    if isinstance(value, list):
        return [_decode(item, arrays, path) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__array__"}:
        if value["__array__"] not in arrays:
            raise ModelFileError(f"{path}: the checkpoint refers to a missing array {value['__array__']!r}")
        return arrays[value["__array__"]]
    if set(value) == {"__generator__"}:
        return _generator(value["__generator__"], path)
    if set(value) == {"__float__"} and value["__float__"] in ("inf", "-inf", "nan"):
        return float(value["__float__"])
    return {key: _decode(item, arrays, path) for key, item in value.items()}


BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM,
                  "Philox": np.random.Philox, "SFC64": np.random.SFC64, "MT19937": np.random.MT19937}


def _generator(state, path: Path) -> np.random.Generator:
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in BIT_GENERATORS:
        raise ModelFileError(f"{path}: unknown random bit generator {kind!r}")
    bit_generator = BIT_GENERATORS[kind]()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ModelFileError(f"{path}: invalid random generator state ({error})") from error
    return np.random.Generator(bit_generator)


# ---- shared file handling -----------------------------------------------------------------------


def _plain(value):
    """NumPy scalars and arrays inside JSON-bound data as plain Python values."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_bytes(document) -> bytes:
    # manifests are strict JSON: NaN/inf (never in a finished history) become null
    def finite(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(document), indent=2, allow_nan=False).encode() + b"\n"


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.ascontiguousarray(array) for name, array in arrays.items()})
    return buffer.getvalue()


def _read_json(file: Path) -> dict:
    try:
        document = json.loads(file.read_bytes())
    except FileNotFoundError as error:
        raise ModelFileError(f"{file} is missing: {file.parent} is not a saved model/checkpoint") from error
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ModelFileError(f"{file} is not readable JSON ({error})") from error
    if not isinstance(document, dict):
        raise ModelFileError(f"{file} must hold a JSON object")
    return document


def _read_npz(file: Path, sha256: object, expected: dict, *, require_finite: bool = True) -> dict:
    """The arrays of `file`, after checking its hash and every array against `expected`
    ({name: (shape, dtype)}). The bytes hashed are the bytes parsed."""
    try:
        blob = file.read_bytes()
    except OSError as error:
        raise ModelFileError(f"{file} is missing or unreadable ({error})") from error
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise ModelFileError(f"{file}: SHA-256 {actual} does not match the recorded {sha256}: "
                             "the file is truncated, corrupt or was modified")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{file}: not a readable .npz archive ({error})") from error
    if set(arrays) != set(expected):
        raise ModelFileError(f"{file}: holds arrays {sorted(arrays)}, expected {sorted(expected)}")
    for name, (shape, dtype) in expected.items():
        array = arrays[name]
        if array.shape != tuple(shape) or array.dtype != dtype:
            raise ModelFileError(f"{file}: array {name} is {array.dtype}{list(array.shape)}, "
                                 f"expected {dtype}{list(shape)}")
        if require_finite and not np.isfinite(array).all():
            raise ModelFileError(f"{file}: array {name} holds NaN or infinite values")
    return arrays
