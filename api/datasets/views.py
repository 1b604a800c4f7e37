"""/v1/datasets: what each built-in dataset is (input, classes, sizes), from the engine's registry."""

import marshmallow as ma
from flask.views import MethodView

from api.core.blueprint import Blueprint
from engine.datasets import DATASETS

blp = Blueprint(
    "datasets", __name__, url_prefix="/v1/datasets",
    description="Built-in datasets: input size and shape, class names, split sizes.",
)


class DatasetSchema(ma.Schema):
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "image (28x28 pictures) or gate (a truth table)"})
    input_size = ma.fields.Integer(metadata={"description": "numbers per sample"})
    image_shape = ma.fields.List(ma.fields.Integer(), allow_none=True,
                                 metadata={"description": "[height, width] for image datasets, else null"})
    num_classes = ma.fields.Integer()
    classes = ma.fields.List(ma.fields.String(), metadata={"description": "class name per label"})
    train_size = ma.fields.Integer(metadata={"description": "training samples"})
    test_size = ma.fields.Integer(metadata={"description": "test samples"})


@blp.route("")
class Datasets(MethodView):
    @blp.response(200, DatasetSchema(many=True))
    def get(self):
        """List the datasets a job can train on; image datasets can be drawn on and predicted."""
        return list(DATASETS.values())
