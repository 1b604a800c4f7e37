"""Sweep fixtures: the API suite's app and clients (real Redis, real Celery worker), and sweep helpers."""

from tests.api.conftest import app, client, idle_client, idle_settings  # noqa: F401 (fixtures)
from tests.service_fixtures import wait_until
from worker.store.job_scripts import TERMINAL_STATUSES  # a sweep ends as its runs do

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
    return wait_until(lambda: (sweep := api.get(f"/v1/sweeps/{sweep_id}").get_json())["status"]
                      in TERMINAL_STATUSES and sweep, timeout, 0.2, f"sweep {sweep_id} to end")
