"""Bad rows for a table model, one by one: each a 4xx in the one error shape naming the row and
column (or the file line, or the limit) and listing what is expected; the server keeps serving."""

from __future__ import annotations

import gzip
import io

import pytest

from engine import Network
from tests.support.api import make_app
from tests.support.tables import PEOPLE_COLUMNS, csv_bytes, people, row_dicts
from worker.store.ids import new_id

HEADER = PEOPLE_COLUMNS[:-1]  # age, monthly income, city, plan
ROWS = row_dicts(HEADER, [row[:-1] for row in people(3, seed=3)])
EXPECTED_COLUMNS = "expected columns: 'age', 'monthly income', 'city', 'plan'"


def changed(row: int, **cells) -> list[dict]:
    """ROWS with some cells of one row changed; a value of ... drops the column."""
    rows = [dict(each) for each in ROWS]
    for name, value in cells.items():
        name = name.replace("_", " ")
        if value is ...:
            del rows[row][name]
        else:
            rows[row][name] = value
    return rows


JSON_CASES = [
    ("missing column", changed(0, city=...), "rows[0].city", ["missing", EXPECTED_COLUMNS]),
    ("extra column", changed(1, colour="red"), "rows[1].colour",
     ["unknown column", EXPECTED_COLUMNS]),
    ("misspelled column", [{("monthly incme" if k == "monthly income" else k): v
                            for k, v in row.items()} for row in ROWS], "rows[0].monthly incme",
     ["did you mean 'monthly income'?", EXPECTED_COLUMNS]),
    ("unknown category", changed(2, city="Berlin"), "rows[2].city",
     ["unknown category 'Berlin'", "expected one of 'Lyon', 'Nice', 'Paris'"]),
    ("text in a numeric column", changed(0, age="old"), "rows[0].age", ["'old' is not a number"]),
    ("boolean in a numeric column", changed(0, age=True), "rows[0].age", ["True is not a number"]),
    ("null", changed(1, plan=None), "rows[1].plan", ["missing", "'basic', 'pro'"]),
    ("NaN", changed(0, age="NaN"), "rows[0].age", ["not a finite number"]),
    ("infinity", changed(2, monthly_income="Infinity"), "rows[2].monthly income",
     ["not a finite number"]),
    ("too large for float32", changed(1, monthly_income=1e300), "rows[1].monthly income",
     ["too large for the model's float32 inputs"]),
    ("a row that is not an object", [ROWS[0], [30, 2000, "Lyon", "pro"]], "rows[1]",
     ["must be an object"]),
]


def check_error(response, status, error_type, key, texts):
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) >= {"code", "status", "message", "type"} and body["code"] == status
    assert body["type"] == error_type
    for text in texts:
        assert text in body["message"], body["message"]
    if key is not None:
        assert list(body["errors"]) == [key]
        assert all(text in body["errors"][key][0] for text in texts if text != key)
    return body


@pytest.mark.parametrize("case,rows,key,texts", JSON_CASES, ids=[case[0] for case in JSON_CASES])
def test_a_bad_row_names_its_row_and_column(client, people_model, case, rows, key, texts):
    response = client.post(f"/v1/models/{people_model.model_id}/predict", json={"rows": rows})
    body = check_error(response, 422, "invalid_row", key, texts)
    assert body["message"].startswith(key + ":")
    good = client.post(f"/v1/models/{people_model.model_id}/predict", json={"rows": ROWS})
    assert good.status_code == 200  # and the server keeps serving


def upload(client, model_id, data: bytes, filename="rows.csv", **more):
    return client.post(f"/v1/models/{model_id}/predict", content_type="multipart/form-data",
                       data={"rows": (io.BytesIO(data), filename), **more})


def csv_of(rows) -> bytes:
    return csv_bytes(HEADER, [[row[name] for name in HEADER] for row in rows])


