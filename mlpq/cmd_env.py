"""`mlpq env`: versions, the server and the data directory — what to paste into a bug report."""

from __future__ import annotations

import platform
from importlib import metadata

import click

from mlpq.errors import APIError, MlpqError
from mlpq.render import EXIT_OK, console, json_option, options, print_json

PACKAGES = ("mlpq", "numpy", "httpx", "click", "rich", "flask", "celery", "redis", "pillow", "matplotlib")


def versions() -> dict[str, str | None]:
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def server_report() -> dict:
    """Whether the server answers, is ready, its auth mode and its workers."""
    client = options().client
    report = {"url": client.url, "api_key": "set" if client.api_key else "not set"}
    try:
        client.health()
        report["answers"] = True
    except MlpqError as error:
        return {**report, "answers": False, "error": str(error)}
    try:
        ready = client.ready()
        report.update(ready=True, auth=ready.get("auth"), checks=ready.get("checks"))
    except APIError as error:
        report.update(ready=False, error=error.message, checks=error.errors)
    return report


@click.command()
@json_option
def env():
    """Versions, the server URL and whether it answers, its auth mode and workers, the data dir."""
    from engine.datasets import DATASETS, resolve_data_dir

    data_dir = resolve_data_dir()
    report = {"versions": versions(), "server": server_report(),
              "data_dir": {"path": str(data_dir), "datasets": {
                  name: (data_dir / name).is_dir() for name, info in DATASETS.items() if info.kind == "image"}}}
    if options().json:
        return print_json(report)
    server = report["server"]
    lines = ["[bold]versions[/]"] + [f"  {name:<11}{value or 'not installed'}"
                                     for name, value in report["versions"].items()]
    state = ("ready" if server.get("ready") else "answers, not ready") if server["answers"] \
        else "does not answer"
    lines += ["[bold]server[/]", f"  url        {server['url']}  ({state})",
              f"  api key    {server['api_key']}"]
    if server.get("auth"):
        lines.append(f"  auth       {server['auth']}")
    for name, check in (server.get("checks") or {}).items():
        detail = check.get("detail") if isinstance(check, dict) else "; ".join(check)
        lines.append(f"  {name:<11}{detail}")
    if server.get("error"):
        lines.append(f"  error      {server['error']}")
    present = ", ".join(f"{name} {'present' if ok else 'missing'}"
                        for name, ok in report["data_dir"]["datasets"].items())
    lines += ["[bold]data[/]", f"  directory  {report['data_dir']['path']}", f"  datasets   {present}"]
    for line in lines:
        console.print(line)
    return EXIT_OK
