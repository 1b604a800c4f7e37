"""GET /v1/models/{id}/weights/{layer}.png and /card on models trained by the real worker."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from api.insight.card import build_card, confused_pairs
from api.insight.pictures import TILE_GAP, tile_grid
from engine.spec import validate_model_spec, validate_training_config
from engine.stopping import STOP_REASONS as FIT_STOP_REASONS
from worker.store.jobs import STOP_REASONS, TERMINAL_STATUSES


def png(response):
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    image.load()
    return image


def test_tile_grid_puts_each_units_incoming_weights_in_its_tile():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(784, 10))
    mosaic = tile_grid(weights, (28, 28))
    step = 28 + TILE_GAP
    assert mosaic.shape == (3 * step - TILE_GAP, 4 * step - TILE_GAP)  # 10 tiles: 4 per row
    for unit in range(10):
        row, column = divmod(unit, 4)
        tile = mosaic[row * step:row * step + 28, column * step:column * step + 28]
        np.testing.assert_array_equal(tile, weights[:, unit].reshape(28, 28))
    assert np.isnan(mosaic[28, :]).all() and np.isnan(mosaic[-28:, -28:]).all()  # gaps, empty cell


def test_first_layer_tiles_and_output_heatmap(client, trained_model):
    base = f"/v1/models/{trained_model.model_id}/weights"
    tiles = png(client.get(f"{base}/0.png"))
    heatmap = png(client.get(f"{base}/1.png"))
    assert tiles.mode in ("RGBA", "RGB") and heatmap.mode in ("RGBA", "RGB")
    assert tiles.width >= 12 * 28 and tiles.height >= 12 * 28  # 128 tiles of 28x28: 12 rows
    # The picture uses the diverging map: both red and blue pixels are present.
    pixels = np.asarray(tiles.convert("RGB")).astype(int)
    assert ((pixels[..., 0] - pixels[..., 2]) > 80).any() and ((pixels[..., 2] - pixels[..., 0]) > 80).any()
    assert tiles.tobytes() != heatmap.tobytes()


def test_pictures_are_cached_and_conditional(client, trained_model):
    url = f"/v1/models/{trained_model.model_id}/weights/1.png"
    first = client.get(url)
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and first.data == client.get(url).data


def test_latest_and_job_ids_name_the_model_too(client, trained_model):
    by_job = client.get(f"/v1/models/{trained_model.job_id}/weights/1.png")
    assert png(by_job).size == png(client.get(f"/v1/models/{trained_model.model_id}/weights/1.png")).size


@pytest.mark.parametrize("layer", ["2", "7", "x", "-1", "1.5", "%C2%B2"])
def test_unknown_layer_is_404_naming_the_field(client, trained_model, layer):
    response = client.get(f"/v1/models/{trained_model.model_id}/weights/{layer}.png")
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == 404 and "layer" in body["errors"] and "0 to 1" in body["errors"]["layer"][0]


def test_card_reports_what_was_saved(client, trained_model):
    response = client.get(f"/v1/models/{trained_model.model_id}/card")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    card = response.get_data(as_text=True)
    record = client.get(f"/v1/models/{trained_model.model_id}").get_json()
    evaluation = record["evaluation"]
    assert card.startswith("# Model card: predict-suite-mnist")
    for heading in ("## Data", "## Model", "## Training", "## Evaluation (test split)",
                    "### Worst-confused pairs", "## Limitations", "## How to call it"):
        assert f"\n{heading}\n" in card
    assert f"Accuracy {100 * evaluation['accuracy']:.2f}% on 10,000 test examples" in card
    assert "| 0 | 784 → 128 | relu | 0.0 | 100,480 |" in card
    assert "| 1 | 128 → 10 | softmax | 0.0 | 1,290 |" in card
    assert "Epochs: 2 of 2; ran every epoch it was given" in card
    matrix = np.array(evaluation["confusion_matrix"])
    for digit in range(10):  # per-class precision, recall and support, as saved
        assert (f"| {digit} | {100 * evaluation['precision'][digit]:.2f}% | "
                f"{100 * evaluation['recall'][digit]:.2f}% | {matrix[digit].sum()} |") in card
    # worst-confused pairs, computed directly from the matrix
    off = matrix - np.diag(np.diag(matrix))
    true, predicted = np.unravel_index(off.argmax(), off.shape)
    table = card.split("### Worst-confused pairs")[1]
    first_row = re.search(r"^\| (\d) \| (\d) \| (\d+) \|", table, re.M)
    assert first_row.groups() == (str(true), str(predicted), str(off[true, predicted]))
    assert f"mistakes?true={true}&predicted={predicted}" in table
    assert f"http://localhost/v1/models/{trained_model.model_id}/predict" in card


def test_confused_pairs_orders_off_diagonal_cells():
    matrix = [[5, 2, 0], [7, 3, 1], [0, 0, 9]]
    assert confused_pairs(matrix) == [(1, 0, 7, 7 / 11), (0, 1, 2, 2 / 7), (1, 2, 1, 1 / 11)]
    assert confused_pairs([[3, 0], [0, 4]]) == []


@pytest.mark.parametrize("reason", list(STOP_REASONS))
def test_card_says_every_stop_reason_in_the_registrys_words(reason):
    """One registry: the fit's reasons (engine.stopping), then the final statuses that are their
    own reason (the job store); the card shows each one's sentence from it."""
    assert set(STOP_REASONS) - set(FIT_STOP_REASONS) <= TERMINAL_STATUSES
    model = validate_model_spec({"layers": [{"units": 2, "activation": "tanh"},
                                            {"units": 2, "activation": "softmax"}]},
                                input_size=2, num_classes=2)
    record = {"id": "m" * 32, "dataset": "xor", "stop_reason": reason, "metrics": [],
              "spec": {"model": model, "training": validate_training_config({})}}
    card = build_card(record, base_url="http://localhost")
    assert f"- Epochs: 0 of 10; {STOP_REASONS[reason]}\n" in card


def test_xor_card_and_heatmap(client, xor_model):
    card = client.get(f"/v1/models/{xor_model['id']}/card").get_data(as_text=True)
    assert "truth table" in card and "-d '{\"inputs\": [[0, 1], [1, 1]]}'" in card
    assert png(client.get(f"/v1/models/{xor_model['id']}/weights/0.png")).width > 100


def test_card_of_unknown_model_is_404(client):
    response = client.get(f"/v1/models/{'a' * 32}/card")
    assert response.status_code == 404
