"""`mlpq sweep SPEC.json [--watch]` starts a sweep; `mlpq sweeps [ID]` lists them or shows one."""

from __future__ import annotations

import json
import time

import click
from rich.live import Live
from rich.table import Table

from mlpq.errors import Timeout
from mlpq.render import (
    EXIT_JOB_FAILED,
    EXIT_OK,
    console,
    interactive,
    json_option,
    options,
    print_json,
    show_table,
)
from mlpq.sweep_plot import plot_sweep
from worker.store.job_scripts import TERMINAL_STATUSES  # a sweep ends as its runs do

SWEEP_COLUMNS = {"id": "id", "name": "name", "status": "status", "runs": "runs",
                 "finished": "finished", "best": "best", "created_at": "created"}


@click.command()
@click.argument("spec_file", metavar="SPEC.json", type=click.File("r"))
@click.option("--watch", "-w", is_flag=True, help="follow it live: a table that fills in as runs end")
@click.option("--resume", is_flag=True, help="reuse runs an earlier sweep already trained")
@click.option("--interval", type=float, default=2.0, show_default=True, metavar="SECONDS",
              help="with --watch: seconds between looks")
@click.option("--timeout", type=float, metavar="SECONDS", help="with --watch: give up after this (exit 4)")
@click.option("--plot", metavar="FILE.png", help="with --watch: save a picture of the results at the end")
@json_option
def sweep(spec_file, watch, resume, interval, timeout, plot):
    """Start a sweep: a grid (or random sample) of job specs run as ordinary jobs.

    SPEC.json is the body of POST /v1/sweeps: {name, base, parameters, method, max_runs, seeds,
    metric}. Exit codes with --watch: 0 every run succeeded, 1 a run failed or was cancelled.
    """
    body = json.load(spec_file)
    if resume:
        body["resume"] = True
    client = options().client
    record = client.create_sweep(body)
    if not watch:
        if options().json:
            return print_json(record)
        click.echo(f"sweep {record['id']} {record['status']}: {record['progress']['runs']} runs")
        return EXIT_OK
    record = follow_sweep(record, interval, timeout)
    if plot:
        save_plot(record, plot)
    return EXIT_OK if record["status"] == "succeeded" else EXIT_JOB_FAILED


def follow_sweep(record: dict, interval: float, timeout: float | None) -> dict:
    """Re-read the sweep every `interval` seconds until it ends: a live table on a terminal,
    one progress line per change elsewhere (one JSON object per look with --json)."""
    client, deadline = options().client, None if timeout is None else time.monotonic() + timeout
    last = None

    def look():
        nonlocal last
        if deadline is not None and time.monotonic() > deadline:
            raise Timeout(f"sweep {record['id']} is still {record['status']} after {timeout:g} s")
        fresh = client.sweep(record["id"])
        if options().json:
            print_json(fresh)
        elif not interactive() and progress_line(fresh) != last:
            last = progress_line(fresh)
            click.echo(last)
        return fresh

    if interactive() and not options().json:
        with Live(results_table(record), console=console, refresh_per_second=4) as live:
            while record["status"] not in TERMINAL_STATUSES:
                time.sleep(interval)
                record = look()
                live.update(results_table(record))
        return record
    record = look()
    while record["status"] not in TERMINAL_STATUSES:
        time.sleep(interval)
        record = look()
    if not options().json:
        show_results(record)
    return record


def progress_line(record: dict) -> str:
    progress, rows = record["progress"], record["results"]
    best = rows[0] if rows and rows[0]["mean"] is not None else None
    leader = f"; best {_config(best['config'])}: {_mean(best)}" if best else ""
    return (f"sweep {record['id']} {record['status']}: {progress['finished']}/{progress['runs']} "
            f"runs finished ({progress['succeeded']} succeeded, {progress['failed']} failed, "
            f"{progress['cancelled']} cancelled){leader}")


def results_table(record: dict) -> Table:
    metric = record["metric"]["name"]
    table = Table(title=progress_line(record), header_style="bold")
    for heading in ["#", *record["parameters"], f"{metric} mean ± std",
                    *(f"seed {seed}" for seed in record["seeds"]), "health"]:
        table.add_column(heading)
    for row in record["results"]:
        table.add_row(str(row["rank"]), *(str(row["config"][path]) for path in record["parameters"]),
                      _mean(row), *(_cell(cell) for cell in row["runs"]), _health(row["health"]))
    return table


def show_results(record: dict) -> None:
    if interactive():
        console.print(results_table(record))
        return
    click.echo(progress_line(record))
    rows = [{"rank": row["rank"], **{path: str(row["config"][path]) for path in record["parameters"]},
             "mean": _mean(row), **{f"seed {cell['seed']}": _cell(cell) for cell in row["runs"]},
             "health": _health(row["health"])} for row in record["results"]]
    columns = {"rank": "#", **{path: path for path in record["parameters"]},
               "mean": f"{record['metric']['name']} mean ± std",
               **{f"seed {seed}": f"seed {seed}" for seed in record["seeds"]}, "health": "health"}
    show_table(rows, columns)


def _config(config: dict) -> str:
    return ", ".join(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in config.items())


def _mean(row: dict) -> str:
    if row["mean"] is None:
        return "-"
    return f"{row['mean']:.4f}" + (f" ± {row['std']:.4f}" if row["std"] is not None else "")


def _cell(cell: dict) -> str:
    if cell["value"] is None:
        return cell["status"] or "-"
    return f"{cell['value']:.4f} @{cell['best_epoch']}"


def _health(health: dict) -> str:
    parts = ["DIVERGED"] if health["diverged"] else []
    if health["dead_relu"] is not None:
        parts.append(f"dead {100 * health['dead_relu']:.0f}%")
    if health["grad_norm_ratio"] is not None:
        parts.append(f"grad ratio {health['grad_norm_ratio']:.2f}")
    return ", ".join(parts) or "ok"


def save_plot(record: dict, path: str) -> None:
    client = options().client
    jobs = {job_id: client.job(job_id).record for job_id in record["jobs"]}
    plot_sweep(record, jobs, path)
    if not options().json:
        click.echo(f"saved {path}")


@click.command()
@click.argument("sweep_id", metavar="[ID]", required=False)
@click.option("--csv", "as_csv", is_flag=True, help="with ID: the results table as CSV")
@click.option("--plot", metavar="FILE.png", help="with ID: save a picture of the results")
@click.option("--cancel", is_flag=True, help="with ID: cancel its unfinished runs")
@json_option
def sweeps(sweep_id, as_csv, plot, cancel):
    """List sweeps, or show one sweep's results table (best first)."""
    client = options().client
    if sweep_id is None:
        found = client.sweeps()
        if options().json:
            return print_json(found)
        show_table([{**item, **item["progress"], "best": _mean(item["results"][0])
                     if item["results"] else None} for item in found], SWEEP_COLUMNS,
                   title="sweeps")
        return EXIT_OK
    record = client.cancel_sweep(sweep_id) if cancel else client.sweep(sweep_id)
    if as_csv:
        click.echo(client.sweep_csv(sweep_id), nl=False)
    elif options().json:
        print_json(record)
    else:
        show_results(record)
    if plot:
        save_plot(record, plot)
    return EXIT_OK


COMMANDS = [sweep, sweeps]
