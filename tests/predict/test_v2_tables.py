"""V2 for table models: one named input per feature column (FP32 numbers, BYTES categories, as
MLServer's pandas codec sends a DataFrame), a regression `value` output; NVIDIA's tritonclient
against the production gunicorn, and bad column tensors refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton

from engine.tables import NUMERIC
from tests.support.api import make_app
from tests.support.servers import GunicornServer, api_env
from tests.support.tables import PEOPLE_COLUMNS, people, row_dicts

ROWS = row_dicts(PEOPLE_COLUMNS[:-1], [row[:-1] for row in people(20, seed=11)])


def column_arrays(table, rows) -> dict[str, np.ndarray]:
    """The rows as tritonclient sends them: float32 numbers, UTF-8 bytes for categories."""
    return {column.name: (np.array([[row[column.name]] for row in rows], dtype=np.float32)
                          if column.type == NUMERIC else
                          np.array([[row[column.name].encode()] for row in rows], dtype=object))
            for column in table.columns}


def by_hand(model, columns: dict[str, np.ndarray]) -> np.ndarray:
    """The engine on the same preprocessing: the columns as the server decodes them, encoded."""
    decoded = {name: (values.ravel().astype(np.float64) if values.dtype != object
                      else np.array([value.decode() for value in values.ravel()], dtype=object))
               for name, values in columns.items()}
    return model.table.encode_columns(decoded)


def test_metadata_names_a_tensor_per_column(client, people_model, diabetes_model):
    metadata = client.get(f"/v2/models/{people_model.model_id}").get_json()
    assert metadata["inputs"] == [
        {"name": "age", "datatype": "FP32", "shape": [-1, 1]},
        {"name": "monthly income", "datatype": "FP32", "shape": [-1, 1]},
        {"name": "city", "datatype": "BYTES", "shape": [-1, 1]},
        {"name": "plan", "datatype": "BYTES", "shape": [-1, 1]}]
    assert metadata["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
        {"name": "label", "datatype": "INT64", "shape": [-1]}]
    metadata = client.get(f"/v2/models/{diabetes_model.model_id}").get_json()
    assert [tensor["name"] for tensor in metadata["inputs"]] == diabetes_model.table.column_names
    assert {tensor["datatype"] for tensor in metadata["inputs"]} == {"FP32"}
    assert metadata["outputs"] == [{"name": "value", "datatype": "FP32", "shape": [-1]}]


@pytest.fixture(scope="module")
def gunicorn_url(service_env, tmp_path_factory):
    """The production gunicorn config on the session's services, for the module's tests."""
    server = GunicornServer(api_env(service_env), tmp_path_factory.mktemp("v2") / "gunicorn.log")
    server.start()
    yield server.url
    server.stop()


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_sends_columns_to_a_classifier(gunicorn_url, people_model, binary):
    client = triton.InferenceServerClient(gunicorn_url.removeprefix("http://"))
    try:
        assert client.is_model_ready(people_model.model_id)
        metadata = client.get_model_metadata(people_model.model_id)
        columns = column_arrays(people_model.table, ROWS)
        tensors = []
        for spec in metadata["inputs"]:  # as a client would: by the metadata's names and types
            tensor = triton.InferInput(spec["name"], list(columns[spec["name"]].shape),
                                       spec["datatype"])
            tensor.set_data_from_numpy(columns[spec["name"]], binary_data=binary)
            tensors.append(tensor)
        outputs = [triton.InferRequestedOutput(name, binary_data=binary)
                   for name in ("probabilities", "label")]
        result = client.infer(people_model.model_id, tensors, outputs=outputs)
        expected = people_model.network.predict_proba(by_hand(people_model, columns))
        np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=0, atol=1e-6)
        assert result.as_numpy("label").tolist() == expected.argmax(axis=1).tolist()
    finally:
        client.close()


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_gets_regression_values(gunicorn_url, diabetes_model, binary):
    table, X = diabetes_model.table, diabetes_model.X_test[:16]
    columns = {column.name: (X[:, [index]] * column.std + column.mean).astype(np.float32)
               for index, column in enumerate(table.columns)}
    client = triton.InferenceServerClient(gunicorn_url.removeprefix("http://"))
    try:
        tensors = []
        for name, values in columns.items():
            tensor = triton.InferInput(name, list(values.shape), "FP32")
            tensor.set_data_from_numpy(values, binary_data=binary)
            tensors.append(tensor)
        result = client.infer(diabetes_model.model_id, tensors,
                              outputs=[triton.InferRequestedOutput("value", binary_data=binary)])
        values = result.as_numpy("value")
        assert values.dtype == np.float32 and values.shape == (16,)
        expected = diabetes_model.network.predict_values(by_hand(diabetes_model, columns))
        np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-4)  # float32 of ~150
        assert 25 <= float(values.mean()) <= 350  # in the target's units
    finally:
        client.close()


def tensor(name, datatype, data, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data), 1], "data": data}


def people_tensors(rows=ROWS[:2], **replaced):
    tensors = [tensor("age", "FP32", [row["age"] for row in rows]),
               tensor("monthly income", "FP32", [row["monthly income"] for row in rows]),
               tensor("city", "BYTES", [row["city"] for row in rows]),
               tensor("plan", "BYTES", [row["plan"] for row in rows])]
    return [replaced.get(each["name"].replace(" ", "_"), each) for each in tensors
            if replaced.get(each["name"].replace(" ", "_"), each) is not None]


def test_the_pandas_codecs_other_spellings(client, people_model):
    """Shape [n] instead of [n, 1], INT64 for an integer column, nested [[v], ...] data."""
    plain = client.post(f"/v2/models/{people_model.model_id}/infer",
                        json={"inputs": people_tensors()}).get_json()
    variants = people_tensors(age=tensor("age", "INT64", [[row["age"]] for row in ROWS[:2]]),
                              city=tensor("city", "BYTES", [row["city"] for row in ROWS[:2]], [2]))
    variant = client.post(f"/v2/models/{people_model.model_id}/infer",
                          json={"inputs": variants}).get_json()
    assert variant["outputs"] == plain["outputs"]


BAD = [
    ("a column missing", people_tensors(plan=None), "no input for column 'plan'"),
    ("a misspelled column", people_tensors(city=tensor("cty", "BYTES", ["Lyon", "Nice"])),
     "did you mean 'city'?"),
    ("a column twice", people_tensors() + [tensor("age", "FP32", [3, 4])], "'age' is sent twice"),
    ("numbers for a category", people_tensors(city=tensor("city", "FP32", [1, 2])),
     "a category column takes BYTES"),
    ("text for a number", people_tensors(age=tensor("age", "BYTES", ["old", "young"])),
     "a numeric column takes FP32"),
    ("an unknown category", people_tensors(city=tensor("city", "BYTES", ["Lyon", "Berlin"])),
     "inputs[2] ('city'), row 1: unknown category 'Berlin'; expected one of 'Lyon', 'Nice'"),
    ("rows that differ", people_tensors(age=tensor("age", "FP32", [30])),
     "holds 2 rows; the inputs before it hold 1"),
    ("the single input of other models", [tensor("input", "FP32", [0.0] * 8, [2, 4])],
     "'input', not a column of the model"),
    ("strings that are not strings", people_tensors(plan=tensor("plan", "BYTES", [1, 2])),
     "must hold JSON strings"),
]


@pytest.mark.parametrize("case,inputs,text", BAD, ids=[case[0] for case in BAD])
def test_bad_column_tensors_are_named(client, people_model, case, inputs, text):
    response = client.post(f"/v2/models/{people_model.model_id}/infer", json={"inputs": inputs})
    assert response.status_code == 400, response.get_json()
    assert text in response.get_json()["error"]


def test_too_many_rows(worker_settings, people_model):
    client = make_app(worker_settings, PREDICT_MAX_INPUTS=1).test_client()
    response = client.post(f"/v2/models/{people_model.model_id}/infer",
                           json={"inputs": people_tensors()})
    assert response.status_code == 413 and "at most 1" in response.get_json()["error"]
