"""What every command shares: the client from the global options, --json, tables, error text."""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlpq.client import Client
from mlpq.errors import APIError, ConnectionError, MlpqError, Timeout, ValidationError

# Exit codes, stated once (README "Command line" lists them).
EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_HTTP, EXIT_TIMEOUT = 0, 1, 2, 3, 4

# soft_wrap: long lines are never folded at 80 columns when output goes to a pipe or a log
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Options:
    """The group's options, handed to every command through click's context."""

    url: str | None = None
    api_key: str | None = None
    json: bool = False

    @functools.cached_property
    def client(self) -> Client:
        return Client(self.url, self.api_key)


def interactive() -> bool:
    """stdout is a terminal: tables, colour and live progress; otherwise plain lines."""
    return sys.stdout.isatty()


def json_option(command):
    """`--json` on a command (it may also be given before the command: `mlpq --json jobs`)."""
    def remember(ctx, _param, value):
        if value:
            ctx.find_object(Options).json = True
        return value

    return click.option("--json", "json_flag", is_flag=True, expose_value=False, callback=remember,
                        help="print JSON (one object, or one per line for streams) for scripts")(command)


def options() -> Options:
    return click.get_current_context().find_object(Options)


def print_json(value) -> None:
    click.echo(json.dumps(value, default=str))


def show_table(rows: list[dict], columns: dict[str, str], title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines with a header row elsewhere.

    `columns` maps each row key to its heading. Cells are shown as plain text (a name from
    an uploaded table is never read as rich markup), and the `id` column is never shortened,
    however narrow the terminal: an id is what gets copied into the next command."""
    if not interactive():
        click.echo("\t".join(columns.values()))
        for row in rows:
            click.echo("\t".join(_cell(row.get(key)) for key in columns))
        return
    table = Table(title=title, header_style="bold")
    for key, heading in columns.items():
        whole = max((len(_cell(row.get(key))) for row in rows), default=0) if key == "id" else None
        table.add_column(heading, no_wrap=whole is not None, min_width=whole)
    for row in rows:
        table.add_row(*(Text(_cell(row.get(key))) for key in columns))
    console.print(table)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


class CommandFailed(click.ClickException):
    """A failure printed as the server's message (never a traceback) with its exit code."""

    def __init__(self, message: str, exit_code: int, details: list[str] = ()):
        super().__init__(message)
        self.exit_code, self.details = exit_code, list(details)

    def show(self, file=None) -> None:
        err_console.print(f"[bold red]error:[/] {self.message}", markup=True, soft_wrap=True)
        for line in self.details:
            err_console.print(f"  {line}", markup=False, soft_wrap=True)


def failure(error: MlpqError) -> CommandFailed:
    """The exit code and text for a client error: 2 for 422, 4 for timeouts, 3 for the rest."""
    if isinstance(error, ValidationError):
        details = [f"{path}: {'; '.join(map(str, messages))}"
                   for path, messages in error.errors.items()]
        # the server's message summarises the same field errors: list them once
        summary = error.message.startswith("Invalid request") and details
        if summary:
            message = f"the server refused the request (422), {len(details)} problem(s):"
        else:  # a field error the message already says in full is not repeated under it
            message = error.message
            details = [line for line, (path, texts) in zip(details, error.errors.items(), strict=True)
                       if not (path in message
                               and all(str(text).rstrip(".") in message for text in texts))]
        return CommandFailed(message, EXIT_USAGE, details)
    if isinstance(error, Timeout):
        return CommandFailed(str(error), EXIT_TIMEOUT)
    if isinstance(error, APIError):
        hint = " (set MLPQ_API_KEY or pass --api-key)" if error.status == 401 else ""
        return CommandFailed(f"{error.status} {error.message}{hint}", EXIT_HTTP,
                             [f"{path}: {'; '.join(map(str, texts))}" for path, texts in error.errors.items()])
    if isinstance(error, ConnectionError):
        return CommandFailed(f"{error} (is `mlpq serve` running? set MLPQ_URL or --url)", EXIT_HTTP)
    return CommandFailed(str(error), EXIT_HTTP)
