"""Settings from the environment and the id rules every key and path relies on."""

import uuid

import pytest

from engine.spec import Limits
from worker.store.config import Settings
from worker.store.environment import read_by
from worker.store.ids import is_valid_id, model_id_for_job, new_id, validate_id
from worker.store.setting_types import SettingsError


def test_defaults_match_the_documented_table():
    settings = Settings.from_env({})
    assert settings.redis_url == "redis://localhost:6379/0"
    assert str(settings.artifact_dir) == "var/artifacts" and settings.data_dir is None
    assert settings.limits == Limits()
    assert settings == Settings()  # the dataclass defaults and the table agree
    assert sorted(Settings.variables().values()) == sorted(read_by("stores"))  # one field each


def test_values_are_parsed_and_limits_built():
    settings = Settings.from_env({"MLPQ_MAX_LAYERS": "4", "MLPQ_LEASE_SECONDS": "2.5",
                                  "MLPQ_DATA_DIR": "/data", "REDIS_URL": "redis://r:1/2"})
    assert settings.limits.max_layers == 4 and settings.lease_seconds == 2.5
    assert str(settings.data_dir) == "/data" and settings.redis_url == "redis://r:1/2"


def test_work_cap_reads_scientific_notation():
    assert Settings.from_env({}).limits.max_job_flops == 10**14
    assert Settings.from_env({"MLPQ_MAX_JOB_FLOPS": "2.5e13"}).limits.max_job_flops == 25 * 10**12
    assert Settings.from_env({"MLPQ_MAX_JOB_FLOPS": "1000"}).limits.max_job_flops == 1000
    for bad in ("0", "-1e9", "inf", "lots"):
        with pytest.raises(SettingsError, match="MLPQ_MAX_JOB_FLOPS=.*must be a number of FLOPs >= 1"):
            Settings.from_env({"MLPQ_MAX_JOB_FLOPS": bad})


def test_every_bad_value_is_named_with_its_rule():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"MLPQ_MAX_UNITS": "lots", "MLPQ_BLAS_THREADS": "0",
                           "MLPQ_LEASE_SECONDS": "nan", "REDIS_URL": "localhost"})
    message = str(raised.value)
    for expected in ("MLPQ_MAX_UNITS='lots': must be an integer >= 1",
                     "MLPQ_BLAS_THREADS='0'", "MLPQ_LEASE_SECONDS='nan': must be a finite number > 0",
                     "REDIS_URL='localhost': must start with redis://"):
        assert expected in message


def test_visibility_timeout_must_outlast_the_lease_wait():
    with pytest.raises(SettingsError, match="MLPQ_VISIBILITY_TIMEOUT"):
        Settings.from_env({"MLPQ_LEASE_SECONDS": "60", "MLPQ_VISIBILITY_TIMEOUT": "100"})


@pytest.mark.parametrize("bad", ["", "../" * 11, "A" * 32, uuid.uuid4().hex[:31], uuid.uuid1().hex,
                                 uuid.uuid4().hex + "\n", 12345, None, uuid.uuid4().hex.upper()])
def test_malformed_ids_are_rejected(bad):
    assert not is_valid_id(bad)
    with pytest.raises(ValueError, match="32 lowercase hexadecimal digits"):
        validate_id(bad, "job id")


def test_model_id_is_a_deterministic_uuid4_per_job():
    job_id = new_id()
    assert validate_id(job_id) == job_id
    model_id = model_id_for_job(job_id)
    assert model_id == model_id_for_job(job_id) and is_valid_id(model_id)
    assert model_id != job_id and model_id != model_id_for_job(new_id())
    assert uuid.UUID(hex=model_id).version == 4
