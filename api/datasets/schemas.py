"""A dataset as /v1/datasets describes it (built-in or uploaded), and the upload's form fields."""

import marshmallow as ma
from flask_smorest.fields import Upload
from werkzeug.datastructures import FileStorage

from api.datasets.ingest import MISSING_POLICIES
from api.specs.schemas import NAME_MAX_LENGTH, timestamp
from engine.tables import COLUMN_TYPES, TASKS

KINDS = ("image", "gate", "table")


def _text(description, **options):
    return ma.fields.String(allow_none=True, metadata={"description": description}, **options)


class DatasetSchema(ma.Schema):
    """What a dataset is: the listing's item (GET /v1/datasets/{id} adds the details)."""

    id = ma.fields.String(metadata={"description": "a built-in's name, or an uploaded dataset's "
                                                   "32 hex digits; what a job's `dataset` names"})
    name = ma.fields.String()
    owner = _text("the API key that uploaded it; null for built-ins (and an open service)")
    kind = ma.fields.String(metadata={"enum": list(KINDS), "description":
                                      "image (28x28 pictures), gate (a truth table) or table"})
    task = ma.fields.String(metadata={"enum": list(TASKS)})
    target = _text("tables: the label column")
    input_size = ma.fields.Integer(metadata={"description": "numbers per sample (after one-hot "
                                                            "encoding, for tables)"})
    image_shape = ma.fields.List(ma.fields.Integer(), allow_none=True,
                                 metadata={"description": "[height, width] for image datasets, else null"})
    num_classes = ma.fields.Integer(allow_none=True, metadata={"description": "null for regression"})
    classes = ma.fields.List(ma.fields.String(), allow_none=True,
                             metadata={"description": "class name per label; null for regression"})
    train_size = ma.fields.Integer(metadata={"description": "training samples"})
    test_size = ma.fields.Integer(metadata={"description": "test samples"})
    sha256 = _text("SHA-256 of the uploaded file; null for built-ins")
    size_bytes = ma.fields.Integer(allow_none=True, metadata={"description": "the uploaded file's size"})
    created_at = timestamp("when it was uploaded; null for built-ins")
    source = _text("where a built-in's data comes from")
    licence = _text("a built-in's data licence")


class FeatureStatsSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "present values"})
    missing = ma.fields.Integer()
    min = ma.fields.Float(allow_none=True)
    max = ma.fields.Float(allow_none=True)
    mean = ma.fields.Float(allow_none=True)
    std = ma.fields.Float(allow_none=True, metadata={"description": "population std"})
    distinct = ma.fields.Integer(metadata={"description": "category columns: distinct values"})
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "category columns: the 20 most frequent values and their counts"})


class FeatureSchema(ma.Schema):
    name = ma.fields.String()
    type = ma.fields.String(metadata={"enum": list(COLUMN_TYPES)})
    stats = ma.fields.Nested(FeatureStatsSchema)


class TestFileSchema(ma.Schema):
    file_name = _text("as uploaded")
    sha256 = ma.fields.String()
    size_bytes = ma.fields.Integer()
    rows = ma.fields.Integer()


class UploadOptionsSchema(ma.Schema):
    target = _text("as asked (null: the last column)")
    task = _text("as asked (null: inferred)")
    test_fraction = ma.fields.Float()
    seed = ma.fields.Integer()
    missing = _text("as asked (null: missing values refused)")


COUNTS = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class DatasetDetailSchema(DatasetSchema):
    """A dataset with its columns, statistics, class balance, a preview and its preprocessing."""

    feature_names = ma.fields.List(ma.fields.String(), allow_none=True, metadata={
        "description": "tables: one name per input unit (sex=female, sex=male for a text column)"})
    features = ma.fields.List(ma.fields.Nested(FeatureSchema), allow_none=True, metadata={
        "description": "tables: each input column, its type and statistics (all rows of the "
                       "uploaded file, before missing values are filled or dropped)"})
    target_stats = ma.fields.Nested(FeatureStatsSchema, allow_none=True,
                                    metadata={"description": "regression: the target's statistics"})
    class_balance = ma.fields.Dict(keys=ma.fields.String(), values=COUNTS, allow_none=True,
                                   metadata={"description": "classification: rows per class, "
                                                            "per split (train, test)"})
    preview = ma.fields.List(ma.fields.Dict(), allow_none=True,
                             metadata={"description": "tables: the first rows, raw values by column"})
    rows_dropped = ma.fields.Integer(allow_none=True, metadata={"description": "missing=drop: rows left out"})
    file_name = _text("the uploaded file's name")
    format = _text("csv or csv+gzip")
    delimiter = _text("comma, semicolon or tab")
    test_file = ma.fields.Nested(TestFileSchema, allow_none=True,
                                 metadata={"description": "the test split's own file, if one was uploaded"})
    options = ma.fields.Nested(UploadOptionsSchema, allow_none=True)
    preprocessing = ma.fields.Dict(allow_none=True, metadata={
        "description": "tables: what happens to a row before the first layer (each numeric "
                       "column's mean and std, each text column's categories, the target's "
                       "classes or mean and std), as a model trained on it records it"})


class FilePart(Upload):
    """A file part of the multipart body (a plain form field of that name is refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ma.ValidationError(f"must be a file part, e.g. curl -F {attr}=@table.csv")
        return value


class DatasetUploadSchema(ma.Schema):
    """POST /v1/datasets: a CSV file (plain or gzip) and how to read it."""

    file = FilePart(required=True, metadata={"description": "the table: CSV with a header row, "
                                                          "comma, semicolon or tab separated, "
                                                          "UTF-8, plain or gzip"})
    test_file = FilePart(metadata={"description": "the test split, with the same columns "
                                                "(instead of test_fraction)"})
    name = ma.fields.String(validate=[ma.validate.Length(min=1, max=NAME_MAX_LENGTH),
                                      ma.validate.Regexp(r"^[^\x00-\x1f\x7f]*$",
                                                         error="must not contain control characters")],
                            metadata={"description": "default: the file's name"})
    target = ma.fields.String(validate=ma.validate.Length(min=1), metadata={
        "description": "the label column (default: the last)"})
    task = ma.fields.String(validate=ma.validate.OneOf(TASKS), metadata={
        "description": "default: classification for text or a few distinct integers, else "
                       "regression"})
    test_fraction = ma.fields.Float(load_default=0.2, validate=ma.validate.Range(
        min=0, max=1, min_inclusive=False, max_inclusive=False), metadata={
        "description": "share of the rows held out for testing (seeded; stratified for "
                       "classification)"})
    seed = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=2**32 - 1))
    missing = ma.fields.String(validate=ma.validate.OneOf(MISSING_POLICIES), metadata={
        "description": "what to do with missing cells (default: refuse the upload): fill with "
                       "the training split's mean (text columns: most frequent value), most "
                       "frequent value, or drop the rows"})
