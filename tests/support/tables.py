"""Tables for the suites: CSV files written from rows, and small table models trained with the
engine on a built-in (iris, diabetes) or an uploaded dataset, saved in the session's artifact
store through `ArtifactStore.save_model` with the dataset's preprocessing, as the worker saves
models (a plugin of tests/conftest.py for the fixtures)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pytest

from engine import Network, datasets
from engine.spec import validate_training_config
from engine.tables import REGRESSION, TablePreprocessing
from worker.store.artifacts import ArtifactStore
from worker.store.ids import new_id
from worker.store.jobs import utc_now

# ---- CSV files ---------------------------------------------------------------------------------

PEOPLE_COLUMNS = ["age", "monthly income", "city", "plan", "buys"]
CITIES, PLANS = ("Lyon", "Nice", "Paris"), ("basic", "pro")


def people(rows: int = 150, seed: int = 0) -> list[list]:
    """Rows of a customer table, two numeric and two text columns, and whether they buy
    (yes/no: mostly the young on the pro plan and the well-paid in Paris, so there is
    something to learn, and some noise, so there are mistakes)."""
    rng = np.random.default_rng(seed)
    table = []
    for _ in range(rows):
        age = int(rng.integers(18, 80))
        income = round(float(rng.uniform(1200, 6000)), 2)
        city, plan = CITIES[int(rng.integers(3))], PLANS[int(rng.integers(2))]
        buys = (plan == "pro" and age < 45) or (city == "Paris" and income > 4000)
        if rng.random() < 0.08:
            buys = not buys
        table.append([age, income, city, plan, "yes" if buys else "no"])
    return table


PASSENGER_COLUMNS = ["age", "sex", "class", "fare", "embarked", "survived"]
HOUSE_COLUMNS = ["rooms", "area", "district", "price"]


def passengers(rows: int = 60, seed: int = 0, *, gaps: bool = True) -> list[list]:
    """Rows of a Titanic-like table: age (gaps), sex, class (text), fare, embarked (gaps),
    survived (yes/no, depending on sex and class so there is something to learn)."""
    rng = np.random.default_rng(seed)
    table = []
    for index in range(rows):
        sex = ["female", "male"][int(rng.integers(2))]
        cabin = ["first", "second", "third"][int(rng.integers(3))]
        age = round(float(rng.uniform(1, 70)), 1)
        fare = round(float({"first": 80, "second": 25, "third": 9}[cabin] * rng.uniform(0.5, 1.5)), 2)
        embarked = ["Southampton", "Cherbourg", "Queenstown"][int(rng.integers(3))]
        lives = (sex == "female") != (cabin == "third" and index % 3 == 0)
        if gaps and index % 7 == 3:
            age = None
        if gaps and index % 11 == 5:
            embarked = None
        table.append([age, sex, cabin, fare, embarked, "yes" if lives else "no"])
    return table


def houses(rows: int = 50, seed: int = 1) -> list[list]:
    """Rows of a house price table: price = 50000 + 30000 x rooms + 900 x area (+ noise)."""
    rng = np.random.default_rng(seed)
    table = []
    for _ in range(rows):
        rooms, area = int(rng.integers(1, 7)), round(float(rng.uniform(30, 250)), 1)
        district = ["north", "south", "centre"][int(rng.integers(3))]
        price = round(50000 + 30000 * rooms + 900 * area + float(rng.normal(0, 5000)), 2)
        table.append([rooms, area, district, price])
    return table


def csv_bytes(header: list[str], rows: list[list], delimiter: str = ",", *, bom: bool = False,
              quote_all: bool = False) -> bytes:
    """A CSV file (UTF-8, with a BOM if asked): the header, then the rows (None as an empty
    cell), every field quoted if asked."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n",
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return (b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode()


def row_dicts(header: list[str], rows: list[list]) -> list[dict]:
    return [dict(zip(header, row, strict=True)) for row in rows]


def upload_dataset(client, data: bytes, filename: str, **form) -> dict:
    """POST /v1/datasets (a Flask test client), which must store it; the dataset record."""
    response = client.post("/v1/datasets", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), filename), **form})
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


