"""/v1/examples: the built-in classic networks (engine.examples) as ready-to-post job specs."""

from flask.views import MethodView
from flask_smorest import abort

from api.core.blueprint import Blueprint
from api.examples.schemas import ExampleSchema
from engine.examples import EXAMPLES, example

blp = Blueprint(
    "examples", __name__, url_prefix="/v1/examples",
    description="Built-in examples: classic from-scratch networks, set up as their tutorials "
                "do, each a job spec ready to POST to /v1/jobs.",
)


@blp.route("")
class Examples(MethodView):
    @blp.response(200, ExampleSchema(many=True))
    def get(self):
        """List the built-in examples.

        Each has a one-line `description`, the tutorial `idea` it reproduces, what a full run
        should reach (`expect`, machine-readable) and the `spec` to post to `/v1/jobs`.
        """
        return [example(name) for name in EXAMPLES]


@blp.route("/<string:name>")
class ExampleByName(MethodView):
    @blp.response(200, ExampleSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, name):
        """Read one example; post its `spec` to `/v1/jobs` to train it."""
        try:
            return example(name)
        except KeyError as error:  # its message names the known examples
            abort(404, message=error.args[0])
