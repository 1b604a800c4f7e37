"""Where the tests run: the repository, the shared datasets, CI, and the tools a suite needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def use_shared_datasets() -> None:
    """Read the real datasets from ../shared/datasets unless the caller chose another place."""
    if "MLPQ_DATA_DIR" not in os.environ and SHARED_DATASETS.is_dir():
        os.environ["MLPQ_DATA_DIR"] = str(SHARED_DATASETS)


def in_ci() -> bool:
    """True under CI: `CI` set to anything but empty, 0 or false (GitHub sets `true`)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def missing(message: str) -> None:
    """A tool the test needs is absent: CI installs every one, so fail there; skip elsewhere."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def chromium() -> str:
    """The path of Debian's chromium, which the browser tests drive."""
    executable = shutil.which("chromium")
    assert executable, "the browser tests need Debian's chromium (apt-get install chromium)"
    return executable