# ---- table models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableModel:
    model_id: str
    dataset: str  # a built-in's name or an uploaded dataset's id
    table: TablePreprocessing
    network: Network  # loaded back from the saved files: the oracle for predictions
    X_test: np.ndarray  # the test split, encoded as the model was evaluated on it
    y_test: np.ndarray  # class indices, or standardised values (regression)


def table_spec(table: TablePreprocessing, hidden: int = 12) -> dict:
    if table.task == REGRESSION:
        return {"task": REGRESSION, "loss": "mse", "init": "xavier",
                "layers": [{"units": hidden, "activation": "tanh"},
                           {"units": 1, "activation": "identity"}]}
    return {"layers": [{"units": hidden, "activation": "tanh"},
                       {"units": table.output_size, "activation": "softmax"}]}


def train_table_model(artifacts: ArtifactStore, dataset: str, *, owner: str | None = None,
                      epochs: int = 40, seed: int = 0) -> TableModel:
    """Train a small network with the engine on `dataset`'s training split and save it as the
    worker saves a model, with the dataset's preprocessing in its manifest."""
    if dataset in datasets.DATASETS:
        (X, y), (X_test, y_test) = datasets.load(dataset)
        table = datasets.preprocessing_for(dataset)
    else:
        arrays = artifacts.load_dataset_arrays(dataset)
        X, y, X_test, y_test = (arrays[name] for name in ("X_train", "y_train", "X_test", "y_test"))
        table = TablePreprocessing.from_dict(artifacts.get_dataset(dataset)["preprocessing"])
    spec = table_spec(table)
    training = {"epochs": epochs, "batch_size": 16, "seed": seed,
                "optimizer": {"name": "adam", "learning_rate": 0.01}}
    net = Network.from_spec(spec, input_size=table.input_size, seed=seed)
    if table.task == REGRESSION:
        net.target_scale = (table.target.mean, table.target.std)
    history = net.fit(X, y, diagnostics=False, **training)
    model_id = new_id()
    record = {"job_id": None, "name": f"{dataset} by hand", "dataset": dataset, "owner": owner,
              "task": table.task, "spec": {"model": net.spec,
                                           "training": validate_training_config(training)},
              "metrics": history.epochs, "evaluation": net.evaluate(X_test, y_test),
              "stop_reason": "completed", "created_at": utc_now()}
    artifacts.save_model(model_id, net, metadata=record, classes=table.classes or [],
                         preprocessing=table.to_dict())
    return TableModel(model_id, dataset, table, Network.load(artifacts.model_dir(model_id)),
                      X_test, y_test)


# ---- fixtures (session: each model is trained once) --------------------------------------------


@pytest.fixture(scope="session")
def people_dataset(worker_settings) -> dict:
    """The people table uploaded through POST /v1/datasets (text columns: one-hot categories)."""
    from tests.support.api import make_app  # here, so suites that never use the app never import it

    client = make_app(worker_settings).test_client()
    return upload_dataset(client, csv_bytes(PEOPLE_COLUMNS, people()), "people.csv",
                          name="people", target="buys", seed="0")


@pytest.fixture(scope="session")
def people_model(people_dataset, artifact_dir) -> TableModel:
    """A classifier of the uploaded people table."""
    return train_table_model(ArtifactStore(artifact_dir), people_dataset["id"])


@pytest.fixture(scope="session")
def iris_model(artifact_dir) -> TableModel:
    return train_table_model(ArtifactStore(artifact_dir), "iris")


@pytest.fixture(scope="session")
def diabetes_model(artifact_dir) -> TableModel:
    """A regression of the built-in diabetes table: values in the target's units."""
    return train_table_model(ArtifactStore(artifact_dir), "diabetes", epochs=60)
