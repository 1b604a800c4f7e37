"""URL converters: `<id:...>` for ids and `<model_ref:...>` for a model id or `latest`."""

from werkzeug.routing import BaseConverter, ValidationError

from worker.store.ids import is_valid_id

LATEST = "latest"  # the newest ready model (worker.store.artifacts.ArtifactStore.latest_model)


def no_latest_model(dataset: str | None = None, input_kind: str | None = None) -> str:
    """The 404 message when `latest` names no model (of `dataset`, taking `input_kind`)."""
    kind = f"{input_kind} " if input_kind else ""
    scope = f" for dataset {dataset}" if dataset else ""
    return f"No trained {kind}model yet{scope}."


class IdConverter(BaseConverter):
    """`<id:job_id>`: a uuid4 hex id; anything else does not match the route, so 404."""

    regex = "[0-9a-f]{32}"

    def to_python(self, value):
        if not is_valid_id(value):
            raise ValidationError()
        return value


class ModelRefConverter(IdConverter):
    """`<model_ref:model_id>`: a model id or the alias `latest` (the newest model)."""

    regex = f"{IdConverter.regex}|{LATEST}"

    def to_python(self, value):
        return value if value == LATEST else super().to_python(value)


CONVERTERS = {"id": IdConverter, "model_ref": ModelRefConverter}


def parameter_schema(converter: type[BaseConverter]) -> dict:
    """The OpenAPI schema of a path parameter the converter matches."""
    return {"type": "string", "pattern": f"^({converter.regex})$"}


def init_app(app, api):
    """Register the converters with Flask's router and, as string patterns, with OpenAPI."""
    app.url_map.converters.update(CONVERTERS)
    for converter in CONVERTERS.values():
        api.register_converter(converter, lambda converter: parameter_schema(converter))
