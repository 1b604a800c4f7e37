"""Request bodies: JSON only and strictly parsed, and never silently truncated at the size limit."""

import flask_smorest
import orjson
from flask import Request
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge


class StrictJSONParser(FlaskParser):
    """Request bodies must say they are JSON (else 415) and be strict JSON (else 400).

    orjson refuses NaN, Infinity, numbers beyond a double and nesting deeper than 1024
    levels, so none of those reach a schema; a malformed body never becomes a 500.
    """

    def _raw_load_json(self, req):
        if not req.is_json:
            flask_smorest.abort(
                415, message=f"Content-Type must be application/json, got {req.mimetype or 'none'}")
        body = req.get_data(cache=True)
        if not body.strip():
            flask_smorest.abort(400, message="The request body is empty; send a JSON object.")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            flask_smorest.abort(400, message=f"Malformed JSON: {error}")


class LimitedBodyRequest(Request):
    """A chunked body (no Content-Length) longer than the limit gets 413 like any other.

    Werkzeug stops reading such a body at `max_content_length` without a word, so the
    parsers would see a truncated prefix: malformed JSON (400), or, if the prefix happens to
    be a whole document, an accepted request whose body was over the limit.
    """

    def get_data(self, *args, **kwargs):
        data = super().get_data(*args, **kwargs)
        limit = self.max_content_length
        if limit is not None and self.content_length is None and len(data) >= limit:
            raise RequestEntityTooLarge()
        return data


def init_app(app):
    app.request_class = LimitedBodyRequest
