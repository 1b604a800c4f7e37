"""The plan's shape in the OpenAPI document (answers of POST /v1/plans, and `job.plan`)."""

import marshmallow as ma


class PlanLayerSchema(ma.Schema):
    layer = ma.fields.Integer(metadata={"description": "index in model.layers"})
    units = ma.fields.Integer()
    activation = ma.fields.String()
    fan_in = ma.fields.Integer()
    weights = ma.fields.Integer()
    biases = ma.fields.Integer()
    parameters = ma.fields.Integer()
    dropout = ma.fields.Float()


class WarningSchema(ma.Schema):
    id = ma.fields.String(metadata={"description": "stable rule id, e.g. softmax_with_mse"})
    title = ma.fields.String()
    reason = ma.fields.String(metadata={"description": "what goes wrong, and why"})
    suggestion = ma.fields.String()
    facts = ma.fields.Dict(metadata={"description": "the numbers the rule found"})


class PlanSchema(ma.Schema):
    """What training this job costs, estimated before it runs."""

    input_size = ma.fields.Integer()
    samples = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "total, training and validation rows"})
    epochs = ma.fields.Integer()
    batch_size = ma.fields.Integer()
    batches_per_epoch = ma.fields.Integer()
    optimizer = ma.fields.String()
    layers = ma.fields.List(ma.fields.Nested(PlanLayerSchema))
    parameters = ma.fields.Integer(metadata={"description": "weights and biases in total"})
    memory = ma.fields.Dict(metadata={
        "description": "bytes for the weights, gradients, optimizer state and one batch of "
                       "activations (`total_bytes`), in `dtype`"})
    flops = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "per_sample, per_epoch, per_job (forward + backward), the count the "
                       "job work limit uses"})
    time = ma.fields.Dict(metadata={
        "description": "seconds_per_epoch and seconds_per_job (null with no measured worker), "
                       "`speed`: the worker measurement used (worker, measured_at, "
                       "flops_per_second, seconds_per_batch), and a note"})
    warnings = ma.fields.List(ma.fields.Nested(WarningSchema))
