"""A sweep's state and results table, derived from its runs' job records each time it is read.

One row per configuration: its parameter values; for each seed the metric at that run's
best epoch and which epoch it was; the mean and sample standard deviation (ddof=1) across
the seeds that have a value; and a health column from the last epoch's per-layer
diagnostics when the runs recorded them. Rows are sorted best first by the mean.
"""

from __future__ import annotations

import math
import statistics

from engine.activations import DYING_ACTIVATIONS
from engine.evaluation import HISTORY_METRICS, VALIDATION_PREFIX
from worker.store.jobs import STATUSES, TERMINAL_STATUSES
from worker.store.spreadsheet import csv_text


def _listed_first(name):
    # metrics that improve upward first (a sweep compares accuracy by default), each on the
    # training rows before the held-out ones
    return HISTORY_METRICS[name] != "max", name.startswith(VALIDATION_PREFIX)


METRIC_GOALS = {name: HISTORY_METRICS[name] for name in sorted(HISTORY_METRICS, key=_listed_first)}


def best_epoch(metrics: list[dict], name: str, goal: str) -> tuple[float | None, int | None]:
    """(value, epoch) of the best finite value of `name` in a job's history, or (None, None)."""
    best = None
    for entry in metrics:
        value = entry.get(name)
        if value is None or not math.isfinite(value):
            continue
        if best is None or (value > best[0] if goal == "max" else value < best[0]):
            best = (value, entry["epoch"])
    return best or (None, None)


def _run_health(job: dict) -> dict:
    metrics = job.get("metrics") or []
    diverged = (job.get("error") or {}).get("type") == "training_diverged" or any(
        entry.get("loss") is not None and not math.isfinite(entry["loss"]) for entry in metrics)
    layers = (metrics[-1].get("layers") if metrics else None) or []
    dead = [layer["dead_fraction"] for layer in layers
            if layer.get("activation") in DYING_ACTIVATIONS
            and layer.get("dead_fraction") is not None]
    norms = [layer.get("grad_norm") for layer in layers]
    ratio = None
    if len(norms) >= 2 and None not in (norms[0], norms[-1]) and norms[-1] > 0:
        ratio = norms[0] / norms[-1]  # first layer over output layer: << 1 means vanishing
    return {"diverged": diverged, "dead_relu": statistics.fmean(dead) if dead else None,
            "grad_norm_ratio": ratio}


def _mean_of(values):
    values = [value for value in values if value is not None]
    return statistics.fmean(values) if values else None


def _row(config: dict, runs: list[tuple[dict, dict | None]], metric: str, goal: str) -> dict:
    cells, healths = [], []
    for run, job in runs:
        job = job or {}
        value, epoch = best_epoch(job.get("metrics") or [], metric, goal)
        cells.append({"seed": run["seed"], "job_id": run["job_id"], "status": job.get("status"),
                      "reused": run.get("reused", False), "value": value, "best_epoch": epoch})
        if job.get("metrics") or job.get("error"):
            healths.append(_run_health(job))
    values = [cell["value"] for cell in cells if cell["value"] is not None]
    return {
        "config": config, "runs": cells,
        "mean": statistics.fmean(values) if values else None,
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "health": {
            "diverged": any(health["diverged"] for health in healths),
            "dead_relu": _mean_of(health["dead_relu"] for health in healths),
            "grad_norm_ratio": _mean_of(health["grad_norm_ratio"] for health in healths),
        },
    }


def results(sweep: dict, jobs: dict[str, dict | None]) -> list[dict]:
    """The results table of `sweep`, given its runs' job records by job id."""
    metric = sweep["body"]["metric"]
    by_config: dict[int, list] = {}
    for run in sweep["runs"]:
        by_config.setdefault(run["config_index"], []).append((run, jobs.get(run["job_id"])))
    rows = [_row(runs[0][0]["config"], runs, metric["name"], metric["goal"])
            for runs in by_config.values()]
    sign = -1 if metric["goal"] == "max" else 1
    rows.sort(key=lambda row: (row["mean"] is None, sign * (row["mean"] or 0)))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def state(sweep: dict, jobs: dict[str, dict | None]) -> tuple[str, dict]:
    """(status, progress) of a sweep from its runs' statuses."""
    counts = dict.fromkeys(STATUSES, 0)
    for run in sweep["runs"]:
        job = jobs.get(run["job_id"])
        counts[job["status"] if job else "failed"] += 1
    total = len(sweep["runs"])
    finished = sum(counts[status] for status in TERMINAL_STATUSES)
    if finished < total:
        status = "running" if counts["running"] or finished else "queued"
    elif sweep["cancel_requested"] and counts["cancelled"]:
        status = "cancelled"
    else:
        status = "succeeded" if counts["succeeded"] == total else "failed"
    return status, {"runs": total, "finished": finished, **counts,
                    "fraction": finished / total if total else 1.0}


def to_csv(rows: list[dict], metric: str) -> str:
    """The table as CSV: rank, one column per parameter, mean, std, then per seed value and
    best epoch, then the health columns (text cells made safe for spreadsheets)."""
    paths = list(rows[0]["config"]) if rows else []
    seeds = [cell["seed"] for cell in rows[0]["runs"]] if rows else []
    header = ["rank", *paths, f"{metric}_mean", f"{metric}_std",
              *(column for seed in seeds for column in (f"seed{seed}_{metric}",
                                                        f"seed{seed}_best_epoch")),
              "diverged", "dead_relu", "grad_norm_ratio"]
    return csv_text(header, (_csv_row(row, paths, seeds) for row in rows))


def _csv_row(row: dict, paths: list[str], seeds: list) -> list:
    cells = {cell["seed"]: cell for cell in row["runs"]}
    return [row["rank"], *(row["config"][path] for path in paths),
            _blank(row["mean"]), _blank(row["std"]),
            *(value for seed in seeds for value in (
                _blank(cells.get(seed, {}).get("value")),
                _blank(cells.get(seed, {}).get("best_epoch")))),
            row["health"]["diverged"], _blank(row["health"]["dead_relu"]),
            _blank(row["health"]["grad_norm_ratio"])]


def _blank(value):
    return "" if value is None else value
