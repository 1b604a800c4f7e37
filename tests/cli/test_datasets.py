"""Your own tables through the installed `mlpq` script and the client, on the real stack
(gunicorn, Redis, a Celery worker): upload a CSV with text columns, list it, show it, train on it
by id, predict rows by column name (--row, --csv) and compare with the API's own JSON answer,
formula-looking cells escaped in the CSV written, then delete it; and a regression table."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc
import uuid

import httpx
import numpy as np
import pandas
import pexpect
import pytest

import mlpq
from tests.support.cli import MLPQ, run_mlpq

PASSENGER_COLUMNS = ["age", "fare", "balance", "sex", "port", "survived"]
# category values a spreadsheet would run as formulas (one with quotes, so the CSV quotes it)
PORTS = ["north", "south", '=HYPERLINK("http://example.com/x","go")', "@sea", "-coast"]
HOUSE_COLUMNS = ["rooms", "area", "district", "price"]
IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
DISTRICTS = ["old town", "harbour", "+hills"]


def passengers(rows: int = 240, seed: int = 0) -> list[list]:
    """A Titanic-like table: numbers (a negative balance among them) and text columns, and
    a yes/no target that depends on sex and age, so a few epochs learn something."""
    rng = np.random.default_rng(seed)
    table = []
    for _ in range(rows):
        sex = ["female", "male"][int(rng.integers(2))]
        age = int(rng.integers(1, 80))
        fare = round(float(rng.uniform(5, 90)), 2)
        balance = int(rng.integers(-50, 51))
        port = PORTS[int(rng.integers(len(PORTS)))]
        table.append([age, fare, balance, sex, port,
                      "yes" if sex == "female" or age < 12 else "no"])
    return table


def houses(rows: int = 200, seed: int = 1) -> list[list]:
    """A house-price table: price = 50000 + 30000 x rooms + 900 x area (+ district, noise)."""
    rng = np.random.default_rng(seed)
    table = []
    for _ in range(rows):
        rooms, area = int(rng.integers(1, 7)), round(float(rng.uniform(30, 200)), 1)
        district = DISTRICTS[int(rng.integers(len(DISTRICTS)))]
        price = 50000 + 30000 * rooms + 900 * area + 20000 * DISTRICTS.index(district)
        table.append([rooms, area, district, round(price + float(rng.normal(0, 5000)), 2)])
    return table


def write_table(path, header, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def mlpq_json(*args, url):
    result = run_mlpq("--json", *args, url=url)
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def api_predict(url, model_id, rows) -> dict:
    """The API's own JSON answer for named-feature rows (no client code in between)."""
    response = httpx.post(f"{url}/v1/models/{model_id}/predict", json={"rows": rows}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def named(header, rows):
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def passenger_model(stack, _session_celery_worker, tmp_path_factory):
    """The passenger table uploaded and trained on for a few epochs, both through the CLI."""
    _session_celery_worker.start()
    folder = tmp_path_factory.mktemp("passengers")
    path = write_table(folder / "passengers.csv", PASSENGER_COLUMNS, passengers())
    record = mlpq_json("datasets", "upload", path, "--target", "survived", "--name",
                       "passengers", url=stack.url)
    trained = run_mlpq("--json", "train", "--dataset", record["id"], "--name", "passengers",
                       "--layers", "16:relu,2:softmax", "--epochs", "8", "--watch",
                       url=stack.url)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr
    result = json.loads(trained.stdout.splitlines()[-1])["data"]
    return {"dataset": record, "model_id": result["model_id"], "result": result}


def test_upload_list_show_and_delete_a_table(url, client, tmp_path):
    path = write_table(tmp_path / "people.csv", PASSENGER_COLUMNS, passengers(120, seed=4),
                       delimiter=";")
    uploaded = run_mlpq("datasets", "upload", path, "--target", "survived", "--seed", "3", url=url)
    assert uploaded.returncode == 0, uploaded.stderr
    dataset_id = uploaded.stdout.split()[1]
    assert uploaded.stdout.startswith(f"dataset {dataset_id} uploaded:")
    assert "classification of 'survived' (2 classes: no, yes)" in uploaded.stdout
    assert f"mlpq train --dataset {dataset_id} --layers 32:relu,2:softmax" in uploaded.stdout

    record = client.dataset(dataset_id)
    assert record["kind"] == "table" and record["task"] == "classification"
    assert record["delimiter"] == "semicolon" and record["options"]["seed"] == 3
    types = {feature["name"]: feature["type"] for feature in record["features"]}
    assert types == {"age": "numeric", "fare": "numeric", "balance": "numeric",
                     "sex": "category", "port": "category"}
    again = mlpq_json("datasets", "upload", path, "--target", "survived", "--seed", "3", url=url)
    assert again["id"] == dataset_id, "the same file and options are stored once"

    listed = run_mlpq("datasets", url=url)
    assert listed.returncode == 0, listed.stderr
    lines = [line.split("\t") for line in listed.stdout.splitlines()]
    assert lines[0] == ["id", "name", "kind", "task", "target", "rows", "inputs", "created"]
    (mine,) = [line for line in lines if line[0] == dataset_id]  # the id in full
    assert mine[1:7] == ["people.csv", "table", "classification", "survived", "120",
                         str(record["input_size"])]
    assert any(line[:4] == ["iris", "iris", "table", "classification"] for line in lines)
    assert any(item["id"] == dataset_id for item in mlpq_json("datasets", url=url))

    shown = run_mlpq("dataset", dataset_id, url=url)
    assert shown.returncode == 0, shown.stderr
    for text in ("columns (target 'survived' not among them):", "class balance:", "first rows:",
                 "split: test_fraction 0.2, seed 3", f"sha256 {record['sha256']}"):
        assert text in shown.stdout, text
    sex_line = next(line for line in shown.stdout.splitlines() if line.startswith("sex\t"))
    assert sex_line.split("\t")[1] == "category" and "female" in sex_line and "male" in sex_line
    balance_rows = shown.stdout.split("class balance:\n")[1].splitlines()
    assert balance_rows[0] == "class\ttrain\ttest"
    assert sum(int(line.split("\t")[1]) + int(line.split("\t")[2])
               for line in balance_rows[1:3]) == 120
    assert mlpq_json("dataset", dataset_id, url=url)["preprocessing"]["kind"] == "table"

    deleted = run_mlpq("datasets", "delete", dataset_id, url=url)
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"deleted dataset {dataset_id}"
    gone = run_mlpq("dataset", dataset_id, url=url)
    assert gone.returncode == 3 and "404" in gone.stderr and "Traceback" not in gone.stderr
    assert all(item["id"] != dataset_id for item in client.datasets())


def test_a_built_in_table_is_shown_like_an_upload(url):
    shown = run_mlpq("dataset", "iris", url=url)
    assert shown.returncode == 0, shown.stderr
    assert "classification of 'species' (3 classes: setosa, versicolor, virginica)" in shown.stdout
    assert "source:" in shown.stdout and "licence:" in shown.stdout
    assert "class balance:" in shown.stdout


def test_bad_uploads_exit_2_with_the_servers_reason(url, tmp_path):
    path = write_table(tmp_path / "t.csv", PASSENGER_COLUMNS, passengers(40))
    wrong = run_mlpq("datasets", "upload", path, "--target", "survival", url=url)
    assert wrong.returncode == 2, wrong.stderr
    assert "'survival'" in wrong.stderr and "Traceback" not in wrong.stderr
    policy = run_mlpq("datasets", "upload", path, "--missing", "guess", url=url)
    assert policy.returncode == 2 and "missing" in policy.stderr
    absent = run_mlpq("datasets", "upload", tmp_path / "absent.csv", url=url)
    assert absent.returncode == 2 and "does not exist" in absent.stderr
    unknown = run_mlpq("datasets", "delete", uuid.uuid4().hex, url=url)
    assert unknown.returncode == 3 and "404" in unknown.stderr


def test_train_on_an_uploaded_table_by_id(url, client, passenger_model):
    result, dataset_id = passenger_model["result"], passenger_model["dataset"]["id"]
    assert result["status"] == "succeeded"
    model = client.model(passenger_model["model_id"])
    assert model["dataset"] == dataset_id
    assert 0.0 <= model["evaluation"]["accuracy"] <= 1.0


def test_predict_rows_by_column_name_agrees_with_the_api(url, passenger_model, tmp_path):
    model_id, classes = passenger_model["model_id"], passenger_model["dataset"]["classes"]
    texts = ["age=22,fare=7.25,balance=-5,sex=male,port=north",
             "age = 8, fare=30, balance=12, sex=female, port='@sea'"]
    typed = [{"age": 22, "fare": 7.25, "balance": -5, "sex": "male", "port": "north"},
             {"age": 8, "fare": 30, "balance": 12, "sex": "female", "port": "@sea"}]
    expected = api_predict(url, model_id, typed)
    shown = mlpq_json("predict", model_id, "--row", texts[0], "--row", texts[1], url=url)
    assert [item["input"] for item in shown] == typed
    assert [item["label"] for item in shown] == [p["label"] for p in expected["predictions"]]
    assert [item["class"] for item in shown] == [classes[p["label"]] for p in expected["predictions"]]
    assert np.allclose([item["probabilities"] for item in shown],
                       [p["probabilities"] for p in expected["predictions"]], atol=1e-6)

    printed = run_mlpq("predict", model_id, "--row", texts[0], url=url)
    assert printed.returncode == 0, printed.stderr
    first = classes[expected["predictions"][0]["label"]]
    assert printed.stdout.startswith(f"row 1 (age=22, fare=7.25, balance=-5, sex=male, "
                                     f"port=north): {first} (")
    assert "◀" in printed.stdout

    saved = run_mlpq("predict", model_id, "--row", texts[1], "-o", tmp_path / "one.csv", url=url)
    assert saved.returncode == 0, saved.stderr
    with open(tmp_path / "one.csv", newline="", encoding="utf-8") as file:
        (row,) = list(csv.DictReader(file))
    assert row["port"] == "'@sea" and row["balance"] == "12"


def test_predict_a_csv_of_rows_writes_safe_csv_matching_the_api(url, passenger_model, tmp_path):
    model_id, classes = passenger_model["model_id"], passenger_model["dataset"]["classes"]
    header = PASSENGER_COLUMNS[:-1]
    rows = [[22, 7.25, -5, "male", PORTS[2]], [8, 30.5, 12, "female", "@sea"],
            [40, 61.0, -50, "female", "-coast"], [65, 12.0, 0, "male", "south"]]
    source = write_table(tmp_path / "rows.csv", header, rows)
    expected = api_predict(url, model_id, named(header, rows))["predictions"]

    out = tmp_path / "predictions.csv"
    written = run_mlpq("predict", model_id, "--csv", source, "-o", out, url=url)
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"saved 4 predictions to {out}"
    with open(out, newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    assert table[0] == [*header, "label", *(f"probability_{name}" for name in classes)]
    for cells, answer in zip(table[1:], expected, strict=True):
        assert cells[5] == classes[answer["label"]]
        assert np.allclose([float(cell) for cell in cells[6:]], answer["probabilities"], atol=1e-6)
    ports = [cells[4] for cells in table[1:]]
    assert ports == ["'" + PORTS[2], "'@sea", "'-coast", "south"], "formulas escaped, text kept"
    assert [cells[2] for cells in table[1:]] == ["-5", "12", "-50", "0"], "numbers stay numbers"

    piped = run_mlpq("predict", model_id, "--csv", source, url=url)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == out.read_text(encoding="utf-8"), "stdout gets the same CSV"
    as_json = mlpq_json("predict", model_id, "--csv", source, url=url)
    assert [item["label"] for item in as_json] == [answer["label"] for answer in expected]
    assert as_json[0]["input"] == dict(zip(header, ["22", "7.25", "-5", "male", PORTS[2]],
                                           strict=True))


@pytest.fixture(scope="module")
def iris_model(stack, _session_celery_worker) -> str:
    """A model of the built-in iris table, trained through the CLI."""
    _session_celery_worker.start()
    trained = run_mlpq("--json", "train", "--dataset", "iris", "--name", "iris-cli",
                       "--layers", "8:relu,3:softmax", "--epochs", "30", "--watch", url=stack.url)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr
    return json.loads(trained.stdout.splitlines()[-1])["data"]["model_id"]


def test_a_built_in_table_model_predicts_rows_and_csv(url, iris_model, tmp_path):
    """iris by name: the column names have spaces and brackets, the classes are text."""
    model_id = iris_model
    header = IRIS_COLUMNS
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    expected = api_predict(url, model_id, named(header, rows))
    text = ",".join(f"{name}={value}" for name, value in zip(header, rows[0], strict=True))
    shown = mlpq_json("predict", model_id, "--row", text, url=url)
    assert shown[0]["input"] == named(header, rows)[0]
    assert shown[0]["class"] == expected["classes"][expected["predictions"][0]["label"]]
    written = run_mlpq("predict", model_id, "--csv", write_table(tmp_path / "i.csv", header, rows),
                       url=url)
    assert written.returncode == 0, written.stderr
    table = list(csv.reader(written.stdout.splitlines()))
    assert table[0] == [*header, "label", "probability_setosa", "probability_versicolor",
                        "probability_virginica"]
    assert [cells[4] for cells in table[1:]] == [expected["classes"][answer["label"]]
                                                 for answer in expected["predictions"]]


def test_the_client_predicts_rows_a_dataframe_and_a_csv(url, client, iris_model, tmp_path):
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    expected = api_predict(url, iris_model, named(IRIS_COLUMNS, rows))
    frame = pandas.DataFrame(rows, columns=IRIS_COLUMNS)
    for answers in (client.predict(iris_model, rows=named(IRIS_COLUMNS, rows)),
                    client.predict(iris_model, rows=frame),
                    client.predict(iris_model, csv=write_table(tmp_path / "i.csv", IRIS_COLUMNS, rows)),
                    client.predict(iris_model, csv=io.BytesIO(frame.to_csv(index=False).encode()))):
        assert answers.classes == expected["classes"] and answers.model_id == iris_model
        assert [a["label"] for a in answers] == [p["label"] for p in expected["predictions"]]
        assert [a["class"] for a in answers] == [expected["classes"][p["label"]]
                                                 for p in expected["predictions"]]
    frame.iloc[1, 2] = float("nan")  # an empty cell, sent as null
    with pytest.raises(mlpq.ValidationError) as refused:
        client.predict(iris_model, rows=frame)
    assert "rows[1].petal length (cm)" in refused.value.errors
    with pytest.raises(ValueError, match="exactly one of"):
        client.predict(iris_model, rows=named(IRIS_COLUMNS, rows), inputs=rows)


def test_bad_rows_exit_2(url, iris_model):
    unclosed = run_mlpq("predict", iris_model, "--row", "sepal length (cm)='5.1", url=url)
    assert unclosed.returncode == 2 and "never closed" in unclosed.stderr
    misspelled = run_mlpq("predict", iris_model, "--row", ",".join(
        f"{name}=1" for name in [*IRIS_COLUMNS[:3], "petal width"]), url=url)
    assert misspelled.returncode == 2, misspelled.stderr
    assert "rows[0].petal width" in misspelled.stderr and "'petal width (cm)'" in misspelled.stderr
    assert "Traceback" not in misspelled.stderr
    both = run_mlpq("predict", iris_model, "--row", "a=1", "--csv", __file__, url=url)
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_dataset_in_use_cannot_be_deleted(url, client, passenger_model):
    dataset_id = passenger_model["dataset"]["id"]
    job = client.train({"dataset": dataset_id, "model": {"layers": [
        {"units": 16, "activation": "relu"}, {"units": 2, "activation": "softmax"}]},
        "training": {"epochs": 5000}})
    try:
        refused = run_mlpq("datasets", "delete", dataset_id, url=url)
        assert refused.returncode == 3 and "409" in refused.stderr and job.id in refused.stderr
    finally:
        job.cancel()
        job.wait(timeout=60)


def test_regression_table_trained_and_predicted(url, tmp_path):
    path = write_table(tmp_path / "houses.csv", HOUSE_COLUMNS, houses())
    record = mlpq_json("datasets", "upload", path, "--target", "price", url=url)
    assert record["task"] == "regression" and record["classes"] is None
    trained = run_mlpq("train", "--dataset", record["id"], "--task", "regression",
                       "--layers", "16:relu,1:identity", "--epochs", "5", "--watch", url=url)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr
    assert "rmse" in trained.stdout and "test rmse" in trained.stdout
    model_id = trained.stdout.splitlines()[-1].removeprefix("model ")
    errors = run_mlpq("mistakes", model_id, "--limit", "2", url=url)  # the largest errors, by row
    assert errors.returncode == 0, errors.stderr
    summary, heading, *listed = errors.stdout.splitlines()
    assert summary.startswith(f"the largest errors on {record['test_size']} ") and "price's" in summary
    assert heading.split("\t") == ["test index", "true", "predicted", "error", *HOUSE_COLUMNS[:-1]]
    assert len(listed) == 2

    header, rows = HOUSE_COLUMNS[:-1], [[3, 120.0, "+hills"], [1, 35.5, "harbour"]]
    expected = api_predict(url, model_id, named(header, rows))["predictions"]
    printed = run_mlpq("predict", model_id, "--row", "rooms=3,area=120,district=+hills", url=url)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == (f"row 1 (rooms=3, area=120, district=+hills): "
                                      f"{expected[0]['value']:.6g}")
    out = tmp_path / "prices.csv"
    written = run_mlpq("predict", model_id, "--csv", write_table(tmp_path / "r.csv", header, rows),
                       "-o", out, url=url)
    assert written.returncode == 0, written.stderr
    with open(out, newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    assert table[0] == [*header, "value"]
    assert [cells[2] for cells in table[1:]] == ["'+hills", "harbour"]
    assert np.allclose([float(cells[3]) for cells in table[1:]],
                       [answer["value"] for answer in expected], rtol=1e-6)


def test_the_client_streams_an_upload(client, tmp_path):
    """An upload of several MB is sent in chunks: the client never holds the file whole."""
    rng = np.random.default_rng(5)
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as file:
        file.write("a,b,c,label\n")
        for _ in range(40):
            values = rng.normal(size=(5000, 3)).round(6)
            file.writelines(f"{x},{y},{z},{'up' if x + y > 0 else 'down'}\n"
                            for x, y, z in values.tolist())
    size = path.stat().st_size
    assert size > 6_000_000
    tracemalloc.start()
    try:
        record = client.upload_dataset(path, target="label", name="big")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    try:
        assert record["train_size"] + record["test_size"] == 200_000
        assert peak < size / 4, f"peak {peak:,} bytes traced for a {size:,}-byte file"
    finally:
        client.delete_dataset(record["id"])


def test_the_listing_never_cuts_an_id_on_a_narrow_terminal(url, client, tmp_path):
    record = client.upload_dataset(write_table(tmp_path / "narrow.csv", PASSENGER_COLUMNS,
                                               passengers(30, seed=9)), target="survived")
    try:
        env = {**os.environ, "MLPQ_URL": url, "TERM": "xterm-256color", "COLUMNS": "80"}
        env.pop("MLPQ_API_KEY", None)
        terminal = pexpect.spawn(MLPQ, ["datasets"], env=env, encoding="utf-8", timeout=60,
                                 dimensions=(40, 80))
        output = terminal.read()
        terminal.close()
        assert terminal.exitstatus == 0, output
        assert "┏" in output and record["id"] in output
    finally:
        client.delete_dataset(record["id"])
