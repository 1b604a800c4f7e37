"""The studio's pages in Chromium against the real stack: build, job, model, playground, compare."""

from __future__ import annotations

import json
import math
from urllib.parse import quote

import pytest

from tests.support.browser import PLAN_REFUSED, chart_traces, open_tab, screenshot
from tests.support.specs import STUDIO_MNIST_JOB, STUDIO_XOR_JOB, with_training


def draw_vertical_stroke(page, canvas="#pad"):
    """A mouse stroke down the middle of the canvas, as a person draws a one."""
    page.locator(canvas).scroll_into_view_if_needed()
    box = page.locator(canvas).bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x, box["y"] + box["height"] * (0.15 + 0.7 * step / 20))
    page.mouse.up()


def fill_xor_form(page) -> None:
    """Make the form XOR 2-3-1 (tanh, sigmoid, log loss, Adam 0.05, 40 epochs of batch 4)."""
    page.select_option("#f-dataset", "xor")
    layers = page.locator("#fields fieldset[data-for^='model.layers['] legend")
    while layers.count() > 1:
        page.get_by_role("button", name="remove layer 1").click()
    while layers.count() < 2:
        page.get_by_role("button", name="Add a hidden layer").click()
    page.fill("#f-model-layers-0-units", "3")
    page.select_option("#f-model-layers-0-activation", "tanh")
    page.fill("#f-model-layers-1-units", "1")
    page.select_option("#f-model-layers-1-activation", "sigmoid")
    page.fill("#f-model-layers-1-dropout", "")
    page.select_option("#f-model-loss", "binary_cross_entropy")
    page.select_option("#f-training-optimizer-name", "adam")
    page.fill("#f-training-optimizer-learning-rate", "0.05")
    page.fill("#f-training-epochs", "40")
    page.fill("#f-training-batch-size", "4")
    page.fill("#f-training-validation-split", "")
    page.fill("#f-name", "xor-from-the-form")


def test_build_xor_in_the_form_then_watch_its_curves(page, studio):
    page.console_watch.allow(PLAN_REFUSED)
    page.goto("/build")
    page.wait_for_selector("#f-dataset")
    # Every built-in example is offered, and picking one fills the form with its spec.
    examples = studio.http.get("/v1/examples").json()
    offered = page.eval_on_selector_all("#example option", "(options) => options.map((o) => o.value)")
    assert offered == ["", *(example["name"] for example in examples)]
    nielsen = next(example for example in examples if example["name"] == "nielsen-784-30-10")
    page.select_option("#example", nielsen["name"])
    assert page.evaluate("JSON.parse(document.getElementById('json').value)") == nielsen["spec"]
    assert page.input_value("#f-model-layers-0-units") == "30"
    assert page.input_value("#f-training-optimizer-name") == nielsen["spec"]["training"]["optimizer"]["name"]
    assert "example=nielsen-784-30-10" in page.url
    fill_xor_form(page)
    # The plan follows the form: XOR 2-3-1 has 2*3+3 + 3*1+1 = 13 parameters, and a batch of 4
    # is the whole dataset.
    page.wait_for_selector("#plan:has-text('13 parameters')")
    assert page.locator("#plan-warnings li").count() == 0
    plan = studio.http.post("/v1/plans", json=page.evaluate("JSON.parse(document.getElementById('json').value)")).json()
    assert plan["parameters"] == 13 and plan["warnings"] == []
    # The raw JSON view follows the form, and the URL carries the spec.
    body = page.evaluate("JSON.parse(document.getElementById('json').value)")
    assert body["model"]["layers"] == [{"units": 3, "activation": "tanh"},
                                       {"units": 1, "activation": "sigmoid"}]
    assert body["training"]["optimizer"] == {"name": "adam", "learning_rate": 0.05}
    assert "#spec=" in page.url
    screenshot(page, "build")
    page.get_by_role("button", name="Train it").click()
    page.wait_for_url("**/job?id=*")
    job_id = page.url.split("id=")[1]
    job = studio.wait(job_id)
    assert job["status"] == "succeeded" and job["name"] == "xor-from-the-form"
    assert job["spec"]["model"]["layers"][0]["units"] == 3
    page.wait_for_selector("#progress-text:has-text('succeeded')")
    page.wait_for_function("document.getElementById('loss-chart').data?.[0]?.x.length === 40")
    traces = {trace["meta"]: trace for trace in chart_traces(page, "loss-chart")}
    traces.update({trace["meta"]: trace for trace in chart_traces(page, "accuracy-chart")})
    assert set(traces) == {"loss", "accuracy"}  # no validation split, so no validation curves
    for key in ("loss", "accuracy"):
        assert traces[key]["x"] == [entry["epoch"] for entry in job["metrics"]]
        assert traces[key]["y"] == [entry[key] for entry in job["metrics"]]
    screenshot(page, "job")


