"""The Procfile's api line binds $PORT (honcho/foreman), else MLPQ_BIND, else 127.0.0.1:8000."""

import os
import subprocess

import pytest

from tests.support.environment import REPO_ROOT


def api_command():
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.startswith("api:"):
            return line.removeprefix("api:").strip()
    raise AssertionError("no api: line in the Procfile")


def bind_address(env):
    """Run the api line in sh (as honcho does) with `gunicorn` standing in: the --bind it gets."""
    script = 'gunicorn() { while [ "$1" != --bind ]; do shift; done; echo "$2"; }; ' + api_command()
    clean = {key: value for key, value in os.environ.items() if key not in ("PORT", "MLPQ_BIND")}
    result = subprocess.run(["sh", "-c", script], env={**clean, **env}, capture_output=True,
                            text=True, timeout=10, check=True)
    return result.stdout.strip()


@pytest.mark.parametrize(("env", "bind"), [
    ({"PORT": "5100", "MLPQ_BIND": "127.0.0.1:9000"}, "0.0.0.0:5100"),
    ({"PORT": "5100"}, "0.0.0.0:5100"),
    ({"MLPQ_BIND": "127.0.0.1:9000"}, "127.0.0.1:9000"),
    ({"PORT": "", "MLPQ_BIND": "127.0.0.1:9000"}, "127.0.0.1:9000"),
    ({}, "127.0.0.1:8000"),
])
def test_api_line_binds_port_then_mlpq_bind_then_8000(env, bind):
    assert bind_address(env) == bind

