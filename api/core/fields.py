"""marshmallow fields built from the engine's rule tables, so each rule is declared once.

`field_from_rule` turns an `engine.rules.Rule` (kind, bounds, allowed names, default) into
a marshmallow field whose validators and OpenAPI description say the same thing; JSON types
are taken strictly (no "128" for 128, no true for 1).
"""

import numbers

import marshmallow as ma

from engine.rules import OPTIONAL, REQUIRED


class StrictInteger(ma.fields.Integer):
    """An integer that refuses true/false (JSON booleans are not numbers here)."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictFloat(ma.fields.Float):
    """A number given as a JSON number: no strings such as "0.1", no booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """true or false only: no 1, "yes" or "true"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


FIELD_FOR_KIND = {
    "integer": StrictInteger,
    "number": StrictFloat,
    "boolean": StrictBoolean,
    "name": ma.fields.String,
}


def _range(rule):
    """marshmallow's Range for a Rule's bounds (inclusive `minimum`, exclusive `above`, ...)."""
    low = rule.minimum if rule.minimum is not None else rule.above
    high = rule.maximum if rule.maximum is not None else rule.below
    if low is None and high is None:
        return None
    return ma.validate.Range(
        min=low, max=high,
        min_inclusive=rule.above is None, max_inclusive=rule.below is None,
    )


def field_from_rule(rule, description="", optional=False):
    """The marshmallow field that checks one engine `Rule` on its own.

    `optional`: the default lives elsewhere (an optimizer's class), so the key may be left out.
    """
    validators = [v for v in [_range(rule)] if v is not None]
    if rule.choices is not None:
        validators.append(ma.validate.OneOf(list(rule.choices)))
    metadata = {"description": description} if description else {}
    if rule.default not in (REQUIRED, OPTIONAL):
        metadata["default"] = rule.default
    # OpenAPI 3.0 spells strict bounds as flags beside minimum/maximum.
    if rule.above is not None:
        metadata["exclusiveMinimum"] = True
    if rule.below is not None:
        metadata["exclusiveMaximum"] = True
    return FIELD_FOR_KIND[rule.kind](
        required=rule.default is REQUIRED and not optional,
        validate=validators, metadata=metadata,
    )


def schema_from_rules(class_name, rules, extra=None, doc="", optional=False):
    """A Schema class with one field per rule (plus `extra` fields), unknown keys refused."""
    attributes = {key: field_from_rule(rule, optional=optional) for key, rule in rules.items()}
    attributes.update(extra or {})
    attributes["__doc__"] = doc
    return type(class_name, (ma.Schema,), attributes)


class NamedVariants(ma.fields.Field):
    """An object whose allowed fields depend on its "name": one schema per name.

    Each learning-rate schedule takes its own parameters; loading picks the schema by
    name, and the OpenAPI document lists the variants (anyOf) so clients see exactly
    which fields go with which name.
    """

    def __init__(self, variants, default_name, **kwargs):
        super().__init__(**kwargs)
        self.variants = variants
        self.default_name = default_name

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ma.ValidationError("must be an object")
        name = value.get("name", self.default_name)
        if not isinstance(name, str) or name not in self.variants:
            raise ma.ValidationError({"name": [f"Must be one of: {', '.join(self.variants)}."]})
        return self.variants[name]().load(value)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def named_variants_to_properties(converter, field, **kwargs):
    """apispec attribute function: document a NamedVariants field as anyOf its schemas."""
    if isinstance(field, NamedVariants):
        return {"anyOf": [converter.resolve_nested_schema(schema) for schema in field.variants.values()]}
    return {}
