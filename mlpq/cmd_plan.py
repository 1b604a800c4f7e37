"""`mlpq plan` (what a job would cost, and what may go wrong) and `mlpq examples`."""

from __future__ import annotations

import click

from engine.tasks import TASKS
from mlpq.cmd_train import base_spec
from mlpq.render import EXIT_OK, console, json_option, options, print_json, show_table
from mlpq.specs import apply_overrides

LAYER_COLUMNS = {"layer": "layer", "units": "units", "activation": "activation", "fan_in": "fan in",
                 "parameters": "parameters", "dropout": "dropout"}


@click.command()
@click.argument("spec_file", metavar="[SPEC.json]", required=False, type=click.Path(dir_okay=False))
@click.option("--example", metavar="NAME", help="plan a built-in example")
@click.option("--dataset")
@click.option("--layers", metavar="UNITS:ACT,...")
@click.option("--task", type=click.Choice(list(TASKS)))
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@json_option
def plan(spec_file, example, **flags):
    """Plan a job before running it: parameters, memory, FLOPs, time and teaching warnings."""
    spec = apply_overrides(base_spec(spec_file, example), **flags)
    if "model" not in spec:
        raise click.UsageError("give SPEC.json, --example NAME or --layers")
    found = options().client.plan(spec)
    if options().json:
        return print_json(found)
    show_table(found["layers"], LAYER_COLUMNS, title="layers")
    time = found.get("time") or {}
    memory = found.get("memory") or {}
    flops = found.get("flops") or {}
    lines = [f"{found['parameters']:,} parameters; {found['samples']['training']:,} training rows, "
             f"{found['epochs']} epochs of {found['batches_per_epoch']} batches of {found['batch_size']}",
             f"memory {memory.get('total_bytes', 0) / 2**20:,.1f} MiB; "
             f"{flops.get('per_epoch', 0):.3g} FLOPs per epoch, {flops.get('per_job', 0):.3g} per job"]
    if time.get("seconds_per_job") is not None:
        lines.append(f"about {time['seconds_per_epoch']:.1f} s per epoch, {time['seconds_per_job']:.0f} s "
                     "in all on the newest worker")
    elif time.get("note"):
        lines.append(time["note"])
    for line in lines:
        console.print(line, markup=False)
    for warning in found.get("warnings") or []:
        console.print(f"[bold yellow]warning[/] {warning['title']}")
        console.print(f"  {warning['reason']}\n  try: {warning['suggestion']}", markup=False)
    if not found.get("warnings"):
        console.print("no warnings")
    return EXIT_OK


@click.command()
@json_option
def examples():
    """The built-in examples; train one with `mlpq train --example NAME --watch`."""
    found = options().client.examples()
    if options().json:
        return print_json(found)
    rows = [{**example, "dataset": example["spec"]["dataset"], "expect": _expect(example.get("expect"))}
            for example in found]
    show_table(rows, {"name": "name", "title": "title", "dataset": "dataset", "expect": "expect",
                      "description": "description"}, title="examples")
    return EXIT_OK


def _expect(expect: dict | None) -> str:
    if not expect:
        return "-"
    bounds = [f">= {expect['min']}" if "min" in expect else "", f"<= {expect['max']}" if "max" in expect else ""]
    return f"{expect.get('metric')} {' '.join(filter(None, bounds))}".strip()


COMMANDS = [plan, examples]
