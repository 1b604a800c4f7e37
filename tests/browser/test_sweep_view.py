"""Compare's sweep view in Chromium: the results table, parallel coordinates, the best runs' curves."""

from __future__ import annotations

from tests.support.api import start_sweep
from tests.support.browser import chart_traces, screenshot
from tests.support.specs import STUDIO_XOR_JOB
from tests.support.waiting import wait_for_sweep

BEST = 3  # api/studio/static/sweep.js draws the runs of the best three configurations


def run_sweep(studio) -> dict:
    body = {"name": "xor-studio-sweep", "base": STUDIO_XOR_JOB, "seeds": [0],
            "metric": {"name": "accuracy", "goal": "max"},
            "parameters": {"training.optimizer.learning_rate": {"values": [0.05, 0.005]},
                           "model.layers[0].units": {"values": [3, 6]}}}
    sweep = wait_for_sweep(studio.http, start_sweep(studio.http, body)["id"])
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
