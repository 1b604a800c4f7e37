"""/v1/models: list trained models, read one, download its files, delete it."""

import tempfile
import zipfile

from flask import send_file
from flask.views import MethodView
from flask_smorest import Page, abort

from api.core.blueprint import Blueprint
from api.core.converters import LATEST, IdConverter, no_latest_model, parameter_schema
from api.core.errors import not_found_message
from api.core.ownership import found_or_404, owner_filter
from api.core.services import services
from api.models.schemas import DownloadArgsSchema, ModelListArgsSchema, ModelSchema, model_input
from engine.serialization import MANIFEST, MODEL_FILES, WEIGHTS
from worker.store.artifacts import ModelNotFound, is_ready

blp = Blueprint(
    "models", __name__, url_prefix="/v1/models",
    description="Trained models: their metrics, test-set evaluation and files.",
)

PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
MEDIA_TYPES = {MANIFEST: "application/json", WEIGHTS: "application/octet-stream"}
# Zips above this size spill from memory to a temporary file while they are sent.
ZIP_MEMORY_BYTES = 16 * 1024 * 1024


def find_model(model_ref, dataset=None, input_kind=None):
    """The model record for an id or for `latest` (the newest, optionally of one dataset).

    404 when there is no such model or it belongs to someone else. (Prediction endpoints
    resolve references through api.models.serving.resolve_model, which also takes job ids and
    applies the same `latest` rule, ArtifactStore.latest_model.)
    """
    artifacts = services().artifacts
    if model_ref == LATEST:
        model = artifacts.latest_model(owner=owner_filter(), dataset=dataset,
                                       where=_takes(input_kind) if input_kind else None)
        if model is None:
            abort(404, message=no_latest_model(dataset, input_kind))
        return model
    return found_or_404(artifacts.get_model(model_ref), "model", model_ref)


@blp.route("")
class Models(MethodView):
    @blp.arguments(ModelListArgsSchema, location="query")
    @blp.response(200, ModelSchema(many=True))
    @blp.paginate(Page, page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args):
        """List trained models, newest first; filter with `dataset` or `input` (the kind of input a model takes)."""
        models = services().artifacts.list_models(owner=owner_filter(), dataset=args.get("dataset"))
        return _of_kind(models, args.get("input")) if args.get("input") else models


def _takes(input_kind):
    """Whether a model's input is of `input_kind` (ModelSchema's `input.kind`)."""
    return lambda model: model_input(model)["kind"] == input_kind


def _of_kind(models, input_kind):
    """The ready models whose input is of `input_kind`."""
    takes = _takes(input_kind)
    return [model for model in models if is_ready(model) and takes(model)]


@blp.route("/<model_ref:model_id>")
class ModelById(MethodView):
    @blp.arguments(ModelListArgsSchema, location="query")
    @blp.response(200, ModelSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, model_id):
        """Read one model: spec, training metrics, test-set evaluation, size.

        `latest` (optionally with `?dataset=`) names the newest model.
        """
        return find_model(model_id, args.get("dataset"), args.get("input"))

    @blp.doc(parameters=[{"in": "path", "name": "model_id", "required": True,
                          "schema": parameter_schema(IdConverter),
                          "description": "the model's id (the alias latest is not accepted here)"}])
    @blp.response(204)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, model_id):
        """Delete a model and its files (by id; `latest` is refused so nothing goes by surprise)."""
        if model_id == LATEST:
            abort(400, message="Delete a model by its id, not by the alias latest.")
        model = find_model(model_id)
        if not services().artifacts.delete_model(model["id"]):
            abort(404, message=not_found_message("model", model_id))


@blp.route("/<model_ref:model_id>/download")
class ModelDownload(MethodView):
    @blp.arguments(DownloadArgsSchema, location="query")
    @blp.doc(responses={200: {"content": {
        "application/json": {"schema": {"type": "object", "description": "?file=manifest"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                                "description": "?file=weights"}}}}})
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/zip",
                  description=f"a zip (stored, not compressed) of {MANIFEST} and {WEIGHTS}; "
                              "with ?file=, that one file")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, model_id):
        """Download a model: its JSON manifest and NumPy .npz weights (no pickle anywhere)."""
        model = find_model(model_id)
        try:
            # The store's local copy (an object store's is downloaded and verified first).
            directory = services().artifacts.local_model_dir(model["id"])
            if "file" in args:
                file_name = MODEL_FILES[args["file"]]
                return send_file(directory / file_name, mimetype=MEDIA_TYPES[file_name],
                                 as_attachment=True,
                                 download_name=f"{model['id']}-{file_name}")
            return send_file(zip_model(directory), mimetype="application/zip", as_attachment=True,
                             download_name=f"mlpq-model-{model['id']}.zip")
        except (FileNotFoundError, ModelNotFound):  # deleted between the lookup and the read
            abort(404, message=not_found_message("model", model_id))


def zip_model(directory):
    """A seekable zip of the model's files; stored, since .npz is already a zip and JSON is small."""
    buffer = tempfile.SpooledTemporaryFile(max_size=ZIP_MEMORY_BYTES)
    try:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for file_name in MODEL_FILES.values():
                archive.write(directory / file_name, arcname=file_name)
    except BaseException:
        buffer.close()
        raise
    buffer.seek(0)
    return buffer
