"""Every environment variable the code reads: each `"MLPQ_..."` / `"REDIS_URL"` string literal.

Settings registries, gunicorn_conf.py and direct os.environ reads all name their variable in one
exact string literal, so a text scan finds them all without importing anything.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "worker", "api", "mlpq")
VARIABLE_LITERAL = re.compile(r"""["']((?:MLPQ_[A-Z0-9_]+)|REDIS_URL|PROMETHEUS_MULTIPROC_DIR)["']""")


def variables_read_by_the_code() -> set[str]:
    variables = set()
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            variables |= set(VARIABLE_LITERAL.findall(path.read_text()))
    return variables
