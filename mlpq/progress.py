"""Training progress on screen, the same for a remote job and a --local run.

Three views of one stream of (event, data) pairs — `progress` ({epoch, epochs, batch, batches,
fraction, eta_seconds}), `epoch` (one metrics entry), `status` ({status, ...}):
a live rich bar on a terminal, one plain line per epoch elsewhere, one JSON object per event
with --json.
"""

from __future__ import annotations

import datetime
import json

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from engine.evaluation import VALIDATION_PREFIX
from engine.tasks import CLASSIFICATION, REGRESSION, TASKS
from mlpq.render import console

SHORT = {"accuracy": "acc"}  # short names in the epoch lines
TERMINAL_EPOCH_LINES = 50  # on a terminal at most this many epoch lines scroll past the bar


def format_epoch(entry: dict, epochs: int | None = None) -> str:
    """`epoch  3/10  loss 0.1234  acc 0.9650  val_loss …  lr 0.001  1.20s  48,000 samples/s`
    (a regression's epoch shows rmse, mae and r2 where a classification's shows acc)."""
    digits = len(str(epochs or entry["epoch"]))
    head = f"epoch {entry['epoch']:>{digits}}/{epochs}" if epochs else f"epoch {entry['epoch']}"
    parts = [head, *metric_parts(entry)]
    if entry.get("val_loss") is not None:
        parts += metric_parts(entry, VALIDATION_PREFIX)
    if entry.get("learning_rate") is not None:
        parts.append(f"lr {entry['learning_rate']:.3g}")
    if entry.get("seconds") is not None:
        parts.append(f"{entry['seconds']:.2f}s")
    if entry.get("samples_per_second"):
        parts.append(f"{entry['samples_per_second']:,.0f} samples/s")
    return "  ".join(parts)


def metric_parts(entry: dict, prefix: str = "") -> list[str]:
    """`loss 0.1234`, then the task's metrics (engine.tasks): `acc 0.9650`, or `rmse …  mae …
    r2 …` for a regression, each with `prefix` (val_) when given."""
    task = REGRESSION if f"{prefix}rmse" in entry else CLASSIFICATION
    names = ("loss", *TASKS[task].metrics)
    return [f"{prefix}{SHORT.get(name, name)} {_number(entry.get(prefix + name))}" for name in names]


def _number(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _eta(seconds) -> str:
    return "ETA " + ("-:--:--" if seconds is None else str(datetime.timedelta(seconds=round(seconds))))


class LineView:
    """One plain line per finished epoch and per status change: no carriage returns in logs."""

    def __init__(self):
        self.epochs = None

    def start(self, title: str, epochs: int | None = None) -> None:
        self.epochs = epochs
        click.echo(title)

    def event(self, name: str, data: dict, event_id: str | None = None) -> None:
        if name == "progress":
            self.epochs = data.get("epochs") or self.epochs
        elif name == "epoch":
            click.echo(format_epoch(data, self.epochs))
        elif name == "status":
            click.echo(f"status {data['status']}" + (f" ({data['reason']})" if data.get("reason") else ""))

    def note(self, text: str) -> None:
        click.echo(text)

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def stop(self) -> None:
        pass


class JsonView(LineView):
    """One JSON object per event: {"event", "data"} (and "id" for a server's events)."""

    def start(self, title: str, epochs: int | None = None) -> None:
        pass

    def event(self, name: str, data: dict, event_id: str | None = None) -> None:
        record = {"event": name, "data": data}
        if event_id:
            record["id"] = event_id
        click.echo(json.dumps(record))

    def note(self, text: str) -> None:
        pass


class LiveView(LineView):
    """A rich progress display: the whole run in epochs and the current epoch in batches,
    each with the last loss and accuracy and an ETA; finished epochs scroll above it."""

    def __init__(self):
        super().__init__()
        self.bars = Progress(
            TextColumn("[bold]{task.description:>7}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), TextColumn("[cyan]{task.fields[eta]}"),
            console=console, refresh_per_second=10)
        self.run = self.bars.add_task("epochs", total=None, metrics="", eta=_eta(None))
        self.batch = self.bars.add_task("batches", total=None, metrics="", eta="", visible=False)
        self.shown_every = 1

    def start(self, title: str, epochs: int | None = None) -> None:
        self._set_epochs(epochs)
        console.print(title, markup=False)
        self.bars.start()

    def _set_epochs(self, epochs: int | None) -> None:
        if epochs and epochs != self.epochs:
            self.epochs = epochs
            self.shown_every = max(1, -(-epochs // TERMINAL_EPOCH_LINES))
            self.bars.update(self.run, total=epochs)

    def event(self, name: str, data: dict, event_id: str | None = None) -> None:
        if name == "progress":
            self._set_epochs(data.get("epochs"))
            batches = max(data.get("batches") or 1, 1)
            done_epochs = max(data.get("epoch", 1) - 1, 0) + data.get("batch", 0) / batches
            self.bars.update(self.run, total=self.epochs, completed=min(done_epochs, self.epochs or 0),
                             eta=_eta(data.get("eta_seconds")))
            self.bars.update(self.batch, total=batches, completed=data.get("batch", 0), visible=True)
        elif name == "epoch":
            metrics = "  ".join(metric_parts(data))
            if data.get("val_loss") is not None:  # the first of the task's held-out metrics
                metrics += "  " + metric_parts(data, VALIDATION_PREFIX)[1]
            self.bars.update(self.run, completed=data["epoch"], metrics=metrics)
            epoch = data["epoch"]
            if epoch == 1 or epoch == self.epochs or epoch % self.shown_every == 0:
                self.bars.console.print(format_epoch(data, self.epochs), markup=False)
        elif name == "status":
            self.bars.console.print(f"[bold]status[/] {data['status']}")

    def note(self, text: str) -> None:
        self.bars.console.print(text, markup=False)

    def pause(self) -> None:
        self.bars.stop()

    def resume(self) -> None:
        self.bars.start()

    def stop(self) -> None:
        self.bars.stop()


def make_view(as_json: bool, live: bool) -> LineView:
    if as_json:
        return JsonView()
    return LiveView() if live else LineView()
