"""Request validation: bad specs give 422 naming the field; malformed requests 400/404/405/409/413/415."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from api.core.services import services
from engine.spec import TRAINING_DEFAULTS
from tests.support.api import limited, make_app

VALID = {
    "name": "mnist-mlp",
    "dataset": "mnist",
    "model": {"layers": [{"units": 128, "activation": "relu"}, {"units": 10, "activation": "softmax"}],
              "loss": "cross_entropy", "init": "he"},
    "training": {"optimizer": {"name": "adam", "learning_rate": 0.001}, "batch_size": 128,
                 "epochs": 5, "seed": 0, "validation_split": 0.1, "early_stopping": {"patience": 3}},
}


def spec_with(change):
    body = copy.deepcopy(VALID)
    change(body)
    return body


def _parent(body, path):
    for key in path[:-1]:
        body = body[key]
    return body


def set_in(*path_and_value):
    *path, value = path_and_value
    return lambda body: _parent(body, path).__setitem__(path[-1], value)


def delete(*path):
    return lambda body: _parent(body, path).__delitem__(path[-1])


# (case id, how the valid spec is broken, the field path the 422 must name)
BAD_SPECS = [
    ("units-string", set_in("model", "layers", 0, "units", "128"), "model.layers[0].units"),
    ("units-bool", set_in("model", "layers", 0, "units", True), "model.layers[0].units"),
    ("units-float", set_in("model", "layers", 0, "units", 1.5), "model.layers[0].units"),
    ("units-zero", set_in("model", "layers", 0, "units", 0), "model.layers[0].units"),
    ("units-over-limit", set_in("model", "layers", 0, "units", 4097), "model.layers[0].units"),
    ("unknown-activation", set_in("model", "layers", 0, "activation", "relux"), "model.layers[0].activation"),
    ("unknown-loss", set_in("model", "loss", "hinge"), "model.loss"),
    ("unknown-init", set_in("model", "init", "glorot"), "model.init"),
    ("unknown-optimizer", set_in("training", "optimizer", "name", "adamw"), "training.optimizer.name"),
    ("unknown-dataset", set_in("dataset", "cifar10"), "dataset"),
    ("softmax-mid-network", set_in("model", "layers", 0, "activation", "softmax"), "model.layers[0].activation"),
    ("bce-with-3-outputs-for-10-classes", lambda b: (
        b["model"].update(loss="binary_cross_entropy"),
        b["model"]["layers"][1].update(activation="sigmoid", units=3)), "model.layers[1].units"),
    ("cross-entropy-without-softmax", set_in("model", "layers", 1, "activation", "sigmoid"),
     "model.layers[1].activation"),
    ("output-width-vs-dataset", set_in("model", "layers", 1, "units", 5), "model.layers[1].units"),
    ("too-many-layers", set_in("model", "layers",
                               [{"units": 8, "activation": "relu"}] * 16 + [{"units": 10, "activation": "softmax"}]),
     "model.layers"),
    ("too-many-parameters", set_in("model", "layers", [
        {"units": 4096, "activation": "relu"}, {"units": 4096, "activation": "relu"},
        {"units": 10, "activation": "softmax"}]), "model.layers"),
    ("no-layers", set_in("model", "layers", []), "model.layers"),
    ("layers-missing", delete("model", "layers"), "model.layers"),
    ("layers-not-a-list", set_in("model", "layers", {"units": 10}), "model.layers"),
    ("layer-not-an-object", set_in("model", "layers", 0, 128), "model.layers[0]"),
    ("model-missing", delete("model"), "model"),
    ("dataset-missing", delete("dataset"), "dataset"),
    ("unknown-top-level-key", set_in("epochs", 5), "epochs"),
    ("unknown-layer-key", set_in("model", "layers", 0, "neurons", 5), "model.layers[0].neurons"),
    ("unknown-training-key", set_in("training", "lr", 0.1), "training.lr"),
    ("negative-dropout", set_in("model", "layers", 0, "dropout", -0.1), "model.layers[0].dropout"),
    ("dropout-one", set_in("model", "layers", 0, "dropout", 1.0), "model.layers[0].dropout"),
    ("epochs-over-limit", set_in("training", "epochs", 100_001), "training.epochs"),
    ("work-over-limit", set_in("training", "epochs", 20_000), "training.epochs"),  # 2.2e14 FLOPs
    ("epochs-float", set_in("training", "epochs", 5.0), "training.epochs"),
    ("batch-size-zero", set_in("training", "batch_size", 0), "training.batch_size"),
    ("batch-size-over-limit", set_in("training", "batch_size", 60001), "training.batch_size"),
    ("learning-rate-zero", set_in("training", "optimizer", "learning_rate", 0), "training.optimizer.learning_rate"),
    ("learning-rate-string", set_in("training", "optimizer", "learning_rate", "0.01"),
     "training.optimizer.learning_rate"),
    ("optimizer-not-object", set_in("training", "optimizer", "adam"), "training.optimizer"),
    ("shuffle-int-as-bool", set_in("training", "shuffle", 1), "training.shuffle"),
    ("shuffle-string", set_in("training", "shuffle", "yes"), "training.shuffle"),
    ("validation-split-one", set_in("training", "validation_split", 1.0), "training.validation_split"),
    ("seed-negative", set_in("training", "seed", -1), "training.seed"),
    ("monitor-without-validation", set_in("training", "validation_split", 0.0),
     "training.early_stopping.monitor"),
    ("patience-negative", set_in("training", "early_stopping", "patience", -1),
     "training.early_stopping.patience"),
    ("unknown-schedule", set_in("training", "lr_schedule", {"name": "linear"}), "training.lr_schedule.name"),
    ("parameter-of-another-schedule", set_in("training", "lr_schedule", {"name": "cosine", "gamma": 0.5}),
     "training.lr_schedule.gamma"),
    ("step-gamma-above-one", set_in("training", "lr_schedule", {"name": "step", "gamma": 2}),
     "training.lr_schedule.gamma"),
    ("input-size-mismatch", set_in("model", "input_size", 100), "model.input_size"),
    ("name-too-long", set_in("name", "x" * 101), "name"),
    ("name-control-character", set_in("name", "bad\nname"), "name"),
    ("name-not-string", set_in("name", 7), "name"),
]


@pytest.mark.parametrize("change, path", [case[1:] for case in BAD_SPECS], ids=[case[0] for case in BAD_SPECS])
def test_bad_spec_is_422_naming_the_field(client, change, path):
    response = client.post("/v1/jobs", json=spec_with(change))
    body = response.get_json()
    assert response.status_code == 422, body
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert path in body["errors"], body["errors"]
    assert all(isinstance(text, str) and text for text in body["errors"][path])
    assert path in body["message"] or len(body["errors"]) > 3


def test_every_violation_is_listed_at_once(client):
    def break_many(body):
        body["model"]["layers"][0]["units"] = "wide"
        body["model"]["layers"][0]["activation"] = "softmax"
        body["model"]["layers"][1]["units"] = 7
        body["training"]["epochs"] = 100_001
        body["training"]["optimizer"]["name"] = "rmsprop"
        body["colour"] = "blue"

    errors = client.post("/v1/jobs", json=spec_with(break_many)).get_json()["errors"]
    assert {"model.layers[0].units", "model.layers[0].activation", "model.layers[1].units",
            "training.epochs", "training.optimizer.name", "colour"} <= set(errors)


def test_engine_message_names_the_rule(client):
    body = client.post("/v1/jobs", json=spec_with(set_in("model", "layers", 0, "activation", "softmax")))
    assert body.get_json()["errors"]["model.layers[0].activation"] == [
        "softmax is only allowed on the output layer"]


def test_defaults_are_filled_in(idle_client):
    response = idle_client.post("/v1/jobs", json={
        "dataset": "mnist", "model": {"layers": [{"units": 10, "activation": "softmax"}]}})
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["name"] == "mnist-10"
    assert job["status"] == "queued"
    assert job["spec"]["model"] == {"layers": [{"units": 10, "activation": "softmax", "dropout": 0.0}],
                                    "task": "classification", "loss": "cross_entropy", "init": "he",
                                    "input_size": 784}
    assert job["spec"]["training"] == TRAINING_DEFAULTS
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert idle_client.get(response.headers["Location"]).get_json()["spec"] == job["spec"]


def test_ten_sigmoid_outputs_with_log_loss_are_accepted(idle_client):
    """The all-sigmoid tutorial net: one sigmoid unit per digit, per-unit log loss."""
    body = spec_with(lambda b: (b["model"].update(loss="binary_cross_entropy"),
                                b["model"]["layers"][1].update(activation="sigmoid")))
    response = idle_client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["spec"]["model"]["layers"][1]["units"] == 10


def test_null_training_means_defaults(idle_client):
    response = idle_client.post("/v1/jobs", json={
        "dataset": "xor", "training": None,
        "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "softmax"}]}})
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["spec"]["training"] == TRAINING_DEFAULTS


def test_limits_come_from_settings(idle_settings):
    client = make_app(limited(idle_settings, max_layers=2, max_epochs=3, max_units=100,
                              max_batch_size=32, max_parameters=60_000)).test_client()

    def post(layers, epochs=3, batch_size=32):
        return client.post("/v1/jobs", json={
            "dataset": "mnist", "model": {"layers": layers},
            "training": {"epochs": epochs, "batch_size": batch_size}})

    # 785*64 + 65*10 = 50,890 parameters: inside every limit.
    fits = [{"units": 64, "activation": "relu"}, {"units": 10, "activation": "softmax"}]
    assert post(fits).status_code == 202
    errors = post(fits[:1] * 2 + fits[1:], epochs=4, batch_size=33).get_json()["errors"]
    assert {"model.layers", "training.epochs", "training.batch_size"} <= set(errors)
    assert any("at most 2 layers" in text for text in errors["model.layers"])
    wide = [{"units": 101, "activation": "relu"}, {"units": 10, "activation": "softmax"}]
    assert "model.layers[0].units" in post(wide).get_json()["errors"]
    # 785*76 + 77*10 = 60,430 parameters: over the cap though every layer is narrow enough.
    many = [{"units": 76, "activation": "relu"}, {"units": 10, "activation": "softmax"}]
    errors = post(many).get_json()["errors"]
    assert list(errors) == ["model.layers"]
    assert "60,430" in errors["model.layers"][0]


# ---- malformed requests ------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"{bad json", b'{"dataset": "mnist",}', b"NaN", b'{"x": Infinity}', b"1e999",
    b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00", b"   ",
], ids=["syntax", "trailing-comma", "nan", "infinity", "overflow", "deep-nesting", "not-utf8", "blank"])
def test_malformed_json_is_400(client, body):
    response = client.post("/v1/jobs", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["code"] == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_wrong_content_type_is_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/v1/jobs", data=json.dumps(VALID), headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.get_json()["message"]


@pytest.mark.parametrize("body", [[VALID], "mnist", 42, None], ids=["array", "string", "number", "null"])
def test_json_that_is_not_an_object_is_422(client, body):
    response = client.post("/v1/jobs", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"body": ["the request body must be a JSON object"]}


def test_body_over_the_limit_is_413(worker_settings):
    client = make_app(worker_settings, MAX_CONTENT_LENGTH=1024).test_client()
    body = spec_with(set_in("name", "x" * 2000))
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 413
    assert response.get_json()["message"] == "The request body is larger than 1024 bytes."


@pytest.mark.parametrize("job_id", [
    uuid.uuid4().hex, "abc", uuid.uuid4().hex.upper(), uuid.uuid4().hex + "0", "0" * 32,
    "..%2F..%2Fetc%2Fpasswd", "-1", "1.5",
])
def test_unknown_or_malformed_job_id_is_404(client, job_id):
    for response in (client.get(f"/v1/jobs/{job_id}"), client.post(f"/v1/jobs/{job_id}/cancel"),
                     client.get(f"/v1/jobs/{job_id}/events")):
        assert response.status_code == 404
        assert response.get_json()["code"] == 404


@pytest.mark.parametrize("model_id", [uuid.uuid4().hex, "abc", "LATEST", "0" * 32])
def test_unknown_or_malformed_model_id_is_404(client, model_id):
    for response in (client.get(f"/v1/models/{model_id}"), client.delete(f"/v1/models/{model_id}"),
                     client.get(f"/v1/models/{model_id}/download")):
        assert response.status_code == 404


def test_unknown_route_and_wrong_method(client):
    assert client.get("/v1/nothing").get_json()["code"] == 404
    response = client.put("/v1/jobs")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert response.get_json()["status"] == "Method Not Allowed"


def test_cancelling_a_finished_job_is_409(idle_client):
    job = idle_client.post("/v1/jobs", json=VALID).get_json()
    first = idle_client.post(f"/v1/jobs/{job['id']}/cancel")
    assert first.status_code == 202 and first.get_json()["status"] == "cancelled"
    again = idle_client.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409
    assert "cancelled" in again.get_json()["message"]


@pytest.mark.parametrize("query", ["status=bogus", "page=0", "page_size=1000", "page=x"])
def test_bad_list_query_is_422(client, query):
    response = client.get(f"/v1/jobs?{query}")
    assert response.status_code == 422
    assert response.get_json()["errors"]



def test_huge_page_number_is_an_empty_page(idle_client):
    for path in ("/v1/jobs", "/v1/models"):
        response = idle_client.get(f"{path}?page=99999999999999999999")
        assert response.status_code == 200 and response.get_json() == []


@pytest.mark.parametrize("event_id", ["abc", "1-2-3", "99999999999999999999999-0", "-1"])
def test_malformed_last_event_id_is_400(idle_client, event_id):
    job = idle_client.post("/v1/jobs", json=VALID).get_json()
    response = idle_client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": event_id})
    assert response.status_code == 400
    assert "Last-Event-ID" in response.get_json()["message"]


# ---- the work cap (MLPQ_MAX_JOB_FLOPS) ---------------------------------------------------------


def _dense(*widths):
    *hidden, out = widths
    return {"layers": [{"units": units, "activation": "relu"} for units in hidden]
            + [{"units": out, "activation": "softmax"}]}


def test_job_over_the_work_cap_is_refused_before_anything_is_queued(idle_client):
    store = services(idle_client.application).jobs
    response = idle_client.post("/v1/jobs", json={
        "dataset": "mnist", "model": _dense(2048, 2048, 10),
        "training": {"epochs": 500, "validation_split": 0.1}})
    assert response.status_code == 422
    body = response.get_json()
    assert list(body["errors"]) == ["training.epochs"]
    (message,) = body["errors"]["training.epochs"]
    # 500 epochs x 54,000 training rows (the last 10% validate) x 3.2e7 FLOPs per sample
    assert message.startswith("this job is about 8.6e14 FLOPs of training (500 epochs x 54,000 "
                              "samples x 3.2e7 FLOPs per sample), over the limit of 1e14: ")
    assert "fewer epochs, a smaller network or a smaller dataset" in message
    assert store.queue_depth() == 0
    assert json.loads(idle_client.get("/v1/jobs").headers["X-Pagination"])["total"] == 0


def test_work_cap_admits_big_mnist_and_long_tiny_jobs(idle_client):
    # 50 epochs of 784-1024-1024-10 on MNIST: 2.9e13 FLOPs, under the 1e14 default
    big = idle_client.post("/v1/jobs", json={"dataset": "mnist", "model": _dense(1024, 1024, 10),
                                            "training": {"epochs": 50}})
    assert big.status_code == 202, big.get_json()
    # epochs alone no longer refuse a tiny job: 20,000 epochs of XOR is 4e6 FLOPs
    xor = idle_client.post("/v1/jobs", json={
        "dataset": "xor", "model": {"layers": [{"units": 3, "activation": "tanh"},
                                               {"units": 1, "activation": "sigmoid"}],
                                    "loss": "binary_cross_entropy"},
        "training": {"epochs": 20_000, "batch_size": 4}})
    assert xor.status_code == 202, xor.get_json()


def test_work_cap_comes_from_settings(idle_settings):
    client = make_app(limited(idle_settings, max_job_flops=10**9)).test_client()
    one_epoch = {"dataset": "mnist", "model": _dense(10), "training": {"epochs": 1}}
    # 784->10 is 31,380 FLOPs per sample: 1 epoch of 60,000 is 1.9e9
    errors = client.post("/v1/jobs", json=one_epoch).get_json()["errors"]
    assert "over the limit of 1e9" in errors["training.epochs"][0]
    half = {**one_epoch, "training": {"epochs": 1, "validation_split": 0.5}}
    assert client.post("/v1/jobs", json=half).status_code == 202
