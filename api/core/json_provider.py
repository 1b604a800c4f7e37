"""OrjsonProvider: the app's JSON responses through orjson."""

import orjson
from flask.json.provider import DefaultJSONProvider


class OrjsonProvider(DefaultJSONProvider):
    """JSON through orjson: fast, key order kept, and a stray NaN becomes null, not invalid JSON."""

    def dumps(self, obj, **kwargs):
        option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        if kwargs.get("indent"):
            option |= orjson.OPT_INDENT_2
        return orjson.dumps(obj, default=self.default, option=option).decode()

    def loads(self, s, **kwargs):
        return orjson.loads(s)


def init_app(app):
    app.json = OrjsonProvider(app)
