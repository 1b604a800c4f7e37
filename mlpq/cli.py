"""The `mlpq` command line: one sub-command per entry in COMMANDS."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mlpq import keys, serve


@dataclass(frozen=True)
class Command:
    """A sub-command: its one-line help, how it declares its options, and what it runs."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# Add a sub-command by writing a module with add_arguments(parser) and run(args) -> exit status,
# then one entry here.
COMMANDS: dict[str, Command] = {
    "serve": Command(
        "run the whole service: Redis (started locally if REDIS_URL does not answer), "
        "the API and a training worker",
        serve.add_arguments, serve.run),
    "redis": Command(
        "use the Redis server at REDIS_URL, or run a local one on its port until stopped",
        serve.add_redis_arguments, serve.run_redis),
    "keygen": Command(
        "make an API key: the key for the client and its hashed MLPQ_API_KEYS entry",
        keys.add_arguments, keys.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpq",
        description="Train and serve neural networks written from scratch in NumPy.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
