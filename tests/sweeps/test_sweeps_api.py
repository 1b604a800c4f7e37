"""Sweeps on the real stack: grids of XOR and MNIST runs as ordinary jobs, their table, CSV, resume, cancel."""

import copy
import csv
import io
import uuid

import numpy as np
import pytest

from tests.support.api import make_app, make_key, start_sweep
from tests.support.specs import SWEEP_XOR_BASE
from tests.support.waiting import wait_for_sweep

GRID = {"training.optimizer.learning_rate": {"values": [0.05, 0.005]},
        "model.layers[0].units": {"values": [3, 6]}}


def _check_table(client, sweep, metric, goal):
    """Every cell against the run's own job record: best value, its epoch, mean and std."""
    pick = max if goal == "max" else min
    seen_jobs = set()
    for row in sweep["results"]:
        values = []
        for cell in row["runs"]:
            job = client.get(f"/v1/jobs/{cell['job_id']}").get_json()
            assert job["sweep_id"] == sweep["id"] and job["status"] == "succeeded"
            assert job["spec"]["training"]["seed"] == cell["seed"]
            for path, value in row["config"].items():
                node = job["spec"]
                for step in path.replace("[", ".").replace("]", "").split("."):
                    node = node[int(step)] if step.isdigit() else node[step]
                assert node == value, (path, node, value)
            best = pick(job["metrics"], key=lambda entry: entry[metric])
            assert cell["value"] == best[metric]
            assert job["metrics"][cell["best_epoch"] - 1][metric] == best[metric]
            values.append(cell["value"])
            seen_jobs.add(cell["job_id"])
        assert row["mean"] == pytest.approx(np.mean(values))
        assert row["std"] == pytest.approx(np.std(values, ddof=1))
    means = [row["mean"] for row in sweep["results"]]
    assert means == sorted(means, reverse=goal == "max")
    assert [row["rank"] for row in sweep["results"]] == list(range(1, len(means) + 1))
    return seen_jobs


