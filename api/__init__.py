"""mlpq HTTP API: `create_app(test_config=None)` builds the Flask application."""

from flask import Flask

from api.core import auth, body_parsing, converters, json_provider, services
from api.core.config import load_config
from api.core.error_schema import Api
from api.core.errors import register_error_handlers
from api.datasets import views as datasets
from api.examples import views as examples
from api.health import views as health
from api.insight import trace
from api.insight import views as insight
from api.jobs import predict as job_predict
from api.jobs import views as jobs
from api.models import predict, v2
from api.models import views as models
from api.plans import views as plans
from api.studio import views as studio
from api.sweeps import views as sweeps
from worker.store.logs import configure_logging

# Documented JSON API (flask-smorest blueprints, in the OpenAPI document), then plain pages.
API_BLUEPRINTS = [jobs.blp, job_predict.blp, plans.blp, models.blp, examples.blp, sweeps.blp,
                  datasets.blp, health.blp, predict.blp, insight.blp, trace.blp]
PAGE_BLUEPRINTS = [studio.blp, v2.blp]


def create_app(test_config=None):
    """The API app; settings from the environment, overridden by `test_config`."""
    # Imported here, not above: gunicorn imports this package to read api.gunicorn_conf, which
    # must set PROMETHEUS_MULTIPROC_DIR before prometheus-client is first imported.
    from api.core import metrics, observability
    from api.models import cache_metrics

    app = Flask(__name__)
    app.config.from_mapping(load_config(test_config))
    configure_logging()
    body_parsing.init_app(app)
    json_provider.init_app(app)
    api = Api(app)
    converters.init_app(app, api)
    services.init_app(app, api)
    register_error_handlers(app, services.ERROR_HANDLERS)
    # Order matters: the request id and timing start first, so even a 401 is logged and counted.
    observability.init_app(app)
    auth.init_app(app, api)
    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    for blueprint in [*PAGE_BLUEPRINTS, metrics.blp]:
        app.register_blueprint(blueprint)
    cache_metrics.init_app(app)
    return app
