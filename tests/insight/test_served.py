"""Mistakes, weights, card, explain, trace and plans served by gunicorn (the production config)."""

from __future__ import annotations

import io

import httpx
from PIL import Image


def test_insight_endpoints_over_http(start_gunicorn, service_env, trained_model):
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
        explained = http.post(f"{base}/predict", params={"explain": "true"},
                              json={"inputs": [[0.0] * 784]})
        assert explained.status_code == 200
        assert len(explained.json()["predictions"][0]["saliency"]) == 784
        traced = http.post(f"{server.url}/v1/trace", json={
            "model": {"layers": [{"units": 2, "activation": "tanh"},
                                 {"units": 2, "activation": "softmax"}]},
            "inputs": [[0, 1], [1, 1]], "labels": [1, 0]})
        assert traced.status_code == 200 and len(traced.json()["layers"]) == 2
        planned = http.post(f"{server.url}/v1/plans", json={
            "dataset": "xor", "model": {"layers": [{"units": 1, "activation": "sigmoid"}],
                                        "loss": "binary_cross_entropy"}})
        assert planned.status_code == 200
        assert "xor_without_hidden_layer" in {w["id"] for w in planned.json()["warnings"]}
