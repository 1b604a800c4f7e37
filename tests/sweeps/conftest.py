"""Sweep fixtures: the API suite's app and clients (real Redis, real Celery worker), and sweep helpers."""

import time

from tests.api.conftest import app, client, idle_client, idle_settings  # noqa: F401 (fixtures)

TERMINAL = {"succeeded", "failed", "cancelled"}
XOR_BASE = {
    "dataset": "xor",
    "model": {"layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
              "loss": "binary_cross_entropy", "init": "xavier"},
    "training": {"epochs": 60, "batch_size": 4, "optimizer": {"name": "adam", "learning_rate": 0.05},
                 "early_stopping": None},
}


def start_sweep(api, body):
    response = api.post("/v1/sweeps", json=body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def wait_for_sweep(api, sweep_id, timeout=180.0):
    deadline = time.monotonic() + timeout
    while True:
        sweep = api.get(f"/v1/sweeps/{sweep_id}").get_json()
        if sweep["status"] in TERMINAL:
            return sweep
        if time.monotonic() > deadline:
            raise AssertionError(f"sweep {sweep_id} still {sweep['status']}: {sweep['progress']}")
        time.sleep(0.2)
