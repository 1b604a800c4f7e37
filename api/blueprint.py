"""Blueprint: the flask-smorest Blueprint every API resource derives from."""

import flask_smorest

from api.body_parsing import StrictJSONParser


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with strict JSON bodies; every API blueprint derives from it."""

    ARGUMENTS_PARSER = StrictJSONParser()

    def _document_pagination_metadata(self, spec, resp_doc):
        # A header value is a string: document X-Pagination as the JSON text it is.
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "pagination as JSON: total, total_pages, first_page, last_page, "
                           "page, previous_page, next_page",
            "schema": {"type": "string"},
        }
