"""ErrorSchema: the one error shape as OpenAPI documents it, and the Api that uses it."""

import flask_smorest
import marshmallow as ma

from api.core.fields import named_variants_to_properties


class ErrorSchema(flask_smorest.error_handler.ErrorSchema):
    """The one error shape, as documented in OpenAPI; prediction errors also carry `type`."""

    type = ma.fields.String(metadata={
        "description": "stable error type to branch on, e.g. model_corrupt (prediction errors)"})


class Api(flask_smorest.Api):
    """flask-smorest's Api documenting ErrorSchema and our tagged-union fields."""

    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(named_variants_to_properties)
