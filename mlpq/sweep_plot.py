"""A sweep in one picture: the metric against each parameter, and the best configurations' curves.

Works from the JSON `GET /v1/sweeps/{id}` returns plus the runs' job records, so the same
figure comes from the command line, a notebook or a docs script. matplotlib's Agg backend:
no display needed.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

BEST_CURVES = 3  # configurations whose learning curves are drawn


def _label(config: dict) -> str:
    return ", ".join(f"{path.rsplit('.', 1)[-1]}={value:g}" if isinstance(value, float)
                     else f"{path.rsplit('.', 1)[-1]}={value}" for path, value in config.items())


def _numeric(values) -> bool:
    return all(isinstance(value, int | float) and not isinstance(value, bool) for value in values)


def plot_sweep(sweep: dict, jobs: dict[str, dict], path: str) -> None:
    """Write a PNG: one panel per parameter (each seed a dot, the seed mean a line, grouped by
    the other parameters), then the best configurations' metric per epoch, every seed."""
    metric = sweep["metric"]["name"]
    rows = sweep["results"]
    parameters = list(sweep["parameters"])
    figure, axes = plt.subplots(1, len(parameters) + 1, figsize=(5 * (len(parameters) + 1), 4),
                                squeeze=False)
    for axis, parameter in zip(axes[0], parameters, strict=False):
        _parameter_panel(axis, rows, parameter, metric)
    curves = axes[0][-1]
    for rank, row in enumerate(rows[:BEST_CURVES]):
        colour = f"C{rank}"
        for cell in row["runs"]:
            history = (jobs.get(cell["job_id"]) or {}).get("metrics") or []
            points = [(entry["epoch"], entry.get(metric)) for entry in history
                      if entry.get(metric) is not None]
            if points:
                curves.plot(*zip(*points, strict=True), color=colour, marker="o", alpha=0.8,
                            label=f"#{row['rank']} {_label(row['config'])}"
                            if cell is row["runs"][0] else None)
    curves.set(title=f"best {min(BEST_CURVES, len(rows))} configurations, every seed",
               xlabel="epoch", ylabel=metric)
    curves.legend(fontsize="small")
    figure.suptitle(f"sweep {sweep['name']}: {metric} ({sweep['metric']['goal']}), "
                    f"{len(sweep['seeds'])} seed(s)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _parameter_panel(axis, rows, parameter, metric):
    others = [path for path in rows[0]["config"] if path != parameter] if rows else []
    groups: dict[str, list] = {}
    for row in rows:
        key = _label({path: row["config"][path] for path in others}) or "all"
        groups.setdefault(key, []).append(row)
    numeric = _numeric(row["config"][parameter] for row in rows)
    values = sorted({row["config"][parameter] for row in rows}, key=str) if not numeric else None
    for index, (key, group) in enumerate(sorted(groups.items())):
        group.sort(key=lambda row: row["config"][parameter] if numeric else str(row["config"][parameter]))
        xs = [row["config"][parameter] if numeric else values.index(row["config"][parameter])
              for row in group]
        for x, row in zip(xs, group, strict=True):
            seeds = [cell["value"] for cell in row["runs"] if cell["value"] is not None]
            axis.scatter([x] * len(seeds), seeds, color=f"C{index}", s=12, alpha=0.6)
        means = [row["mean"] for row in group]
        axis.plot(xs, [math.nan if mean is None else mean for mean in means], color=f"C{index}",
                  marker="o", label=key)
    if numeric and all(row["config"][parameter] > 0 for row in rows) and len(rows) > 1:
        spread = [row["config"][parameter] for row in rows]
        if max(spread) / min(spread) >= 20:
            axis.set_xscale("log")
    if not numeric:
        axis.set_xticks(range(len(values)), [str(value) for value in values])
    axis.set(xlabel=parameter, ylabel=f"best {metric}", title=f"{metric} against {parameter}")
    if len(groups) > 1:
        axis.legend(fontsize="small")
