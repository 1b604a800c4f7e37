"""Session-wide test settings: where the shared datasets live, and the shared fixtures."""

import pytest

# Asserts in the shared helpers explain their failures as the tests' own do.
pytest.register_assert_rewrite("tests.support")

from tests.support.environment import use_shared_datasets  # noqa: E402 - after the rewrite hook

use_shared_datasets()

pytest_plugins = ["tests.support.fixtures", "tests.support.models", "tests.support.tables"]
