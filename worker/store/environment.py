"""Reading the environment through the settings registry: values, checks, README's table."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from worker.store.setting_types import Flops, Setting, SettingsError
from worker.store.settings import PROCESSES, READERS, SETTINGS


def read_by(reader: str) -> list[str]:
    """The names one reader (a key of READERS) reads, in the registry's order."""
    return [name for name, setting in SETTINGS.items() if reader in setting.readers]


def processes(setting: Setting) -> list[str]:
    """The processes that read `setting`, in PROCESSES' order."""
    return [process for process in PROCESSES
            if any(process in READERS[reader] for reader in setting.readers)]


def read_in(*wanted: str) -> list[str]:
    """The names read by any of the processes `wanted` (a process checks these at start)."""
    return [name for name, setting in SETTINGS.items() if set(processes(setting)) & set(wanted)]


def read(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """{name: value} for `names`, from `environ` (default os.environ); an unset or empty variable
    has its default. SettingsError names every bad value with its rule, on one line."""
    environ = os.environ if environ is None else environ
    texts = {name: environ.get(name, "").strip() for name in names}
    values, problems = {}, []
    for name, text in texts.items():
        if text:
            try:
                values[name] = SETTINGS[name].parse(text)
            except ValueError as error:
                problems.append(f"{name}={text!r}: {error}")
    if problems:
        raise SettingsError("invalid settings: " + "; ".join(problems))
    unset = [name for name, text in texts.items() if not text]
    # Plain defaults first: a derived one (a function) may read them.
    for name in sorted(unset, key=lambda name: callable(SETTINGS[name].default)):
        values[name] = SETTINGS[name].default_value(values)
    return values


def is_set(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `name` has a value of its own (for a reader whose default differs, like serve's bind)."""
    return bool((os.environ if environ is None else environ).get(name, "").strip())


def value(name: str, environ: Mapping[str, str] | None = None) -> object:
    return read([name], environ)[name]


def check(*wanted: str, environ: Mapping[str, str] | None = None) -> None:
    """Raise SettingsError if any setting the processes `wanted` read has a bad value."""
    read(read_in(*wanted), environ)


def shown_default(setting: Setting) -> str:
    if setting.shown_default:
        return setting.shown_default
    default = setting.default_value({})
    if default in ("", None):
        return "empty"
    if isinstance(setting.kind, Flops):
        return f"`{float(default):g}`".replace("e+", "e")
    return f"`{default:g}`" if isinstance(default, float) else f"`{default}`"


def markdown_table() -> str:
    """README's settings table."""
    rows = ["| variable | default | read by | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{name}` | {shown_default(setting)} | {', '.join(processes(setting))} | "
             f"{setting.description} |" for name, setting in SETTINGS.items()]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
