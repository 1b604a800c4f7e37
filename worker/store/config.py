"""The stores' and the worker's settings as one typed object, read through the settings registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from engine.spec import Limits
from worker.store.environment import read
from worker.store.setting_types import SettingsError
from worker.store.settings import SETTINGS


def _from(variable: str):
    """A field holding `variable` (a registry name), with the registry's default."""
    return field(default=SETTINGS[variable].default_value({}), metadata={"variable": variable})


@dataclass(frozen=True)
class Settings:
    """What the worker (and the API, for limits, stores and the queue) reads: the registry's
    settings read by "stores" (worker.store.settings), each under its field's name."""

    redis_url: str = _from("REDIS_URL")
    artifact_dir: Path = _from("MLPQ_ARTIFACT_DIR")
    artifact_url: str = _from("MLPQ_ARTIFACT_URL")
    data_dir: Path | None = _from("MLPQ_DATA_DIR")
    max_layers: int = _from("MLPQ_MAX_LAYERS")
    max_units: int = _from("MLPQ_MAX_UNITS")
    max_job_flops: int = _from("MLPQ_MAX_JOB_FLOPS")
    max_epochs: int = _from("MLPQ_MAX_EPOCHS")
    max_parameters: int = _from("MLPQ_MAX_PARAMETERS")
    max_batch_size: int = _from("MLPQ_MAX_BATCH_SIZE")
    lease_seconds: float = _from("MLPQ_LEASE_SECONDS")
    sweep_seconds: float = _from("MLPQ_SWEEP_SECONDS")
    visibility_timeout: float = _from("MLPQ_VISIBILITY_TIMEOUT")
    unacked_restore_interval: float = _from("MLPQ_UNACKED_RESTORE_INTERVAL")
    blas_threads: int = _from("MLPQ_BLAS_THREADS")
    worker_concurrency: int = _from("MLPQ_WORKER_CONCURRENCY")
    progress_interval: float = _from("MLPQ_PROGRESS_INTERVAL")
    checkpoint_seconds: float = _from("MLPQ_CHECKPOINT_SECONDS")
    job_stall_seconds: float = _from("MLPQ_JOB_STALL_SECONDS")
    graceful_timeout: float = _from("MLPQ_GRACEFUL_TIMEOUT")
    limits: Limits = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "limits", Limits(
            **{limit.name: getattr(self, limit.name) for limit in fields(Limits)}))
        # A live job's duplicate message waits `lease_seconds` between lease checks; Redis must
        # not hand that waiting message out again meanwhile.
        if self.visibility_timeout <= 2 * self.lease_seconds:
            raise SettingsError(
                f"MLPQ_VISIBILITY_TIMEOUT ({self.visibility_timeout:g}) must be more than twice "
                f"MLPQ_LEASE_SECONDS ({self.lease_seconds:g})")

    @property
    def lease_renewal_seconds(self) -> float:
        """How often a training worker renews its lease: a third of its life, so two renewals
        in a row can fail (a Redis blip, a stalled thread) before the lease lapses."""
        return self.lease_seconds / 3

    @classmethod
    def variables(cls) -> dict[str, str]:
        """{field name: environment variable} of every setting field."""
        return {item.name: item.metadata["variable"] for item in fields(cls)
                if "variable" in item.metadata}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; raise SettingsError naming each bad variable and its rule."""
        variables = cls.variables()
        values = read(variables.values(), environ)
        return cls(**{name: values[variable] for name, variable in variables.items()})
