"""README's commands and settings table match what CI runs and the settings registry."""

from __future__ import annotations

import os
import re

from tests.support.environment import REPO_ROOT
from worker.store.environment import markdown_table
from worker.store.settings import SETTINGS

README = (REPO_ROOT / "README.md").read_text()


def fenced_block_after(marker: str) -> list[str]:
    """Command lines of the first ``` block after `marker` (comments and blanks dropped)."""
    start = README.index(marker)
    block = re.search(r"```[a-z]*\n(.*?)```", README[start:], re.S)
    assert block, f"no code block after {marker!r}"
    return [line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.strip().startswith("#")]


def ci_commands() -> list[str]:
    text = (REPO_ROOT / ".ci" / "run").read_text()
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_test_command_is_what_ci_runs():
    (test_command,) = fenced_block_after("<!-- test-command -->")
    assert test_command in ci_commands()


def test_readme_run_command_exists():
    (run_command,) = fenced_block_after("<!-- run-command -->")
    assert run_command == "./run"
    assert os.access(REPO_ROOT / "run", os.X_OK)


def test_the_settings_table_is_the_registry():
    """The table under "Configuration" is worker.store.environment.markdown_table(), row for row."""
    assert {"REDIS_URL", "MLPQ_ARTIFACT_DIR", "MLPQ_DATA_DIR", "MLPQ_HOME"} <= set(SETTINGS)
    lines = README[README.index("\n| variable | default |"):].splitlines()[1:]
    table = "\n".join(lines[:lines.index("")]) + "\n"
    assert table == markdown_table(), "regenerate it: python -m worker.store.environment"
