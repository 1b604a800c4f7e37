"""Browser pages: the web UI at / and the interactive API docs at /docs (not JSON API routes)."""

from flask import Blueprint, current_app, render_template

blp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
                static_url_path="/ui-static")


@blp.get("/")
def index():
    """Jobs and models with live progress, a spec form, and a canvas to draw a digit."""
    return render_template("index.html")


@blp.get("/docs")
def docs():
    """Swagger UI from MLPQ_SWAGGER_UI_URL; offline, a plain list of routes from /openapi.json."""
    return render_template("docs.html", swagger_ui_url=current_app.config["SWAGGER_UI_URL"].rstrip("/"))
