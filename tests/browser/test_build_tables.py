"""The Build page trains on an uploaded table, picked by its name and id, in Chromium against the
real stack (the studio fixture's gunicorn, Celery worker and Redis)."""

from __future__ import annotations

from tests.support.browser import PLAN_REFUSED
from tests.support.tables import PASSENGER_COLUMNS, csv_bytes, passengers


def test_the_build_page_trains_an_uploaded_table_by_id(page, studio):
    page.console_watch.allow(PLAN_REFUSED)
    uploaded = studio.http.post("/v1/datasets", data={"name": "passengers", "missing": "mean"},
                                files={"file": ("passengers.csv",
                                                csv_bytes(PASSENGER_COLUMNS, passengers(60)))})
    assert uploaded.status_code in (200, 201), uploaded.text
    dataset = uploaded.json()
    try:
        page.goto("/build")
        page.wait_for_selector("#f-dataset")
        page.select_option("#f-dataset", dataset["id"])
        label = page.eval_on_selector("#f-dataset", "(select) => select.selectedOptions[0].text")
        assert label == f"passengers ({dataset['id'][:8]})"  # names repeat; ids do not
        about = page.inner_text("#dataset-about")
        assert about.startswith(f"passengers: {dataset['train_size']} training and "
                                f"{dataset['test_size']} test samples, 10 inputs, 2 classes (no, yes)")
        layers = page.locator("#fields fieldset[data-for^='model.layers['] legend")
        while layers.count() > 1:
            page.get_by_role("button", name="remove layer 1").click()
        page.get_by_role("button", name="Add a hidden layer").click()
        page.fill("#f-model-layers-0-units", "4")
        page.select_option("#f-model-layers-0-activation", "tanh")
        page.fill("#f-model-layers-1-units", "2")
        page.select_option("#f-model-layers-1-activation", "softmax")
        page.select_option("#f-model-loss", "cross_entropy")
        page.fill("#f-training-epochs", "5")
        page.fill("#f-training-batch-size", "8")
        page.fill("#f-name", "passengers-from-the-form")
        # 10 inputs (one-hot text columns included) x 4 + 4, then 4 x 2 + 2: 54 parameters.
        page.wait_for_selector("#plan:has-text('54 parameters')")
        page.get_by_role("button", name="Train it").click()
        page.wait_for_url("**/job?id=*")
        job = studio.wait(page.url.split("id=")[1])
        assert job["status"] == "succeeded", job["error"]
        assert (job["dataset"], job["dataset_name"]) == (dataset["id"], "passengers")
    finally:
        studio.http.delete(f"/v1/datasets/{dataset['id']}")  # the session's store stays as it was


def test_a_regression_jobs_curves_show_r2_not_an_empty_accuracy_chart(page, studio):
    """diabetes trains as regression (its task comes from the data): the job page's second chart
    plots R², train and validation, where a classifier's shows accuracy."""
    job = studio.train({"dataset": "diabetes", "model": {"layers": [
        {"units": 8, "activation": "tanh"}, {"units": 1, "activation": "identity"}]},
        "training": {"epochs": 3, "validation_split": 0.2}})
    assert job["spec"]["model"]["task"] == "regression"
    page.goto(f"/job?id={job['id']}")
    chart = page.locator("#accuracy-chart")
    chart.locator(".gtitle").wait_for()
    assert chart.locator(".gtitle").text_content() == "R² (1 is perfect)"  # SVG text
    assert chart.locator(".scatterlayer .trace").count() == 2  # train and validation
