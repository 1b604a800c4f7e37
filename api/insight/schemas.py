"""What the insight endpoints take and answer: a model's test-set mistakes and a traced training step."""

import marshmallow as ma

from api.core.fields import StrictFloat, StrictInteger
from api.specs.schemas import ModelSpecSchema, OptimizerSchema
from engine.tables import TASKS

# ---- mistakes (api.insight.views) ---------------------------------------------------------------

MISTAKES_LIMIT, MAX_MISTAKES_LIMIT = 20, 500
ORDERS = ("confidence", "index")


class MistakesArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=MISTAKES_LIMIT,
                              validate=ma.validate.Range(min=1, max=MAX_MISTAKES_LIMIT),
                              metadata={"description": "most mistakes to return"})
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0),
                               metadata={"description": "skip this many (paging)"})
    true = ma.fields.Integer(validate=ma.validate.Range(min=0), metadata={
        "description": "only examples of this true class (a confusion-matrix row; "
                       "classification only)"})
    predicted = ma.fields.Integer(validate=ma.validate.Range(min=0), metadata={
        "description": "only examples predicted as this class (a confusion-matrix column; "
                       "classification only)"})
    order = ma.fields.String(load_default=ORDERS[0], validate=ma.validate.OneOf(ORDERS), metadata={
        "description": "confidence: the most confidently wrong first (regression: the largest "
                       "absolute error first); index: test-set order"})


class MistakeSchema(ma.Schema):
    index = ma.fields.Integer(metadata={"description": "position in the dataset's test split"})
    true = ma.fields.Integer(metadata={"description": "the true label"})
    predicted = ma.fields.Integer(metadata={"description": "the model's label"})
    true_class = ma.fields.String()
    predicted_class = ma.fields.String()
    confidence = ma.fields.Float(metadata={"description": "probability of the predicted label"})
    probabilities = ma.fields.List(ma.fields.Float(), metadata={"description": "one per class"})
    true_value = ma.fields.Float(metadata={"description": "regression: the target, in its units"})
    predicted_value = ma.fields.Float(metadata={"description": "regression: the model's value"})
    error = ma.fields.Float(metadata={"description": "regression: predicted_value - true_value"})
    image = ma.fields.String(metadata={"description": "image datasets: a PNG data URL (28x28)"})
    inputs = ma.fields.List(ma.fields.Float(), metadata={
        "description": "datasets that are not images: the input values (for tables, encoded: "
                       "standardised numbers and one-hot categories)"})
    row = ma.fields.Dict(keys=ma.fields.String(), metadata={
        "description": "table datasets: the row's raw values by column name, decoded from the "
                       "test split (a category the training split lacked is null)"})


class MistakesSchema(ma.Schema):
    model_id = ma.fields.String()
    dataset = ma.fields.String()
    task = ma.fields.String(metadata={"enum": list(TASKS)})
    target = ma.fields.String(allow_none=True, metadata={
        "description": "regression: the target column the values are of"})
    classes = ma.fields.List(ma.fields.String())
    test_size = ma.fields.Integer(metadata={"description": "examples in the test split"})
    mistakes_total = ma.fields.Integer(metadata={"description": "misclassified test examples"})
    total = ma.fields.Integer(metadata={"description": "mistakes matching the filter"})
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
    order = ma.fields.String()
    mistakes = ma.fields.List(ma.fields.Nested(MistakeSchema))


# ---- one traced training step (api.insight.trace) -----------------------------------------------

MAX_SAMPLES = 16  # rows in one traced batch
MAX_PARAMETERS = 5000  # weights and biases of a traced network: every number comes back, 5 times
MATRIX = ma.fields.List(ma.fields.List(ma.fields.Float()))
VECTOR = ma.fields.List(ma.fields.Float())


class LayerWeightsSchema(ma.Schema):
    W = ma.fields.List(ma.fields.List(StrictFloat(allow_nan=False)), required=True, metadata={
        "description": "(fan_in, units): row i holds the weights out of input i"})
    b = ma.fields.List(StrictFloat(allow_nan=False), required=True, metadata={
        "description": "(units,)"})


