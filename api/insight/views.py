"""Seeing inside a trained model: its test-set mistakes, its weights as pictures, its model card."""

import hashlib

import numpy as np
import redis
from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort

from api.core.blueprint import Blueprint
from api.core.services import services
from api.insight import pictures
from api.insight.card import build_card
from api.insight.derived import init_derived
from api.insight.schemas import MistakesArgsSchema, MistakesSchema
from api.insight.tables import largest_errors, raw_row
from api.models.images import data_url
from api.models.predict import prediction_error
from api.models.serving import PredictionError, resolve_model
from engine.datasets import DATASETS, DatasetUnavailable
from worker.store.datasets import DatasetNotFound

blp = Blueprint(
    "insight", __name__, url_prefix="/v1/models",
    description="See inside a trained model: its mistakes on the test set, its weights as "
                "pictures, and a model card.",
)
blp.register_error_handler(PredictionError, prediction_error)
blp.record_once(lambda state: init_derived(state.app))

MODEL_ERRORS = {"404": "NOT_FOUND", "409": "DEFAULT_ERROR"}  # 409: a corrupt or unfinished model


def model_with_dataset(model_id):
    """The loaded model and its dataset's name: a built-in, or (table models) an uploaded
    dataset's id; 409 if the dataset is not recorded."""
    model = resolve_model(model_id)
    dataset = model.record.get("dataset")
    if dataset not in DATASETS and (model.table is None or not isinstance(dataset, str)):
        abort(409, message=f"Model {model.model_id} does not record a known dataset.")
    return model, dataset


def split_predictions(model, dataset):
    """The model's answers on its dataset's test split (cached); 503 or 409 if unreadable."""
    try:
        return services().derived.test_predictions(model, dataset)
    except DatasetUnavailable as error:
        abort(503, message=f"The API cannot read the {dataset} test split: {error}")
    except DatasetNotFound:
        abort(409, message=f"Model {model.model_id}'s dataset {dataset} has been deleted: its "
                           "test split is gone.")


def check_class(args, field, num_classes):
    if field in args and args[field] >= num_classes:
        abort(422, message=f"{field} must be a class index below {num_classes}.",
              errors={field: [f"must be between 0 and {num_classes - 1}"]})


@blp.route("/<model_ref:model_id>/mistakes")
class Mistakes(MethodView):
    @blp.arguments(MistakesArgsSchema, location="query")
    @blp.response(200, MistakesSchema)
    @blp.doc(responses={**MODEL_ERRORS, "503": "SERVICE_UNAVAILABLE"})
    def get(self, args, model_id):
        """Misclassified test examples, the most confidently wrong first.

        `true=i&predicted=j` gives the examples behind cell (i, j) of the evaluation's
        confusion matrix (rows: true class, columns: predicted). Each mistake has its test
        index, both labels, the probabilities and, for image datasets, the image as a PNG
        data URL; for table datasets, the `row` by column name. A regression model's mistakes
        are its test rows with the largest absolute errors first (`true_value`,
        `predicted_value`, `error` in the target's units). Predictions on the test split are
        computed once per model and cached.
        """
        model, dataset = model_with_dataset(model_id)
        if model.regression:
            return largest_errors(model, dataset, split_predictions(model, dataset), args)
        for field in ("true", "predicted"):
            check_class(args, field, model.num_classes)
        if "true" in args and args.get("true") == args.get("predicted"):
            abort(422, message="true and predicted are equal: those examples are correct.",
                  errors={"predicted": ["must differ from true (a diagonal cell holds no mistakes)"]})
        split = split_predictions(model, dataset)
        wrong = split.predicted != split.y
        total_wrong = int(wrong.sum())
        for field, labels in (("true", split.y), ("predicted", split.predicted)):
            if field in args:
                wrong &= labels == args[field]
        chosen = np.flatnonzero(wrong)
        if args["order"] == "confidence":
            confidence = split.probabilities[chosen, split.predicted[chosen]]
            chosen = chosen[np.argsort(-confidence, kind="stable")]
        page = chosen[args["offset"]:args["offset"] + args["limit"]]
        return {
            "model_id": model.model_id, "dataset": dataset, "task": model.task,
            "classes": list(model.classes),
            "test_size": len(split.y), "mistakes_total": total_wrong, "total": len(chosen),
            "limit": args["limit"], "offset": args["offset"], "order": args["order"],
            "mistakes": [mistake(split, int(index), model) for index in page],
        }