def test_a_bad_layer_shows_the_message_beside_its_field(page, studio):
    page.console_watch.allow("status of 422")  # the API's answer, which the page shows
    page.goto("/build")
    page.wait_for_selector("#f-dataset")
    fill_xor_form(page)
    page.select_option("#f-model-layers-0-activation", "softmax")
    page.fill("#f-model-layers-1-units", "0")
    # As you edit, the plan's 422 already puts the messages beside the fields ...
    activation_error = page.locator("#f-model-layers-0-activation-error")
    activation_error.wait_for()
    assert "only allowed on the output layer" in activation_error.inner_text()
    page.wait_for_selector("#plan:has-text('Fix the fields marked in red')")
    # ... and submitting gets the same answer from the jobs endpoint, with nothing queued.
    jobs_before = studio.http.get("/v1/jobs").headers["X-Pagination"]
    page.get_by_role("button", name="Train it").click()
    page.wait_for_selector("#submit-state:has-text('Not sent')")
    assert "only allowed on the output layer" in activation_error.inner_text()
    assert "must be >= 1, got 0" in page.locator("#f-model-layers-1-units-error").inner_text()
    assert page.get_attribute("#f-model-layers-1-units", "aria-invalid") == "true"
    assert page.locator("#f-model-layers-1-activation-error").inner_text() == ""
    assert "/build" in page.url  # nothing was queued
    assert studio.http.get("/v1/jobs").headers["X-Pagination"] == jobs_before
    screenshot(page, "build-errors")


def test_drawing_a_stroke_predicts_without_a_click(page, studio, mnist_job):
    model_id = mnist_job["model_id"]
    predictions = []
    page.on("request", lambda request: predictions.append(request.url) if "/predict" in request.url else None)
    page.goto(f"/playground?model={model_id}")
    page.wait_for_function(f"document.getElementById('model').value === '{model_id}'")
    draw_vertical_stroke(page)
    page.wait_for_function("document.getElementById('bars').data?.[0]?.x.length === 10")
    bars = chart_traces(page, "bars")[0]["x"]
    assert math.isclose(sum(bars), 1.0, abs_tol=1e-6)
    assert bars.index(max(bars)) == 1  # a vertical stroke is a one
    assert page.locator("#prediction").inner_text().startswith("1")
    assert page.get_by_role("button", name="Predict").count() == 0
    assert predictions and all("return_preprocessed=true" in url for url in predictions)
    seen = page.evaluate("""() => {
        const pixels = document.getElementById('seen').getContext('2d').getImageData(0, 0, 112, 112).data;
        let lit = 0; for (let i = 0; i < pixels.length; i += 4) lit += pixels[i] > 128; return lit; }""")
    assert seen > 0  # the 28x28 the model saw is painted
    page.get_by_label("Show saliency").check()
    page.wait_for_function("document.getElementById('saliency').src.startsWith('data:image/png')")
    assert "explain=true" in predictions[-1] and "explain=1" in page.url
    screenshot(page, "playground")


def test_the_draw_panel_offers_only_image_models_newest_first(page, studio, mnist_job):
    """An XOR model trained last must not become the drawing's default (it takes 2 numbers)."""
    xor = studio.train({**STUDIO_XOR_JOB, "name": "newest-but-not-an-image"})
    assert studio.http.get("/v1/models/latest").json()["id"] == xor["model_id"]
    newest_image = studio.http.get("/v1/models/latest?input=image").json()["id"]
    page.goto("/playground")
    page.wait_for_function("document.getElementById('model').options.length > 0")
    offered = page.eval_on_selector_all("#model option", "(options) => options.map((o) => o.value)")
    images = [m["id"] for m in studio.http.get("/v1/models?input=image&page_size=100").json()]
    assert xor["model_id"] not in offered and offered == images
    assert page.locator("#model").input_value() == newest_image
    # a long error message wraps inside the panel instead of running out of it
    overflow = page.evaluate("""() => {
        const p = document.getElementById('prediction');
        p.textContent = 'model_not_ready:' + 'x'.repeat(400);
        return p.scrollWidth - p.clientWidth; }""")
    assert overflow <= 0


