"""The `mlpq` command line (click + rich): the service, training, models and predictions."""

from __future__ import annotations

from collections.abc import Sequence

import click

from engine.datasets import DatasetUnavailable
from engine.serialization import ModelFileError
from engine.training import TrainingError
from mlpq import (
    cmd_datasets,
    cmd_env,
    cmd_jobs,
    cmd_plan,
    cmd_predict,
    cmd_sweeps,
    cmd_train,
    keys,
    serve,
)
from mlpq.client import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE
from mlpq.errors import MlpqError
from mlpq.render import EXIT_HTTP, EXIT_JOB_FAILED, CommandFailed, Options, err_console, failure
from worker.store import environment

COMMANDS = [serve.serve, serve.redis_command, keys.keygen, cmd_train.train, *cmd_jobs.COMMANDS,
            *cmd_predict.COMMANDS, *cmd_datasets.COMMANDS, *cmd_plan.COMMANDS,
            *cmd_sweeps.COMMANDS, cmd_env.env]


DEBUG_VARIABLE = "MLPQ_DEBUG"


class Group(click.Group):
    """Turns the client's errors into their message and exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MlpqError as error:
            raise failure(error) from None
        except (DatasetUnavailable, ModelFileError, TrainingError) as error:  # --local runs
            raise CommandFailed(str(error), EXIT_JOB_FAILED) from None
        except OSError as error:  # e.g. a file given on the command line cannot be written
            raise click.FileError(error.filename or "", hint=error.strerror) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", metavar="URL",
              help=f"the mlpq server (env {URL_VARIABLE}, default {DEFAULT_URL})")
@click.option("--api-key", metavar="KEY",
              help=f"API key sent as a Bearer token (env {KEY_VARIABLE})")
@click.option("--json", "as_json", is_flag=True, help="JSON output for scripts (every command)")
@click.version_option(package_name="mlpq")
@click.pass_context
def cli(ctx, url, api_key, as_json):
    """Train and serve neural networks written from scratch in NumPy.

    Exit codes: 0 success; 1 a watched job failed or was cancelled; 2 usage errors and specs
    the server refuses (422); 3 other HTTP, connection and auth errors; 4 timeouts.
    Shell completion (bash): eval "$(_MLPQ_COMPLETE=bash_source mlpq)".
    """
    ctx.obj = Options(url=url, api_key=api_key, json=as_json)


for command in COMMANDS:
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; its exit code (click's own usage errors exit 2)."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="mlpq",
                          standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:
        err_console.print("aborted")
        return EXIT_JOB_FAILED
    except Exception as error:  # a bug: one line for users, the traceback on request
        if environment.value(DEBUG_VARIABLE):
            raise
        err_console.print(f"error: unexpected {type(error).__name__}: {error} "
                          f"(set {DEBUG_VARIABLE}=1 to see the traceback)", markup=False)
        return EXIT_HTTP
    return result if isinstance(result, int) else 0
