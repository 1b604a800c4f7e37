"""Health and readiness answers."""

import marshmallow as ma


class CheckSchema(ma.Schema):
    ok = ma.fields.Boolean()
    detail = ma.fields.String()


class HealthSchema(ma.Schema):
    status = ma.fields.String()


class ReadinessSchema(ma.Schema):
    status = ma.fields.String()
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))
    auth = ma.fields.String(metadata={
        "description": "`api_keys` when requests need an API key; `disabled` when the "
                       "service runs open (no MLPQ_API_KEYS), for local use only"})