def test_the_job_page_shows_layer_health_and_draws_against_the_job(page, studio, mnist_job):
    page.goto(f"/job?id={mnist_job['id']}")
    page.wait_for_function("document.getElementById('gradient-chart').data?.length === 2")
    gradients = chart_traces(page, "gradient-chart")
    for index, trace in enumerate(gradients):
        assert trace["x"] == [entry["epoch"] for entry in mnist_job["metrics"]]
        assert trace["y"] == [entry["layers"][index]["grad_norm"] for entry in mnist_job["metrics"]]
    dead = chart_traces(page, "units-chart")
    assert [trace["name"] for trace in dead] == ["layer 1 (32 relu) dead"]  # softmax has neither
    assert dead[0]["y"] == [entry["layers"][0]["dead_fraction"] for entry in mnist_job["metrics"]]
    draw_vertical_stroke(page)
    page.wait_for_selector("#prediction-source:has-text('after epoch 1')")
    bars = chart_traces(page, "bars")[0]["x"]
    assert math.isclose(sum(bars), 1.0, abs_tol=1e-6)
    screenshot(page, "job-mnist")


def test_stop_and_keep_from_the_job_page(page, studio):
    job = studio.submit({**with_training(STUDIO_MNIST_JOB, epochs=30), "name": "mnist-stopped"})
    page.goto(f"/job?id={job['id']}")
    page.wait_for_function("document.getElementById('loss-chart').data?.[0]?.x.length >= 1",
                           timeout=120_000)
    page.get_by_role("button", name="Stop and keep the model").click()
    page.wait_for_selector("#progress-text:has-text('stop reason: stopped')", timeout=120_000)
    done = studio.wait(job["id"])
    assert done["status"] == "succeeded" and done["stop_reason"] == "stopped"
    assert len(done["metrics"]) < 30 and done["model_id"]
    page.wait_for_selector("#summary a:has-text('open the model')")
    assert page.get_by_role("button", name="Cancel (keep nothing)").is_hidden()


def test_a_plans_teaching_warning_shows_in_build_and_on_the_job_page(page, studio):
    """XOR without a hidden layer: the plan warns while it is built, and the job keeps the plan."""
    body = {**with_training(STUDIO_XOR_JOB, epochs=5), "name": "xor-no-hidden",
            "model": {"layers": [{"units": 1, "activation": "sigmoid"}], "loss": "binary_cross_entropy"}}
    rule = "xor_without_hidden_layer"
    page.goto("/build#spec=" + quote(json.dumps(body)))
    warning = page.locator(f"#plan-warnings li[data-rule='{rule}']")
    warning.wait_for()
    expected = next(w for w in studio.http.post("/v1/plans", json=body).json()["warnings"] if w["id"] == rule)
    assert expected["title"] in warning.inner_text() and expected["suggestion"] in warning.inner_text()
    job = studio.submit(body)
    page.goto(f"/job?id={job['id']}")
    page.locator(f"#plan-section li[data-rule='{rule}']").wait_for()
    assert expected["title"] in page.locator("#plan-section").inner_text()


def test_a_confusion_cell_opens_its_mistakes(page, studio, mnist_job):
    model = studio.http.get(f"/v1/models/{mnist_job['model_id']}").json()
    matrix = model["evaluation"]["confusion_matrix"]
    count, true, predicted = max((matrix[i][j], i, j) for i in range(10) for j in range(10) if i != j)
    page.goto(f"/model?id={model['id']}")
    page.wait_for_function("document.getElementById('confusion').data?.length === 1")
    assert page.evaluate("document.getElementById('confusion').data[0].text") == matrix
    # Click the middle of cell (true, predicted): rows run top to bottom, columns left to right.
    area = page.locator("#confusion .nsewdrag").bounding_box()
    page.mouse.click(area["x"] + (predicted + 0.5) * area["width"] / 10,
                     area["y"] + (true + 0.5) * area["height"] / 10)
    page.wait_for_selector("#mistakes figure")
    expected = studio.http.get(f"/v1/models/{model['id']}/mistakes",
                               params={"true": true, "predicted": predicted, "limit": 24}).json()
    assert expected["total"] == count
    captions = page.locator("#mistakes figcaption").all_inner_texts()
    assert len(captions) == min(count, 24)
    assert [f"test #{entry['index']}" in caption
            for entry, caption in zip(expected["mistakes"], captions, strict=True)] == [True] * len(captions)
    assert all(caption.startswith(f"{true} → {predicted}") for caption in captions)
    assert f"true={true}" in page.url and f"predicted={predicted}" in page.url
    assert page.locator("#mistakes img").first.get_attribute("src").startswith("data:image/png")
    assert str(count) in page.locator("#mistakes-summary").inner_text()
    # The first layer's weights as tiles and the model card are there too.
    page.wait_for_function("document.getElementById('weights').naturalWidth > 0")
    page.wait_for_function("document.getElementById('model-card').textContent.length > 100")
    screenshot(page, "model")


