"""The installed `mlpq` console script, run piped or in a pseudo-terminal, and its JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect

from tests.support.environment import REPO_ROOT

MLPQ = str(Path(sys.executable).with_name("mlpq"))  # the installed console script


def run_mlpq(*args, url=None, env=None, timeout=180, input=None, cwd=None) -> subprocess.CompletedProcess:
    """`mlpq ARGS` in a subprocess, its output piped (so not a terminal)."""
    environment = {**os.environ, **(env or {})}
    if url:
        environment["MLPQ_URL"] = url
    environment.pop("MLPQ_API_KEY", None) if env is None or "MLPQ_API_KEY" not in env else None
    return subprocess.run([MLPQ, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=environment, input=input, cwd=cwd or REPO_ROOT)


def spawn(*args, url=None) -> pexpect.spawn:
    """`mlpq ARGS` in a pseudo-terminal of 40x140 that understands colours."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "40"}
    env.pop("NO_COLOR", None)
    if url:
        env["MLPQ_URL"] = url
    return pexpect.spawn(MLPQ, [str(arg) for arg in args], env=env, encoding="utf-8", timeout=120,
                         dimensions=(40, 140))


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value))
    return path
