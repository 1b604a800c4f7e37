"""Session-wide test settings: where the shared datasets live."""

import os
from pathlib import Path

_SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

# Tests read the real datasets from ../shared/datasets unless the caller chose another place.
if "MLPQ_DATA_DIR" not in os.environ and _SHARED_DATASETS.is_dir():
    os.environ["MLPQ_DATA_DIR"] = str(_SHARED_DATASETS)

pytest_plugins = ["tests.service_fixtures", "tests.model_fixtures"]