def test_compare_overlays_two_jobs(page, studio, xor_job):
    other = studio.train({**with_training(STUDIO_XOR_JOB, optimizer={"name": "sgd", "learning_rate": 0.5}),
                          "name": "xor-sgd"})
    page.goto(f"/compare?jobs={xor_job['id']},{other['id']}")
    page.wait_for_function("document.getElementById('loss-chart').data?.length === 2")
    traces = chart_traces(page, "loss-chart")
    for job, trace in zip([xor_job, other], traces, strict=True):
        assert trace["x"] == [entry["epoch"] for entry in job["metrics"]]
        assert trace["y"] == [entry["loss"] for entry in job["metrics"]]
    diff = page.locator("#diff").inner_text()
    assert "training.optimizer.name" in diff and "sgd" in diff and "adam" in diff
    screenshot(page, "compare")


PHONE_WIDTH = 375
PHONE_PAGES = {  # path -> what is there once the page has loaded its data
    "/": "#jobs > *", "/build": "#plan > *", "/playground": "#model option, #notice:not([hidden])",
    "/compare": "#picker > *, #notice:not([hidden])", "/step": "#layers table"}


@pytest.mark.parametrize("path", list(PHONE_PAGES))
def test_pages_fit_a_phone(browser, studio, path):
    context, tab = open_tab(browser, studio.url, viewport={"width": PHONE_WIDTH, "height": 740},
                            is_mobile=True, has_touch=True)
    tab.console_watch.allow(PLAN_REFUSED)
    tab.goto(path)
    tab.wait_for_selector(PHONE_PAGES[path], state="attached")
    tab.wait_for_load_state("networkidle")
    overflow = tab.evaluate("document.documentElement.scrollWidth") - PHONE_WIDTH
    wide = tab.evaluate("""(limit) => Array.from(document.querySelectorAll('body *'))
        .filter((node) => node.getBoundingClientRect().right > limit + 1 && !node.closest('.scroll'))
        .slice(0, 5).map((node) => node.tagName + '#' + node.id + '.' + node.className)""", PHONE_WIDTH)
    screenshot(tab, f"phone{path.replace('/', '-').rstrip('-')}")
    context.close()
    assert overflow <= 0, f"{path} is {overflow}px wider than a phone: {wide}"
    assert not tab.console_watch.unexpected()


def test_docs_is_the_full_explorer_offline(page, studio):
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert page.locator(".opblock-summary-path", has_text="/v1/jobs").count() >= 1
    screenshot(page, "docs")


SHOWN_TRACE = """() => {
    const read = (table) => Array.from(table.querySelectorAll('tr'),
        (row) => Array.from(row.querySelectorAll('td'), (cell) => Number(cell.dataset.value)));
    return {
        loss: Number(document.getElementById('loss').dataset.value),
        output: read(document.querySelector('#batch table[data-name=output]')),
        layers: Array.from(document.querySelectorAll('#layers section[data-layer]'), (section) =>
            Object.fromEntries(Array.from(section.querySelectorAll('table[data-name]'),
                (table) => [table.dataset.name, read(table)]))),
    };
}"""
VECTORS = {"b", "dC_db", "b_after"}  # shown as one-row tables


def assert_trace_shown(page, expected):
    shown = page.evaluate(SHOWN_TRACE)
    assert shown["loss"] == expected["loss"] and shown["output"] == expected["output"]
    assert len(shown["layers"]) == len(expected["layers"])
    for on_page, layer in zip(shown["layers"], expected["layers"], strict=True):
        assert set(on_page) == {"W", "b", "z", "a", "delta", "dC_dW", "dC_db", "W_after", "b_after"}
        for name, values in on_page.items():
            assert values == ([layer[name]] if name in VECTORS else layer[name]), name


def test_one_traced_step_matches_the_api_then_the_next(page, studio):
    sent = []
    page.on("request", lambda request: sent.append(request.post_data_json)
            if request.url.endswith("/v1/trace") else None)
    page.goto("/step")
    page.wait_for_selector("#layers section[data-layer]")
    page.fill("#hidden-units", "3")
    page.select_option("#hidden-activation", "tanh")
    page.get_by_role("button", name="Start again").click()
    page.wait_for_selector("#layers section[data-layer='0'] table[data-name=W] tr td:nth-child(3)")
    body = sent[-1]
    assert body["model"]["layers"][0] == {"units": 3, "activation": "tanh"} and "weights" not in body
    first = studio.http.post("/v1/trace", json=body).json()
    assert_trace_shown(page, first)
    screenshot(page, "step")

    page.get_by_role("button", name="Next step").click()
    page.wait_for_function("document.getElementById('step-state').textContent === 'Step 2 shown.'")
    body = sent[-1]
    assert body["weights"] == [{"W": layer["W_after"], "b": layer["b_after"]} for layer in first["layers"]]
    second = studio.http.post("/v1/trace", json=body).json()
    assert_trace_shown(page, second)
    assert "step=1" in page.url  # the link reproduces this step
