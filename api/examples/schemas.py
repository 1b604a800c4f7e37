"""The built-in examples' schemas."""

import marshmallow as ma

from api.specs.schemas import ModelSpecSchema, TrainingConfigSchema


class ExampleExpectSchema(ma.Schema):
    """What a full run of an example reaches."""

    metric = ma.fields.String(metadata={"enum": ["accuracy", "r2"], "description":
                                        "the metric checked: accuracy (classification) or r2 "
                                        "(regression), as the model's `evaluation` holds it"})
    split = ma.fields.String(metadata={
        "enum": ["test"], "description": "measured on the dataset's test split (for the truth "
                                         "tables, the table itself): the model's `evaluation`"})
    min = ma.fields.Float(metadata={"description": "the least a full run reaches, at most 1"})
    epochs_note = ma.fields.String(metadata={"description": "how it gets there, for people"})


class ExampleJobSchema(ma.Schema):
    """A job body as posted to /v1/jobs (only the fields the example sets)."""

    name = ma.fields.String()
    dataset = ma.fields.String()
    model = ma.fields.Nested(ModelSpecSchema)
    training = ma.fields.Nested(TrainingConfigSchema)


class ExampleSchema(ma.Schema):
    """A built-in example: a classic network set up as its tutorial does."""

    name = ma.fields.String(metadata={"description": "its id: GET /v1/examples/{name}"})
    title = ma.fields.String()
    description = ma.fields.String(metadata={"description": "one line: what the network is"})
    idea = ma.fields.String(metadata={"description": "the tutorial idea it reproduces"})
    expect = ma.fields.Nested(ExampleExpectSchema)
    spec = ma.fields.Nested(ExampleJobSchema, metadata={"description": "POST it to /v1/jobs"})
