"""What a setting is: a kind of value with its rule, a default, readers, and the error a bad value raises."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot run with.

    Its text is one line, the same in every process: `invalid settings: NAME='value': rule`.
    """


@dataclass(frozen=True)
class Integer:
    minimum: int

    @property
    def rule(self) -> str:
        return f"must be an integer >= {self.minimum}"

    def parse(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(self.rule) from None
        if value < self.minimum:
            raise ValueError(self.rule)
        return value


@dataclass(frozen=True)
class Number:
    """A finite float above 0, or from 0 when `zero` is allowed."""

    zero: bool = False

    @property
    def rule(self) -> str:
        return f"must be a finite number {'>=' if self.zero else '>'} 0"

    def parse(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(self.rule) from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not self.zero):
            raise ValueError(self.rule)
        return value


@dataclass(frozen=True)
class Flops:
    """A FLOP count, as an integer or in scientific notation (1e14)."""

    rule = "must be a number of FLOPs >= 1, e.g. 1e14"

    def parse(self, text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(self.rule) from None
        if not 1 <= value < math.inf:
            raise ValueError(self.rule)
        return int(value)


@dataclass(frozen=True)
class Text:
    """Any text; `path` turns it into a Path."""

    path: bool = False
    rule = "any text"

    def parse(self, text: str) -> str | Path:
        return Path(text) if self.path else text


@dataclass(frozen=True)
class Choice:
    """One of `choices`, in any case (stored lower-case)."""

    choices: tuple[str, ...]

    @property
    def rule(self) -> str:
        return f"must be one of {', '.join(self.choices)}"

    def parse(self, text: str) -> str:
        if text.lower() not in self.choices:
            raise ValueError(self.rule)
        return text.lower()


@dataclass(frozen=True)
class RedisUrl:
    rule = "must start with redis://, rediss:// or unix://"

    def parse(self, text: str) -> str:
        if not text.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(self.rule)
        return text


ARTIFACT_URL_SCHEMES = ("file", "s3")


@dataclass(frozen=True)
class ArtifactUrl:
    """file:///absolute/path or s3://bucket[/prefix]."""

    rule = "must be file:///path or s3://bucket/prefix"

    def parse(self, text: str) -> str:
        parts = urlsplit(text)
        if parts.scheme not in ARTIFACT_URL_SCHEMES:
            raise ValueError(self.rule)
        if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not parts.path):
            raise ValueError("a file URL is file:///absolute/path")
        if parts.scheme == "s3" and not parts.netloc:
            raise ValueError("an s3 URL names its bucket: s3://bucket/prefix")
        return text


Kind = Integer | Number | Flops | Text | Choice | RedisUrl | ArtifactUrl
# A default is a value, or a function of the other settings' values (read in the same call).
Default = object | Callable[[Mapping[str, object]], object]


@dataclass(frozen=True)
class Setting:
    """One environment variable: its kind of value, its default (unset or empty), the code that
    reads it (worker.store.settings.READERS) and its meaning (README's settings table)."""

    name: str
    kind: Kind
    default: Default
    readers: tuple[str, ...]
    description: str
    shown_default: str = ""  # README's default column, when the bare value would mislead

    def parse(self, text: str) -> object:
        """The value of `text` (already stripped and non-empty); ValueError stating the rule."""
        return self.kind.parse(text)

    def default_value(self, values: Mapping[str, object]) -> object:
        return self.default(values) if callable(self.default) else self.default