class TraceRequestSchema(ma.Schema):
    """A small network and one batch to trace."""

    model = ma.fields.Nested(ModelSpecSchema, required=True, metadata={
        "description": f"the network: at most {MAX_PARAMETERS} weights and biases"})
    inputs = ma.fields.List(
        ma.fields.List(StrictFloat(allow_nan=False), validate=ma.validate.Length(min=1)),
        required=True, validate=ma.validate.Length(min=1, max=MAX_SAMPLES),
        metadata={"description": f"the batch: 1 to {MAX_SAMPLES} rows of equal length"})
    labels = ma.fields.List(StrictInteger(validate=ma.validate.Range(min=0)), required=True,
                            metadata={"description": "one class per row"})
    optimizer = ma.fields.Nested(OptimizerSchema, metadata={
        "description": "the step to trace; omitted: the training default"})
    weights = ma.fields.List(ma.fields.Nested(LayerWeightsSchema), metadata={
        "description": "start from these weights (one entry per layer); omitted: the "
                       "model's initializer draws them with `seed`"})
    seed = StrictInteger(load_default=0, validate=ma.validate.Range(min=0, max=2**32 - 1),
                         metadata={"description": "initialisation (and dropout mask) seed"})

    @ma.validates_schema
    def check_shapes(self, data, **kwargs):
        """Equal rows and a label for each; the model's own rules are checked in the view."""
        inputs, labels = data.get("inputs"), data.get("labels")
        errors = {}
        if inputs:
            width = len(inputs[0])
            for index, row in enumerate(inputs):
                if len(row) != width:
                    errors[f"inputs[{index}]"] = [f"has {len(row)} values; row 0 has {width}"]
        if inputs and labels is not None and len(labels) != len(inputs):
            errors["labels"] = [f"must hold one label per input row ({len(inputs)}), "
                                f"got {len(labels)}"]
        if errors:
            raise ma.ValidationError(errors)


class TraceLayerSchema(ma.Schema):
    layer = ma.fields.Integer(metadata={"description": "index in model.layers"})
    l = ma.fields.Integer(metadata={"description": "the textbook's l (a⁰ is the input)"})  # noqa: E741
    activation = ma.fields.String()
    units = ma.fields.Integer()
    fan_in = ma.fields.Integer()
    W = MATRIX
    b = VECTOR
    z = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={"description": "zˡ = aˡ⁻¹Wˡ + bˡ"})
    a = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={"description": "aˡ = σ(zˡ)"})
    dropout_mask = ma.fields.List(ma.fields.List(ma.fields.Float()), allow_none=True)
    delta = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={
        "description": "δˡ = ∂C/∂zˡ (BP1 for the output layer, BP2 below it)"})
    dC_dW = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={
        "description": "∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ (BP4)"})
    dC_db = ma.fields.List(ma.fields.Float(), metadata={"description": "∂C/∂bˡ = Σ rows of δˡ (BP3)"})
    W_after = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={
        "description": "Wˡ after the optimizer's step"})
    b_after = ma.fields.List(ma.fields.Float())


class TraceSchema(ma.Schema):
    """One training step, per layer, by textbook name (C is the batch's mean loss)."""

    model = ma.fields.Dict(metadata={"description": "the validated model spec"})
    dtype = ma.fields.String()
    inputs = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={"description": "a⁰"})
    labels = ma.fields.List(ma.fields.Integer())
    targets = ma.fields.Raw(metadata={
        "description": "what the loss compares the output with, in the loss's own form: "
                       "class indices (cross-entropy), 0/1 columns or one-hot rows (mse)"})
    loss = ma.fields.Float(metadata={"description": "C"})
    weight_penalty = ma.fields.Float(metadata={"description": "λ/2 ‖W‖² (0 without weight decay)"})
    output = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={"description": "aᴸ"})
    output_error = ma.fields.List(ma.fields.List(ma.fields.Float()), metadata={"description": "δᴸ"})
    optimizer = ma.fields.Dict()
    symbols = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), metadata={
        "description": "key -> the textbook's symbol"})
    layers = ma.fields.List(ma.fields.Nested(TraceLayerSchema))
