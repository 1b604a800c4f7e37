"""Model and checkpoint files: exact round trips, and every kind of damage rejected."""

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

import engine
from engine import serialization, storage
from engine.network import Network
from engine.serialization import ModelFileError

SPEC = {"layers": [{"units": 16, "activation": "tanh"}, {"units": 8, "activation": "relu", "dropout": 0.1},
                   {"units": 3, "activation": "softmax"}], "loss": "cross_entropy", "init": "xavier"}
RNG = np.random.default_rng(7)
X = RNG.random((64, 5), dtype=np.float32)
Y = (X[:, 0] * 3).astype(np.int64)


@pytest.fixture
def trained():
    net = Network.from_spec(SPEC, input_size=5, seed=3)
    net.fit(X, Y, epochs=3, batch_size=16, optimizer={"name": "adam", "learning_rate": 0.01},
            validation_split=0.25)
    return net


@pytest.fixture
def saved(trained, tmp_path):
    return serialization.save(trained, tmp_path / "model", metadata={"job_id": "abc"})


def manifest_of(path):
    return json.loads((path / "manifest.json").read_text())


def rewrite_manifest(path, **changes):
    manifest = {**manifest_of(path), **changes}
    (path / "manifest.json").write_text(json.dumps(manifest))


def replace_weights(path, arrays):
    """Write new weights.npz content and make the manifest's hash agree with it."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (path / "weights.npz").write_bytes(buffer.getvalue())
    rewrite_manifest(path, weights_sha256=hashlib.sha256(buffer.getvalue()).hexdigest())


def weights_of(path):
    with np.load(path / "weights.npz", allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def test_save_then_load_gives_identical_predictions(trained, saved):
    loaded = engine.load(saved)
    np.testing.assert_array_equal(loaded.predict_proba(X), trained.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))
    for mine, theirs in zip(loaded.params, trained.params, strict=True):
        assert mine["W"].dtype == np.float32
        np.testing.assert_array_equal(mine["W"], theirs["W"])
        np.testing.assert_array_equal(mine["b"], theirs["b"])
    assert loaded.spec == trained.spec and loaded.history == trained.history
    assert loaded.training_config == trained.training_config


def test_manifest_holds_the_contract_fields(trained, saved):
    manifest = manifest_of(saved)
    assert manifest["format_version"] == 1
    assert manifest["input_shape"] == [5] and manifest["classes"] == ["0", "1", "2"]
    assert manifest["weights_sha256"] == hashlib.sha256((saved / "weights.npz").read_bytes()).hexdigest()
    assert manifest["created_at"].endswith("Z") and manifest["metadata"] == {"job_id": "abc"}
    assert len(manifest["history"]) == 3 and manifest["history"][0]["val_loss"] is not None
    assert manifest["preprocessing"] == {"scale": "none"}
    assert sorted(path.name for path in saved.iterdir()) == ["manifest.json", "weights.npz"]


def test_dataset_supplies_classes_and_image_preprocessing(tmp_path):
    net = Network.from_spec({"layers": [{"units": 10, "activation": "softmax"}]}, input_size=784)
    path = net.save(tmp_path / "digits", metadata={"dataset": "fashion-mnist"})
    manifest = manifest_of(path)
    assert manifest["classes"][0] == "T-shirt/top" and manifest["dataset"] == "fashion-mnist"
    assert manifest["preprocessing"] == {"scale": "0-1", "image_shape": [28, 28]}
    assert serialization.read_manifest(path)["classes"] == manifest["classes"]


def test_single_sigmoid_unit_and_float64_round_trip(tmp_path):
    spec = {"layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
            "loss": "binary_cross_entropy"}
    net = Network.from_spec(spec, input_size=2, seed=1, dtype=np.float64)
    (X_xor, y_xor), _ = engine.datasets.load("xor")
    loaded = engine.load(net.save(tmp_path / "xor", dataset="xor"))
    assert loaded.params[0]["W"].dtype == np.float64
    np.testing.assert_array_equal(loaded.predict_proba(X_xor), net.predict_proba(X_xor))
    assert manifest_of(tmp_path / "xor")["classes"] == ["false", "true"]


def test_sigmoid_outputs_with_log_loss_round_trip(tmp_path):
    spec = {"layers": [{"units": 6, "activation": "sigmoid"}, {"units": 10, "activation": "sigmoid"}],
            "loss": "binary_cross_entropy"}
    net = Network.from_spec(spec, input_size=784, seed=2)
    X = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    loaded = engine.load(net.save(tmp_path / "bce", dataset="mnist"))
    assert loaded.spec["loss"] == "binary_cross_entropy" and loaded.sizes[-1] == 10
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    y = np.arange(5)
    assert loaded.compute_loss(X, y) == net.compute_loss(X, y)


def test_weights_are_plain_arrays_and_no_pickle_is_read(saved):
    with zipfile.ZipFile(saved / "weights.npz") as archive:
        assert sorted(archive.namelist()) == ["W0.npy", "W1.npy", "W2.npy", "b0.npy", "b1.npy", "b2.npy"]
    arrays = weights_of(saved)
    arrays["W0"] = np.array([{"evil": "pickle"}] * 80, dtype=object).reshape(5, 16)
    replace_weights(saved, arrays)
    with pytest.raises(ModelFileError, match="not a readable .npz"):
        engine.load(saved)


def flip_one_byte(path):
    content = bytearray((path / "weights.npz").read_bytes())
    content[len(content) // 2] ^= 0x01
    (path / "weights.npz").write_bytes(bytes(content))


def truncate(path):
    content = (path / "weights.npz").read_bytes()
    (path / "weights.npz").write_bytes(content[: len(content) // 2])


def truncate_and_rehash(path):
    content = (path / "weights.npz").read_bytes()[:-100]
    (path / "weights.npz").write_bytes(content)
    rewrite_manifest(path, weights_sha256=hashlib.sha256(content).hexdigest())


def edit_units(path):
    manifest = manifest_of(path)
    manifest["spec"]["layers"][0]["units"] = 17
    rewrite_manifest(path, spec=manifest["spec"])


def invalid_spec(path):
    manifest = manifest_of(path)
    manifest["spec"]["layers"][0]["activation"] = "softmax"
    rewrite_manifest(path, spec=manifest["spec"])


def with_arrays(change):
    def damage(path):
        arrays = weights_of(path)
        change(arrays)
        replace_weights(path, arrays)
    return damage


DAMAGE = [
    ("one byte flipped", flip_one_byte, "SHA-256"),
    ("weights truncated", truncate, "SHA-256"),
    ("weights truncated, hash updated", truncate_and_rehash, "not a readable .npz"),
    ("weights missing", lambda path: (path / "weights.npz").unlink(), "missing or unreadable"),
    ("manifest missing", lambda path: (path / "manifest.json").unlink(), "manifest.json is missing"),
    ("manifest not JSON", lambda path: (path / "manifest.json").write_text("{\"spec\": "), "not readable JSON"),
    ("manifest a list", lambda path: (path / "manifest.json").write_text("[]"), "JSON object"),
    ("future format", lambda path: rewrite_manifest(path, format_version=2), "format_version 2"),
    ("hash edited", lambda path: rewrite_manifest(path, weights_sha256="0" * 64), "SHA-256"),
    ("spec units edited", edit_units, r"W0 is float32\[5, 16\], expected float32\[5, 17\]"),
    ("spec made invalid", invalid_spec, "spec is invalid"),
    ("input shape edited", lambda path: rewrite_manifest(path, input_shape=[6]), "says 5 inputs"),
    ("input shape not a list of one int", lambda path: rewrite_manifest(path, input_shape=["5"]), "input_shape"),
    ("classes not strings", lambda path: rewrite_manifest(path, classes=[0, 1, 2]), "list of strings"),
    ("classes removed", lambda path: rewrite_manifest(path, classes=["a"]), "1 class names"),
    ("spec missing", lambda path: rewrite_manifest(path, spec=None), "'spec' is missing"),
    ("unknown dtype", lambda path: rewrite_manifest(path, dtype="int8"), "dtype 'int8'"),
    ("NaN weight", with_arrays(lambda arrays: arrays["b1"].__setitem__(0, np.nan)), "NaN or infinite"),
    ("extra array", with_arrays(lambda arrays: arrays.__setitem__("W3", np.zeros(2, np.float32))), "holds arrays"),
    ("array missing", with_arrays(lambda arrays: arrays.pop("b2")), "holds arrays"),
    ("wrong dtype", with_arrays(lambda arrays: arrays.__setitem__("W1", arrays["W1"].astype(np.float16))),
     "W1 is float16"),
]


@pytest.mark.parametrize(("damage", "message"), [case[1:] for case in DAMAGE], ids=[case[0] for case in DAMAGE])
def test_damaged_model_is_rejected_with_a_clear_error(saved, damage, message):
    damage(saved)
    with pytest.raises(ModelFileError, match=message):
        engine.load(saved)


def test_loading_a_directory_that_is_no_model(tmp_path):
    with pytest.raises(ModelFileError, match="not a saved model"):
        engine.load(tmp_path)


def test_overwriting_replaces_the_whole_directory(trained, saved, tmp_path):
    other = Network.from_spec({"layers": [{"units": 3, "activation": "softmax"}]}, input_size=5, seed=9)
    serialization.save(other, saved)
    assert engine.load(saved).spec == other.spec
    assert [path.name for path in tmp_path.iterdir()] == ["model"]  # no staging or old copies left


def test_overwrite_without_an_atomic_exchange_still_works(trained, saved, tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "_exchange", lambda first, second: False)  # a non-Linux OS
    other = Network.from_spec({"layers": [{"units": 3, "activation": "softmax"}]}, input_size=5, seed=9)
    serialization.save(other, saved)
    assert engine.load(saved).spec == other.spec
    assert [path.name for path in tmp_path.iterdir()] == ["model"]


def test_a_failed_write_leaves_the_previous_model_intact(trained, saved, tmp_path):
    before = (saved / "weights.npz").read_bytes()
    with pytest.raises(TypeError):
        storage.write_directory(saved, {"manifest.json": b"{}", "weights.npz": None})
    assert (saved / "weights.npz").read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["model"]
    np.testing.assert_array_equal(engine.load(saved).predict(X), trained.predict(X))


def test_save_rejects_class_names_of_the_wrong_length(trained, tmp_path):
    with pytest.raises(ValueError, match="2 class names"):
        serialization.save(trained, tmp_path / "m", classes=["a", "b"])


# ---- checkpoints --------------------------------------------------------------------------------


def test_checkpoint_round_trip_is_exact(trained, tmp_path):
    checkpoint = trained.checkpoint()
    serialization.save_checkpoint(tmp_path / "ckpt", checkpoint)
    assert sorted(path.name for path in (tmp_path / "ckpt").iterdir()) == ["arrays.npz", "checkpoint.json"]
    assert_same(serialization.load_checkpoint(tmp_path / "ckpt"), checkpoint)


def assert_same(actual, expected):
    if isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)
    elif isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected)
        for mine, theirs in zip(actual, expected, strict=True):
            assert_same(mine, theirs)
    else:
        assert actual == expected


def test_resuming_from_a_loaded_checkpoint_equals_an_uninterrupted_run(tmp_path):
    config = {"batch_size": 16, "optimizer": {"name": "momentum", "learning_rate": 0.05},
              "early_stopping": {"patience": 5, "monitor": "loss"}}
    straight = Network.from_spec(SPEC, input_size=5, seed=3)
    straight.fit(X, Y, epochs=4, **config)
    first = Network.from_spec(SPEC, input_size=5, seed=3)
    first.fit(X, Y, epochs=2, **config)
    serialization.save_checkpoint(tmp_path / "ckpt", first.checkpoint())
    resumed = Network.from_spec(SPEC, input_size=5, seed=3)
    resumed.fit(X, Y, epochs=4, resume_from=serialization.load_checkpoint(tmp_path / "ckpt"), **config)
    for mine, theirs in zip(resumed.params, straight.params, strict=True):
        np.testing.assert_array_equal(mine["W"], theirs["W"])
    assert [entry["loss"] for entry in resumed.history] == [entry["loss"] for entry in straight.history]


def test_checkpoint_values_json_cannot_hold(tmp_path):
    generator = np.random.default_rng(5)
    checkpoint = {"best": float("inf"), "floor": -np.inf, "step": np.int64(3), "rate": np.float32(0.5),
                  "rng": generator, "nested": [{"m": np.arange(4.0)}, (1, "two", None)]}
    serialization.save_checkpoint(tmp_path / "c", checkpoint)
    loaded = serialization.load_checkpoint(tmp_path / "c")
    assert loaded["best"] == float("inf") and loaded["floor"] == -float("inf")
    assert loaded["step"] == 3 and loaded["rate"] == 0.5
    assert loaded["rng"].random() == generator.random()  # same state, same next draw
    np.testing.assert_array_equal(loaded["nested"][0]["m"], np.arange(4.0))
    assert loaded["nested"][1] == [1, "two", None]
    json.loads((tmp_path / "c" / "checkpoint.json").read_text())  # strict JSON on disk


def test_checkpoint_refuses_objects_it_cannot_store_safely(tmp_path):
    with pytest.raises(TypeError, match="checkpoint.callback"):
        serialization.save_checkpoint(tmp_path / "c", {"callback": print})


def flip_checkpoint_byte(path):
    content = bytearray((path / "arrays.npz").read_bytes())
    content[100] ^= 0xFF
    (path / "arrays.npz").write_bytes(bytes(content))


def edit_checkpoint(path, change):
    document = json.loads((path / "checkpoint.json").read_text())
    change(document)
    (path / "checkpoint.json").write_text(json.dumps(document))


CHECKPOINT_DAMAGE = [
    ("arrays byte flipped", flip_checkpoint_byte, "SHA-256"),
    ("arrays missing", lambda path: (path / "arrays.npz").unlink(), "missing or unreadable"),
    ("json missing", lambda path: (path / "checkpoint.json").unlink(), "is missing"),
    ("json truncated", lambda path: (path / "checkpoint.json").write_text("{"), "not readable JSON"),
    ("future format", lambda path: edit_checkpoint(path, lambda doc: doc.update(format_version=9)), "format version"),
    ("array table edited", lambda path: edit_checkpoint(path, lambda doc: doc["arrays"]["a0"].__setitem__(0, [1])),
     "expected"),
    ("dangling array reference",
     lambda path: edit_checkpoint(path, lambda doc: doc["checkpoint"].update(epoch={"__array__": "zz"})),
     "missing array 'zz'"),
    ("unknown generator",
     lambda path: edit_checkpoint(path, lambda doc: doc["checkpoint"].update(rng={"__generator__": {"bit_generator": "Evil"}})),
     "unknown random bit generator"),
]


@pytest.mark.parametrize(("damage", "message"), [case[1:] for case in CHECKPOINT_DAMAGE],
                         ids=[case[0] for case in CHECKPOINT_DAMAGE])
def test_damaged_checkpoint_is_rejected(trained, tmp_path, damage, message):
    path = serialization.save_checkpoint(tmp_path / "ckpt", trained.checkpoint())
    damage(path)
    with pytest.raises(ModelFileError, match=message):
        serialization.load_checkpoint(path)
