"""The insight endpoints served by gunicorn (the production config), over HTTP."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.api.conftest import start_gunicorn

__all__ = ["start_gunicorn"]


def test_mistakes_weights_and_card_over_http(start_gunicorn, service_env, trained_model):
    server = start_gunicorn(service_env)
    base = f"{server.url}/v1/models/{trained_model.model_id}"
    with httpx.Client(timeout=60) as http:
        mistakes = http.get(f"{base}/mistakes", params={"limit": 3})
        assert mistakes.status_code == 200 and len(mistakes.json()["mistakes"]) == 3
        tiles = http.get(f"{base}/weights/0.png")
        assert tiles.status_code == 200 and tiles.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(tiles.content)).width > 300
        card = http.get(f"{base}/card")
        assert card.status_code == 200 and card.headers["content-type"].startswith("text/markdown")
        assert f"{server.url}/v1/models/{trained_model.model_id}/predict" in card.text
        missing = http.get(f"{base}/weights/9.png")
        assert missing.status_code == 404 and "layer" in missing.json()["errors"]
