"""Property-based fuzzing of every documented operation from the API's own /openapi.json.

schemathesis generates requests (valid and invalid) for each operation and checks the answers:
no server error, every status documented, every body matching its documented schema. The app is
the real one (in-process WSGI) on a private Redis with a real Celery worker and a trained model,
so `latest`, predictions and job submissions run their real paths. Bounded for CI: a fixed
seed, a few examples per operation, no shrinking, no example database.

The operations are driven through `APIOperation.as_strategy` under Hypothesis rather than
`schemathesis.pytest.from_fixture`, whose per-operation reporting sets a node attribute
(`_nodeid`) that pytest 9.2 no longer has.
"""

import io
import re

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import make_app, submit
from tests.support.specs import XOR_JOB, with_training
from tests.support.waiting import wait_for_job
from worker.store.config import Settings

# Caps so that any job the fuzzer manages to get accepted is small (the worker trains them).
FUZZ_LIMITS = {"MLPQ_MAX_LAYERS": "3", "MLPQ_MAX_UNITS": "32", "MLPQ_MAX_EPOCHS": "2",
               "MLPQ_MAX_PARAMETERS": "30000"}
EXAMPLES = 15  # per operation and mode
SEED = 6


def status_documented_explicitly(ctx, response, case):
    """Stricter than status_code_conformance, which any status passes because flask-smorest
    documents a `default` response on every operation: the status must have its own entry."""
    documented = set(case.operation.definition.raw.get("responses", {})) - {"default"}
    if str(response.status_code) not in documented:
        raise AssertionError(f"{case.operation.label} answered {response.status_code}, which its "
                             f"responses do not list ({', '.join(sorted(documented))})")


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          status_documented_explicitly]


@pytest.fixture
def api_schema(isolated_service):
    service = isolated_service
    service.env.update(FUZZ_LIMITS)
    service.start_worker(concurrency=1)
    settings = Settings.from_env(service.env)
    # Event streams end quickly: a fuzzed request must not hold the test for minutes.
    app = make_app(settings, SSE_MAX_SECONDS=1.0, SSE_KEEPALIVE_SECONDS=0.5)
    client = app.test_client()
    small_xor = with_training(XOR_JOB, epochs=2)
    done = wait_for_job(client, submit(client, small_xor)["id"], timeout=60)
    assert done["status"] == "succeeded", done["error"]  # `latest` and predict have a model
    sweep = client.post("/v1/sweeps", json={"base": small_xor, "parameters": {
        "training.optimizer.learning_rate": {"values": [0.05]}}}).get_json()
    table = b"x,y\n" + b"".join(f"{i},{'ab'[i % 2]}\n".encode() for i in range(10))
    dataset = client.post("/v1/datasets", data={"file": (io.BytesIO(table), "t.csv")}).get_json()
    config = schemathesis.Config.from_dict({"seed": SEED, "cache": {"enabled": False}})
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    return schema, {"job_id": done["id"], "model_id": done["model_id"], "sweep_id": sweep["id"],
                    "dataset_id": dataset["id"],  # an uploaded table (deleted last, if at all)
                    "layer": 0, "name": "xor-log-loss"}  # name: a built-in example


@pytest.mark.slow
def test_every_operation_answers_as_documented(api_schema):
    """Random ids first (mostly 404s), then the real job's and model's ids, so the rest of
    each request (query, headers, body) reaches the code behind the lookup."""
    schema, known_ids = api_schema
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()  # an operation the schema cannot describe fails here
        operations += 1
        runs = [(mode, None) for mode in schemathesis.GenerationMode]
        names = re.findall(r"{(\w+)}", operation.path)
        if names and operation.method.upper() != "DELETE":  # keep the model for the others
            runs += [(mode, {name: known_ids[name] for name in names})
                     for mode in schemathesis.GenerationMode]
        for mode, ids in runs:
            try:
                _fuzz(operation, mode, ids)
            except hypothesis.errors.Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
                continue  # nothing to get wrong: no parameters and no body
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collect them all
                failures.append(f"{operation.label} ({mode.value}, ids {ids}):\n{error}")
    assert operations >= 12, "every documented operation was fuzzed"
    assert not failures, "\n\n".join(failures)


def _fuzz(operation, mode, path_parameters=None) -> None:
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode,
                                                 path_parameters=path_parameters))
    def run(case):
        case.call_and_validate(checks=CHECKS)

    run()
