"""One settings registry: every process reads through it, and a bad value stops each the same way."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.core.config import config_key, load_config
from engine.datasets import DEFAULT_DATA_DIR
from tests.support.environment import REPO_ROOT
from worker.store.config import Settings
from worker.store.environment import read, read_by
from worker.store.setting_types import SettingsError
from worker.store.settings import READERS, SETTINGS

PACKAGES = ("engine", "worker", "api", "mlpq")
READER = REPO_ROOT / "worker" / "store" / "environment.py"  # reads through the registry
# The engine is a library importing nothing of ours, so it reads its two variables itself (the
# registry declares them, with the reader "engine").
OWN_READERS = {REPO_ROOT / "engine" / "datasets.py": set(read_by("engine"))}


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """NAME = "text" assignments at module level (names given to variables)."""
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def _mentions_environ(node: ast.AST) -> bool:
    return any(isinstance(part, ast.Name) and part.id == "environ"
               or isinstance(part, ast.Attribute) and part.attr == "environ"
               for part in ast.walk(node))


def environment_reads(source: str) -> set[str]:
    """Variables the code reads: os.getenv(X), <environ>.get(X), <environ>[X], X in <environ>,
    click's envvar=X; X a string or a module-level name for one."""
    tree = ast.parse(source)
    strings = _module_strings(tree)

    def text(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return strings.get(node.id) if isinstance(node, ast.Name) else None

    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute) and node.args and (
                    function.attr == "getenv"
                    or function.attr == "get" and _mentions_environ(function.value)):
                found.add(text(node.args[0]))
            found |= {text(keyword.value) for keyword in node.keywords if keyword.arg == "envvar"}
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if _mentions_environ(node.value):
                found.add(text(node.slice))
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            if _mentions_environ(node.comparators[0]):
                found.add(text(node.left))
    return found - {None}


def test_the_scan_sees_every_way_of_reading():
    sample = ('import os\nNAME = "MLPQ_A"\nos.environ.get(NAME)\nos.getenv("MLPQ_B")\n'
              'os.environ["MLPQ_C"]\n"MLPQ_D" in os.environ\n(env or os.environ).get("MLPQ_E")\n'
              'click.option("--x", envvar="MLPQ_F")\nos.environ["MLPQ_G"] = "written, not read"\n')
    assert environment_reads(sample) == {f"MLPQ_{letter}" for letter in "ABCDEF"}


def test_no_setting_is_read_from_the_environment_outside_the_registry():
    wrong = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if path == READER:
                continue
            ours = {name for name in environment_reads(path.read_text())
                    if name in SETTINGS or name.startswith("MLPQ_")}
            ours -= OWN_READERS.get(path, set())
            if ours:
                wrong[str(path.relative_to(REPO_ROOT))] = sorted(ours)
    assert wrong == {}
    for path, names in OWN_READERS.items():  # the exceptions are still needed, and no wider
        assert environment_reads(path.read_text()) >= names


def test_each_setting_is_declared_whole():
    for name, setting in SETTINGS.items():
        assert setting.name == name and setting.description and setting.readers
        assert set(setting.readers) <= set(READERS), name
    defaults = read(SETTINGS, {})
    for name, default in defaults.items():  # every default obeys its own rule
        if default not in ("", None):
            assert SETTINGS[name].parse(str(default)) == default, name
    assert SETTINGS["MLPQ_DATA_DIR"].shown_default == f"`{DEFAULT_DATA_DIR}`"


def test_typed_readers_hold_exactly_their_settings():
    assert set(Settings.variables().values()) == set(read_by("stores"))
    assert Settings.from_env({}) == Settings()
    config = load_config({}, environ={})
    assert all(config_key(name) in config for name in read_by("app"))
    assert config["SSE_MAX_STREAMS"] == config["THREADS"] // 2 == 8


def test_the_graceful_timeout_is_one_float_everywhere(tmp_path):
    """2.5 s: the worker waits 2.5 s, gunicorn (whole seconds) 3; both read the one setting."""
    assert Settings.from_env({"MLPQ_GRACEFUL_TIMEOUT": "2.5"}).graceful_timeout == 2.5
    env = {**clean_environment(), "MLPQ_GRACEFUL_TIMEOUT": "2.5",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import api.gunicorn_conf as conf; "
                             "print(conf.graceful_timeout)"], env=env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "3", result.stderr


def test_a_test_config_value_obeys_the_rule_of_its_setting():
    with pytest.raises(SettingsError, match=r"MLPQ_PREDICT_MAX_INPUTS='0': must be an integer >= 1"):
        load_config({"PREDICT_MAX_INPUTS": 0}, environ={})


# ---- a bad value stops every process at start, with the same line -----------------------------

BAD_VALUES = ["abc", "-1"]


def expected_line(value: str) -> str:
    rule = SETTINGS["MLPQ_GRACEFUL_TIMEOUT"].kind.rule
    return f"invalid settings: MLPQ_GRACEFUL_TIMEOUT={value!r}: {rule}"


def clean_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in SETTINGS}


def stops_with_the_line(command: list[str], value: str, cwd: Path = REPO_ROOT) -> None:
    env = {**clean_environment(), "MLPQ_GRACEFUL_TIMEOUT": value}
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [expected_line(value)], result.stderr[-2000:]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_the_app_factory_refuses_a_bad_value(value, monkeypatch):
    from api import create_app

    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLPQ_GRACEFUL_TIMEOUT", value)
    with pytest.raises(SettingsError) as refused:
        create_app({"TESTING": True})
    assert str(refused.value) == expected_line(value)


@pytest.mark.parametrize("value", BAD_VALUES)
def test_gunicorn_stops_at_start(value):
    stops_with_the_line([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
                         "--bind", "127.0.0.1:0", "api:create_app()"], value)


@pytest.mark.parametrize("value", BAD_VALUES)
def test_the_celery_worker_stops_at_start(value):
    stops_with_the_line([sys.executable, "-m", "celery", "-A", "worker", "worker"], value)


@pytest.mark.parametrize("value", BAD_VALUES)
def test_mlpq_serve_stops_before_starting_anything(value, tmp_path):
    stops_with_the_line([sys.executable, "-m", "mlpq", "serve", "--home", str(tmp_path)], value)
    assert list(tmp_path.iterdir()) == []  # no Redis was started, nothing was written
