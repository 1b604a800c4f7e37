"""mlpq HTTP API: `create_app(test_config=None)` builds the Flask application."""

from flask import Flask

from api import extensions, health, jobs, models, predict, ui, v2
from api.config import load_config
from api.errors import register_error_handlers

# Documented JSON API (flask-smorest blueprints, in the OpenAPI document), then plain pages.
API_BLUEPRINTS = [jobs.blp, models.blp, health.blp, predict.blp]
PAGE_BLUEPRINTS = [ui.blp, v2.blp]


def create_app(test_config=None):
    """The API app; settings from the environment, overridden by `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(load_config(test_config))
    api = extensions.init_app(app)
    register_error_handlers(app, extensions.ERROR_HANDLERS)
    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    for blueprint in PAGE_BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