def test_a_2x2_grid_with_2_seeds_on_xor_runs_8_jobs_and_tabulates_them(client, celery_worker):
    body = {"name": "xor-grid", "base": SWEEP_XOR_BASE, "parameters": GRID, "seeds": [0, 1],
            "metric": {"name": "accuracy"}}
    created = start_sweep(client, body)
    assert created["status"] in {"queued", "running"} and created["progress"]["runs"] == 8
    assert len(created["jobs"]) == len(set(created["jobs"])) == 8
    sweep = wait_for_sweep(client, created["id"])
    assert sweep["status"] == "succeeded", sweep["progress"]
    assert sweep["progress"] == {"runs": 8, "finished": 8, "queued": 0, "running": 0,
                                 "succeeded": 8, "failed": 0, "cancelled": 0, "fraction": 1.0}
    assert len(sweep["results"]) == 4
    assert {tuple(sorted(row["config"].items())) for row in sweep["results"]} == {
        (("model.layers[0].units", units), ("training.optimizer.learning_rate", lr))
        for units in (3, 6) for lr in (0.05, 0.005)}
    assert _check_table(client, sweep, "accuracy", "max") == set(created["jobs"])
    # The runs are ordinary jobs, listed with their sweep.
    listed = client.get("/v1/jobs?page_size=100").get_json()
    assert {job["id"] for job in listed if job["sweep_id"] == sweep["id"]} == set(created["jobs"])
    assert sweep["id"] in {item["id"] for item in client.get("/v1/sweeps").get_json()}

    # CSV export parses and carries the same numbers, best first.
    response = client.get(f"/v1/sweeps/{sweep['id']}?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(table) == 4
    for line, row in zip(table, sweep["results"], strict=True):
        assert int(line["rank"]) == row["rank"]
        assert float(line["accuracy_mean"]) == pytest.approx(row["mean"])
        assert float(line["seed1_accuracy"]) == pytest.approx(row["runs"][1]["value"])
        assert int(line["seed0_best_epoch"]) == row["runs"][0]["best_epoch"]
        assert float(line["model.layers[0].units"]) == row["config"]["model.layers[0].units"]

    # Resubmitting with resume reuses every finished run: no job is trained again.
    again = start_sweep(client, {**body, "resume": True})
    assert again["id"] != sweep["id"] and sorted(again["jobs"]) == sorted(created["jobs"])
    assert all(cell["reused"] for row in again["results"] for cell in row["runs"])
    assert again["status"] == "succeeded"


@pytest.mark.slow
def test_a_2x2_grid_with_2_seeds_on_one_mnist_epoch(client, celery_worker):
    base = {"dataset": "mnist",
            "model": {"layers": [{"units": 16, "activation": "relu"},
                                 {"units": 10, "activation": "softmax"}]},
            "training": {"epochs": 1, "batch_size": 256, "validation_split": 0.1,
                         "optimizer": {"name": "adam", "learning_rate": 1e-3}}}
    parameters = {"training.optimizer.learning_rate": {"values": [1e-3, 1e-2]},
                  "model.layers[0].units": {"values": [16, 32]}}
    created = start_sweep(client, {"base": base, "parameters": parameters, "seeds": [0, 1]})
    assert created["metric"] == {"name": "val_accuracy", "goal": "max"}  # default with validation
    sweep = wait_for_sweep(client, created["id"], timeout=300)
    assert sweep["status"] == "succeeded", sweep["progress"]
    assert len(_check_table(client, sweep, "val_accuracy", "max")) == 8
    assert all(row["mean"] > 0.8 for row in sweep["results"])


def test_identical_configurations_run_once(idle_client):
    body = {"base": SWEEP_XOR_BASE, "seeds": [0],
            "parameters": {"training.optimizer.learning_rate": {"values": [0.1, 0.1, 0.01]},
                           "model.layers[0].activation": {"values": ["tanh", "tanh"]}}}
    sweep = start_sweep(idle_client, body)
    assert [row["config"] for row in sweep["results"]] == [
        {"training.optimizer.learning_rate": 0.1, "model.layers[0].activation": "tanh"},
        {"training.optimizer.learning_rate": 0.01, "model.layers[0].activation": "tanh"}]
    assert sweep["progress"]["runs"] == 2
    idle_client.post(f"/v1/sweeps/{sweep['id']}/cancel")


def test_random_search_draws_distinct_runs_within_bounds(idle_client):
    body = {"base": SWEEP_XOR_BASE, "method": "random", "max_runs": 6, "seeds": [0, 1],
            "random_seed": 3,
            "parameters": {"training.optimizer.learning_rate": {"min": 1e-3, "max": 1e-1,
                                                                "log": True},
                           "model.layers[0].units": {"min": 2, "max": 9}}}
    sweep = start_sweep(idle_client, body)
    configs = [row["config"] for row in sweep["results"]]
    assert len(configs) == 3 and sweep["progress"]["runs"] == 6
    for config in configs:
        assert 1e-3 <= config["training.optimizer.learning_rate"] <= 1e-1
        assert isinstance(config["model.layers[0].units"], int)
        assert 2 <= config["model.layers[0].units"] <= 9
    for job_id in sweep["jobs"]:
        job = idle_client.get(f"/v1/jobs/{job_id}").get_json()
        assert job["status"] == "queued" and job["sweep_id"] == sweep["id"]
    idle_client.post(f"/v1/sweeps/{sweep['id']}/cancel")


def test_cancel_stops_every_unfinished_run(idle_client):
    sweep = start_sweep(idle_client, {"base": SWEEP_XOR_BASE, "parameters": GRID, "seeds": [0, 1]})
    response = idle_client.post(f"/v1/sweeps/{sweep['id']}/cancel")
    assert response.status_code == 202
    cancelled = response.get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancel_requested"]
    assert cancelled["progress"]["cancelled"] == 8
    for job_id in sweep["jobs"]:
        assert idle_client.get(f"/v1/jobs/{job_id}").get_json()["status"] == "cancelled"


def _errors(client, body):
    response = client.post("/v1/sweeps", json=body)
    assert response.status_code == 422, response.get_json()
    return response.get_json()["errors"]


def test_bad_sweeps_are_refused_before_anything_is_queued(idle_client):
    before = idle_client.get("/v1/jobs").headers["X-Pagination"]
    ok = {"base": SWEEP_XOR_BASE, "parameters": GRID}
    errors = _errors(idle_client, {**ok, "parameters": {"model.layers[5].units": {"values": [2]}}})
    assert "no such setting" in errors["parameters.model.layers[5].units"][0]
    errors = _errors(idle_client, {**ok, "parameters": {"model.layers[0]units": {"values": [2]}}})
    assert "parameters.model.layers[0]units" in errors
    # A run that is not a valid job: the 422 names the run, its field and its values.
    errors = _errors(idle_client, {**ok, "parameters": {"model.layers[0].units": {"values": [4, 0]}}})
    assert list(errors) == ["runs[1].model.layers[0].units"]
    assert "(run 1: units=0, seed 0)" in errors["runs[1].model.layers[0].units"][0]
    errors = _errors(idle_client, {**ok, "seeds": [0, 1, 2], "max_runs": 8})
    assert "12 runs (4 configurations x 3 seeds), more than max_runs=8" in errors["max_runs"][0]
    assert "max_runs" in _errors(idle_client, {**ok, "max_runs": 100000})
    assert "metric.name" in _errors(idle_client, {**ok, "metric": {"name": "val_loss"}})
    assert "parameters.model.layers[0].activation" in _errors(idle_client, {
        **ok, "parameters": {"model.layers[0].activation": {"min": 1, "max": 2}}})
    assert "parameters.training.optimizer.learning_rate.min" in _errors(idle_client, {
        **ok, "parameters": {"training.optimizer.learning_rate": {"min": 0, "max": 1,
                                                                  "log": True}}})
    assert "parameters.training.seed" in _errors(idle_client, {
        **ok, "parameters": {"training.seed": {"values": [1, 2]}}})
    assert "seeds" in _errors(idle_client, {**ok, "seeds": [1, 1]})
    bad_base = copy.deepcopy(SWEEP_XOR_BASE)
    bad_base["model"]["layers"][1]["activation"] = "softmax"
    assert any(path.startswith("base.model") for path in _errors(idle_client, {**ok, "base": bad_base}))
    assert "method" in _errors(idle_client, {**ok, "method": "bayes"})
    assert idle_client.get("/v1/jobs").headers["X-Pagination"] == before  # nothing was created


def test_unknown_sweeps_are_404_with_their_name(idle_client):
    unknown = uuid.uuid4().hex
    response = idle_client.get(f"/v1/sweeps/{unknown}")
    assert response.status_code == 404
    assert f"no sweep '{unknown}'" in response.get_json()["message"]
    assert idle_client.post(f"/v1/sweeps/{unknown}/cancel").status_code == 404
    assert idle_client.get(f"/v1/sweeps/{unknown}?format=xml").status_code == 422


def test_sweep_runs_count_against_the_keys_active_job_quota_and_owner(idle_settings):
    alice, bob = make_key("alice"), make_key("bob")
    app = make_app(idle_settings, MAX_ACTIVE_JOBS_PER_KEY=6,
                   API_KEYS=",".join([alice.entry, bob.entry]))
    client = app.test_client()
    body = {"base": SWEEP_XOR_BASE, "parameters": GRID, "seeds": [0, 1]}  # 8 runs
    refused = client.post("/v1/sweeps", json=body, headers=alice.headers)
    assert refused.status_code == 429 and "this request adds 8" in refused.get_json()["message"]
    response = client.post("/v1/sweeps", json={**body, "seeds": [0]}, headers=alice.headers)
    assert response.status_code == 202
    sweep = response.get_json()
    assert sweep["owner"] == "alice"
    assert client.get(f"/v1/sweeps/{sweep['id']}", headers=bob.headers).status_code == 404
    assert client.get("/v1/sweeps", headers=bob.headers).get_json() == []
    assert client.post(f"/v1/sweeps/{sweep['id']}/cancel", headers=bob.headers).status_code == 404
    client.post(f"/v1/sweeps/{sweep['id']}/cancel", headers=alice.headers)
