"""Blueprint: the flask-smorest Blueprint every API resource derives from."""

import flask_smorest

from api.core.body_parsing import StrictJSONParser

# What a request that queues work may be answered besides its success, stated once for
# every endpoint that queues (jobs, sweeps).
QUEUEING_ERRORS = (
    (400, "BAD_REQUEST"),
    (413, "REQUEST_ENTITY_TOO_LARGE"),
    (415, "UNSUPPORTED_MEDIA_TYPE"),
    (429, "TOO_MANY_REQUESTS"),
    (503, "SERVICE_UNAVAILABLE"),
)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with strict JSON bodies; every API blueprint derives from it."""

    ARGUMENTS_PARSER = StrictJSONParser()

    def queueing_errors(self):
        """Decorator documenting QUEUEING_ERRORS on an endpoint that queues work."""
        def decorator(func):
            for status, response in QUEUEING_ERRORS:
                func = self.alt_response(status, response=response)(func)
            return func
        return decorator

    def _document_pagination_metadata(self, spec, resp_doc):
        # A header value is a string: document X-Pagination as the JSON text it is.
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "pagination as JSON: total, total_pages, first_page, last_page, "
                           "page, previous_page, next_page",
            "schema": {"type": "string"},
        }