CSV_CASES = [
    ("ragged row", csv_of(ROWS) + b"40,2500,Lyon,pro,extra\n", 422, "invalid_csv", "rows",
     ["line 5 has 5 field(s), the header has 4"]),
    ("header only", ",".join(HEADER).encode() + b"\n", 422, "invalid_csv", "rows",
     ["no data rows"]),
    ("empty file", b"", 422, "invalid_csv", "rows", ["is empty"]),
    ("not UTF-8", csv_of(ROWS).replace(b"Lyon", b"Ly\xffon").replace(b"Nice", b"Ni\xffce")
     .replace(b"Paris", b"Pa\xffris"), 422, "invalid_csv", "rows", ["not UTF-8"]),
    ("unknown category on data row 2", csv_of(changed(2, city="Berlin")), 422, "invalid_row",
     "rows[2].city", ["(line 4)", "unknown category 'Berlin'"]),
    ("missing column", csv_bytes(HEADER[:-1], [[row[name] for name in HEADER[:-1]] for row in ROWS]),
     422, "invalid_row", "rows[0].plan", ["missing", EXPECTED_COLUMNS]),
    ("empty cell", csv_of(changed(1, age=None)), 422, "invalid_row", "rows[1].age", ["missing"]),
    ("inf in a numeric column", csv_of(changed(0, age="inf")), 422, "invalid_row", "rows[0].age",
     ["not a finite number"]),
]


@pytest.mark.parametrize("case,data,status,error_type,key,texts", CSV_CASES,
                         ids=[case[0] for case in CSV_CASES])
def test_a_bad_csv_upload_names_the_line_or_row(client, people_model, case, data, status,
                                                error_type, key, texts):
    check_error(upload(client, people_model.model_id, data), status, error_type, key, texts)


def test_row_count_limits_and_empty_rows(worker_settings, people_model):
    client = make_app(worker_settings, PREDICT_MAX_INPUTS=2).test_client()
    url = f"/v1/models/{people_model.model_id}/predict"
    check_error(client.post(url, json={"rows": ROWS}), 413, "too_many_inputs", "rows",
                ["rows holds 3 inputs; at most 2", "MLPQ_PREDICT_MAX_INPUTS"])
    check_error(upload(client, people_model.model_id, csv_of(ROWS)), 413, "too_many_inputs",
                "rows", ["at most 2"])
    check_error(client.post(url, json={"rows": []}), 422, "invalid_body", "rows",
                ["rows must be a non-empty list"])
    check_error(client.post(url, json={"rows": {"age": 3}}), 422, "invalid_body", "rows",
                ["non-empty list"])
    assert client.post(url, json={"rows": ROWS[:2]}).status_code == 200


def test_a_gzip_csv_inflating_past_the_limit(worker_settings, people_model):
    client = make_app(worker_settings, MAX_DATASET_BYTES=50_000).test_client()
    data = gzip.compress(csv_of(ROWS * 2000))  # ~100 KB of text, a few KB compressed
    assert len(data) < 50_000
    check_error(upload(client, people_model.model_id, data, "rows.csv.gz"), 413, "invalid_csv",
                "rows", ["inflates to more than 50000 bytes", "MLPQ_MAX_DATASET_BYTES"])


def test_rows_need_a_table_model(client, artifact_store):
    net = Network.from_spec({"layers": [{"units": 2, "activation": "softmax"}]}, input_size=2)
    model_id = new_id()
    artifact_store.save_model(model_id, net, metadata={"dataset": "xor", "name": "xor"})
    check_error(client.post(f"/v1/models/{model_id}/predict", json={"rows": ROWS}), 422,
                "rows_not_supported", "rows", ["not trained on a table", '"inputs"'])
    check_error(upload(client, model_id, csv_of(ROWS)), 422, "rows_not_supported", "rows",
                ["not trained on a table"])


def test_rows_and_images_in_one_upload(client, people_model):
    response = upload(client, people_model.model_id, csv_of(ROWS),
                      image=(io.BytesIO(b"\x89PNG"), "seven.png"))
    check_error(response, 422, "invalid_body", "rows", ["only file"])


def test_a_csv_under_another_field_name_is_pointed_to_rows(client, people_model):
    """`curl -F file=@rows.csv` reads as an image upload: the 422 names the field tables take."""
    response = client.post(f"/v1/models/{people_model.model_id}/predict",
                           content_type="multipart/form-data",
                           data={"file": (io.BytesIO(csv_of(ROWS)), "rows.csv")})
    check_error(response, 422, "images_not_supported", "image",
                ["not images", 'as "rows"', "curl -F rows=@rows.csv"])
