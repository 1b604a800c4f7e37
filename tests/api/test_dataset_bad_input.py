"""Bad uploads, one by one, over the real stack (gunicorn with small limits, Redis): each is a 4xx in
the API's one error shape naming the file, line, column or limit; nothing is stored, no temporary
file is left behind, and the server keeps serving."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tests.support.api import make_key
from tests.support.servers import GunicornServer, api_env
from tests.support.services import build_service_env

LIMITS = {"MLPQ_MAX_DATASET_BYTES": "20000", "MLPQ_MAX_DATASET_ROWS": "300",
          "MLPQ_MAX_DATASET_COLUMNS": "6", "MLPQ_MAX_DATASET_CLASSES": "5",
          "MLPQ_MAX_DATASETS_PER_KEY": "2"}
KEYS = {name: make_key(name) for name in ("alice", "quota")}


def rows_csv(header: str, *rows: str) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def people(count: int, start: int = 0) -> list[str]:
    """Rows of age, sex, fare, survived (a table the good case accepts)."""
    return [f"{20 + i % 50},{'fm'[i % 2]},{5 + i % 17}.5,{'ny'[(i // 2) % 2]}"
            for i in range(start, start + count)]


HEADER = "age,sex,fare,survived"
GOOD = rows_csv(HEADER, *people(40))


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-datasets")
    (root / "tmp").mkdir()
    env = api_env(build_service_env(redis_url, root / "artifacts"), **LIMITS,
                  MLPQ_API_KEYS=",".join(key.entry for key in KEYS.values()),
                  TMPDIR=str(root / "tmp"))
    server = GunicornServer(env, root / "gunicorn.log").start()
    yield server, root
    server.stop()


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack[0].url, timeout=60, headers=KEYS["alice"].headers) as client:
        yield client


def post(http, content=GOOD, filename="table.csv", test_file=None, **fields):
    files = {"file": (filename, content, "text/csv")}
    if test_file is not None:
        files["test_file"] = ("test.csv", test_file, "text/csv")
    return http.post("/v1/datasets", files=files, data={k: str(v) for k, v in fields.items()})


def refused(response, status: int, *words: str, field: str | None = None) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert set(body) <= {"code", "status", "message", "errors"} and body["code"] == status
    for word in words:
        assert word in body["message"], (word, body["message"])
    if field is not None:
        assert field in body["errors"], body
    return body


TWO_CLASSES = [f"{i},{'ab'[i % 2]}" for i in range(10)]

# (content, form fields) -> (status, words of the message, field)
CASES = {
    "empty file": (b"", {}, 422, ["file 'table.csv' is empty"], "file"),
    "header only": (b"a,b,c\n", {}, 422, ["has a header but no data rows"], "file"),
    "ragged rows": (rows_csv("a,b", *TWO_CLASSES[:3], "3,x,9"), {}, 422,
                    ["line 5 has 3 field(s), the header has 2"], "file"),
    "short row": (rows_csv("a,b", *TWO_CLASSES[:3], "7"), {}, 422, ["line 5 has 1 field(s)"], "file"),
    "undecodable bytes": (rows_csv("a,b", *TWO_CLASSES[:4]) + "5,café\n".encode("latin-1"), {},
                          422, ["line 6 is not UTF-8 text (byte 0xe9)"], "file"),
    "NUL bytes": (rows_csv("a,b", *TWO_CLASSES[:2]) + b"3,\x00\x01\n", {}, 422,
                  ["line 4 holds a NUL byte"], "file"),
    "duplicate column": (rows_csv("a,b,a", "1,x,2"), {}, 422, ["names column 'a' twice"], "file"),
    "empty column name": (rows_csv("a,,b", "1,2,x"), {}, 422, ["column 2 of the header has no name"],
                          "file"),
    "one class only": (rows_csv("a,b", *[f"{i},same" for i in range(10)]), {}, 422,
                       ["target column 'b' has one class only"], "target"),
    "NaN": (rows_csv("a,b", *TWO_CLASSES[:5], "NaN,x", *TWO_CLASSES[5:]), {}, 422,
            ["line 7, column 'a': 'NaN' is not a finite number"], "file"),
    "infinity": (rows_csv("a,b", *TWO_CLASSES[:2], "-inf,x", *TWO_CLASSES[2:]), {}, 422,
                 ["line 4, column 'a': -inf is not a finite number"], "file"),
    "too many rows": (rows_csv("a,b", *[f"{i},{'ab'[i % 2]}" for i in range(301)]), {}, 413,
                      ["more than 300 rows (MLPQ_MAX_DATASET_ROWS)"], "file"),
    "too many columns": (rows_csv("a,b,c,d,e,f,g", "1,2,3,4,5,6,x"), {}, 413,
                         ["7 columns, more than 6 (MLPQ_MAX_DATASET_COLUMNS)"], "file"),
    "too many classes": (rows_csv("a,b", *[f"{i},{'abcdef'[i % 6]}" for i in range(30)]), {}, 422,
                         ["target column 'b' has 6 classes, more than 5 (MLPQ_MAX_DATASET_CLASSES)"],
                         "target"),
    "text column of ids": (rows_csv("id,b", *[f"p{i},{'ab'[i % 2]}" for i in range(30)]), {}, 422,
                           ["text column 'id' has 24 distinct values"], "file"),
    "too many bytes": (rows_csv("a,b", *[f"{i:09d},{'ab'[i % 2]}" for i in range(1900)]), {}, 413,
                       ["larger than 20000 bytes (MLPQ_MAX_DATASET_BYTES)"], "file"),
    "gzip bomb": (gzip.compress(b"a,b\n" + b"1,2\n" * 50_000, 9), {}, 413,
                  ["inflates to more than 20000 bytes (MLPQ_MAX_DATASET_BYTES)"], "file"),
    "truncated gzip": (gzip.compress(GOOD)[:200], {}, 422, ["not a complete gzip file"], "file"),
    "unknown target": (GOOD, {"target": "survivd"}, 422,
                       ["target column 'survivd' is not in file 'table.csv'", "'survived'"],
                       "target"),
    "text regression": (GOOD, {"task": "regression"}, 422,
                        ["target column 'survived' holds text"], "task"),
    "bad task": (GOOD, {"task": "ranking"}, 422, ["task"], "task"),
    "bad missing": (GOOD, {"missing": "zero"}, 422, ["missing"], "missing"),
    "test_fraction 0": (GOOD, {"test_fraction": 0}, 422, ["test_fraction"], "test_fraction"),
    "test_fraction 1": (GOOD, {"test_fraction": 1}, 422, ["test_fraction"], "test_fraction"),
    "test_fraction text": (GOOD, {"test_fraction": "a fifth"}, 422, ["test_fraction"],
                           "test_fraction"),
    "test_fraction nan": (GOOD, {"test_fraction": "nan"}, 422, ["test_fraction"], "test_fraction"),
    "seed negative": (GOOD, {"seed": -1}, 422, ["seed"], "seed"),
    "missing target": (rows_csv("a,b", *TWO_CLASSES[:3], "4,", *TWO_CLASSES[4:]),
                       {"missing": "mean"}, 422,
                       ["line 5, column 'b': the target is missing", "missing=drop"], "file"),
    "empty column": (rows_csv("a,b,c", *[f"{i},,{'ab'[i % 2]}" for i in range(10)]),
                     {"missing": "drop"}, 422, ["column 'b' is empty in every row"], "file"),
    "unknown field": (GOOD, {"epochs": 3}, 422, ["epochs"], "epochs"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_upload_is_refused_naming_what_is_wrong(http, case):
    content, fields, status, words, field = CASES[case]
    refused(post(http, content, **fields), status, *words, field=field)


def test_a_test_file_must_match_the_training_file(http):
    refused(post(http, test_file=rows_csv("age,sex,price,survived", *people(8, 40))), 422,
            "test_file 'test.csv' lacks column 'fare'", field="test_file")
    rows = people(8, 40)
    rows[5] = "30,f,7.5,maybe"
    refused(post(http, test_file=rows_csv(HEADER, *rows)), 422,
            "test_file 'test.csv': line 7, column 'survived': unknown class 'maybe'",
            field="test_file")
    refused(post(http, test_file=b"a,b\n"), 422, "test_file 'test.csv' has a header but no data",
            field="test_file")


def test_bodies_that_are_not_uploads(http):
    refused(http.post("/v1/datasets", json={"file": "x.csv"}), 415, "multipart/form-data")
    refused(http.post("/v1/datasets", data={"name": "x"}, files={"other": ("x", b"1")}), 422,
            field="file")
    refused(http.post("/v1/datasets", data={"file": "a,b\n1,2\n", "name": "x"},
                      files={"other": ("x", b"1")}), 422, field="file")
    huge = b"a,b\n" + b"1,2\n" * 300_000  # the body is over twice the file limit plus 1 MiB
    refused(http.post("/v1/datasets", files={"file": ("big.csv", huge)}), 413,
            "MLPQ_MAX_DATASET_BYTES")


def test_a_key_keeps_a_limited_number_of_datasets(http):
    headers = KEYS["quota"].headers
    kept = [http.post("/v1/datasets", files={"file": ("t.csv", GOOD)}, data={"seed": seed},
                      headers=headers) for seed in (1, 2)]
    assert [response.status_code for response in kept] == [201, 201]
    third = http.post("/v1/datasets", files={"file": ("t.csv", GOOD)}, data={"seed": 3},
                      headers=headers)
    refused(third, 409, "keeps 2 datasets already (MLPQ_MAX_DATASETS_PER_KEY)")
    again = http.post("/v1/datasets", files={"file": ("t.csv", GOOD)}, data={"seed": 1},
                      headers=headers)
    assert again.status_code == 200  # the same upload again is no new dataset
    assert http.delete(f"/v1/datasets/{kept[0].json()['id']}", headers=headers).status_code == 204
    assert http.post("/v1/datasets", files={"file": ("t.csv", GOOD)}, data={"seed": 3},
                     headers=headers).status_code == 201


def test_nothing_was_stored_and_the_server_still_serves(http, stack):
    """Runs after the refusals above: alice has no dataset, no upload left a temporary file."""
    server, root = stack
    assert httpx.get(server.url + "/healthz").status_code == 200
    mine = [item for item in http.get("/v1/datasets").json() if item["owner"] == "alice"]
    assert mine == []
    stored = root / "artifacts" / "datasets"
    owners = {path.name for path in stored.iterdir()} if stored.exists() else set()
    assert len(owners) == 2  # the quota key's two
    assert list((root / "tmp").glob("mlpq-upload-*")) == []
    assert post(http).status_code == 201  # and a good upload still works
