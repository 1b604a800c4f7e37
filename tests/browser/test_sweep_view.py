"""Compare's sweep view in Chromium: the results table, parallel coordinates, the best runs' curves."""

from __future__ import annotations

from tests.browser.conftest import XOR_BODY, screenshot
from tests.browser.test_studio import chart_traces
from tests.service_fixtures import wait_until
from worker.store.job_scripts import TERMINAL_STATUSES

BEST = 3  # api/studio/static/sweep.js draws the runs of the best three configurations


def run_sweep(studio) -> dict:
    body = {"name": "xor-studio-sweep", "base": XOR_BODY, "seeds": [0],
            "metric": {"name": "accuracy", "goal": "max"},
            "parameters": {"training.optimizer.learning_rate": {"values": [0.05, 0.005]},
                           "model.layers[0].units": {"values": [3, 6]}}}
    response = studio.http.post("/v1/sweeps", json=body)
    assert response.status_code == 202, response.text
    sweep_id = response.json()["id"]
    sweep = wait_until(lambda: (sweep := studio.http.get(f"/v1/sweeps/{sweep_id}").json())["status"]
                       in TERMINAL_STATUSES and sweep, 180, 0.2, f"sweep {sweep_id} to end")
    assert sweep["status"] == "succeeded", sweep
    return sweep


def test_a_sweep_shows_its_table_parameters_and_best_curves(page, studio):
    sweep = run_sweep(studio)
    page.goto("/compare")
    page.select_option("#sweep-picker", sweep["id"])
    page.wait_for_function(f"document.getElementById('sweep-loss').data?.length === {BEST}")
    assert f"sweep={sweep['id']}" in page.url  # the link reproduces the view

    rows = page.locator("#sweep-table tbody tr")
    assert rows.count() == len(sweep["results"]) == 4
    for index, row in enumerate(sweep["results"]):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells[:3] == [str(row["rank"]), str(row["config"]["training.optimizer.learning_rate"]),
                             str(row["config"]["model.layers[0].units"])]
        assert float(cells[3].split(" ")[0]) == round(row["mean"], 4)
        assert cells[4].endswith(f"@{row['runs'][0]['best_epoch']}")

    dimensions = page.evaluate(
        "Array.from(document.getElementById('sweep-parallel').data[0].dimensions,"
        " (d) => ({label: d.label, values: Array.from(d.values)}))")
    assert [d["label"] for d in dimensions][-1] == "accuracy (mean)"
    assert dimensions[-1]["values"] == [row["mean"] for row in sweep["results"]]
    units = next(d for d in dimensions if d["label"] == "layers[0].units")
    assert units["values"] == [row["config"]["model.layers[0].units"] for row in sweep["results"]]

    for row, trace in zip(sweep["results"][:BEST], chart_traces(page, "sweep-loss"), strict=True):
        job = studio.http.get(f"/v1/jobs/{row['runs'][0]['job_id']}").json()
        assert trace["name"].startswith(f"#{row['rank']} ")
        assert trace["y"] == [entry["loss"] for entry in job["metrics"]]
    screenshot(page, "compare-sweep")
