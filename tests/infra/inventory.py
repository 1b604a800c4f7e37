"""Every environment variable the code reads: from the settings registries and direct reads."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Variables read directly (gunicorn_conf.py, the engine, the CLI) rather than via a registry.
ENVIRON_READ = re.compile(
    r"""(?:environ\.get\(|environ\[|getenv\()\s*["']((?:MLPQ|REDIS)_\w+)["']""")


def variables_read_by_the_code() -> set[str]:
    from api.config import SETTINGS as API_SETTINGS
    from worker.config import SETTINGS as WORKER_SETTINGS

    variables = {setting.env for setting in API_SETTINGS.values()}
    variables |= {variable for _attribute, variable, *_rest in WORKER_SETTINGS}
    for package in ("engine", "worker", "api", "mlpq"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            variables |= set(ENVIRON_READ.findall(path.read_text()))
    return variables