def mistake(split, index, model):
    true, predicted = int(split.y[index]), int(split.predicted[index])
    entry = {
        "index": index, "true": true, "predicted": predicted,
        "true_class": model.classes[true], "predicted_class": model.classes[predicted],
        "confidence": float(split.probabilities[index, predicted]),
        "probabilities": split.probabilities[index].tolist(),
    }
    if model.image_shape:
        image = split.X[index].reshape(model.image_shape)
        entry["image"] = data_url(pictures.pixels_png(image))
    else:
        entry["inputs"] = split.X[index].tolist()
    if model.table is not None:
        entry["row"] = raw_row(model.table, split.X[index])
    return entry


@blp.route("/<model_ref:model_id>/weights/<layer>.png")
class Weights(MethodView):
    @blp.doc(parameters=[{"in": "path", "name": "layer", "required": True,
                          "schema": {"type": "integer", "minimum": 0},
                          "description": "the layer's index in `spec.model.layers` (0: first)"}],
             responses=MODEL_ERRORS)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="image/png",
                  description="a PNG picture of the layer's weights")
    def get(self, model_id, layer):
        """A layer's weights as a picture.

        The first layer of an image model shows each hidden unit's incoming weights as a
        28x28 tile (the pattern of pixels that excites it, in red, or inhibits it, in
        blue), all tiles on one symmetric scale with its legend. Other layers are drawn as
        a heatmap: rows are the units feeding in, columns the layer's units; a table
        model's first layer is a features × units heatmap, its rows named by feature.
        """
        model = resolve_model(model_id)
        index = parse_layer(layer, len(model.layers))
        png = services().derived.get(model, ("weights", index), lambda: draw_weights(model, index))
        etag = hashlib.sha256(repr((model.model_id, model.stamp, index)).encode()).hexdigest()[:32]
        response = Response(png, mimetype="image/png")
        response.set_etag(etag)
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response.make_conditional(request)


def parse_layer(text, count):
    """`layer` path segment -> index in 0..count-1, else 404 naming the field."""
    if not (text.isascii() and text.isdigit()) or int(text) >= count:
        abort(404, message=f"No layer {text!r}: this model has layers 0 to {count - 1}.",
              errors={"layer": [f"must be a layer index from 0 to {count - 1}"]})
    return int(text)


def draw_weights(model, index):
    weights = np.asarray(model.layers[index].weights, dtype=np.float64)
    fan_in, fan_out = weights.shape
    activation = model.layers[index].activation.name
    title = f"{model.record.get('name') or model.model_id} — layer {index} ({fan_in} → {fan_out}, {activation})"
    if index == 0 and model.image_shape and fan_in == int(np.prod(model.image_shape)):
        return pictures.weight_tiles_png(weights, model.image_shape, title)
    last = index == len(model.layers) - 1
    table = model.table if index == 0 else None
    inputs = "input feature" if table is not None else "input pixel"
    output = "class" if not model.regression else (
        f"value of {model.table.target.name}" if model.table is not None else "value")
    return pictures.weight_heatmap_png(
        weights, title, from_label=inputs if index == 0 else f"unit of layer {index - 1}",
        to_label=output if last else f"unit of layer {index}",
        to_ticks=list(model.classes) if last and fan_out == model.num_classes else None,
        from_ticks=table.feature_names if table is not None else None)


@blp.route("/<model_ref:model_id>/card")
class Card(MethodView):
    @blp.response(200, {"type": "string"}, content_type="text/markdown",
                  description="the model card in Markdown")
    @blp.doc(responses=MODEL_ERRORS)
    def get(self, model_id):
        """A Markdown model card: data, architecture, training, test metrics, limitations, usage.

        Built from what was saved with the model: per-class precision and recall, the
        worst-confused pairs (with the `mistakes` query that lists them) and curl examples.
        """
        model, _dataset = model_with_dataset(model_id)
        text = build_card(model.record, base_url=request.host_url.rstrip("/"),
                          stop_reason=job_stop_reason(model.record.get("job_id")))
        return Response(text, mimetype="text/markdown")


def job_stop_reason(job_id):
    """The training job's `stop_reason`, if the job store still has the job."""
    if not job_id:
        return None
    try:
        job = services().jobs.get(job_id)
    except (redis.RedisError, ValueError):
        return None  # the card is built from the model's files; the job only adds this
    return (job or {}).get("stop_reason")
