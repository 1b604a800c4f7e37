"""Open Inference Protocol tensors: parse an inference request, build an inference response.

A request body is a JSON object, optionally followed by raw little-endian tensors (the binary
tensor data extension): the `Inference-Header-Content-Length` header gives the JSON's length
and each binary input carries `parameters.binary_data_size`. Responses mirror that: outputs
asked for with `binary_data` (or, for all outputs, the request's `binary_data_output`) go
after the JSON, in order, each with its `binary_data_size`.
"""

import math
from dataclasses import dataclass

import numpy as np
import orjson

from api.models.serving import PredictionError, check_batch

HEADER_LENGTH = "Inference-Header-Content-Length"
INPUT_NAME = "input"
OUTPUT_DATATYPES = {"probabilities": None, "label": "INT64", "value": "FP32"}  # None: the model's float type
CLASSIFIER_OUTPUTS, REGRESSION_OUTPUTS = ("probabilities", "label"), ("value",)
# Datatypes accepted for the input, with their little-endian NumPy dtype.
INPUT_DTYPES = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8")}
FLOAT_NAMES = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64"}
RESERVED_OUTPUT_PARAMETERS = {"classification": "the classification extension is not supported"}


@dataclass(frozen=True)
class InferenceRequest:
    request_id: str | None
    inputs: np.ndarray  # (n, input_size), checked, in the model's dtype
    outputs: list[tuple[str, bool]]  # (name, as binary) in the order to return them


def output_names(model) -> tuple[str, ...]:
    """A classifier's `probabilities` and `label`, or a regression model's `value`."""
    return REGRESSION_OUTPUTS if model.regression else CLASSIFIER_OUTPUTS


def bad_request(message: str, status: int = 400) -> PredictionError:
    return PredictionError(status, "invalid_inference_request", message)


def decode_request(body: bytes, header_length: str | None, model, max_inputs: int,
                   decode_inputs=None):
    """The raw HTTP body (+ header length) -> InferenceRequest, or PredictionError (4xx).

    `decode_inputs(inputs, binary tail, model, max_inputs)`, when given, makes the batch of the
    request's input tensors (table models: one per column); by default there is one, `input`."""
    json_length = _json_length(header_length, len(body))
    view = memoryview(body)
    try:
        document = orjson.loads(view[:json_length])
    except orjson.JSONDecodeError as error:
        raise bad_request(f"the inference request is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise bad_request("the inference request must be a JSON object")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise bad_request('"id" must be a string')
    parameters = json_object(document.get("parameters"), "parameters")
    binary_default = _flag(parameters, "binary_data_output", "parameters")
    tensor = (decode_inputs or _single_input)(document.get("inputs"), view[json_length:], model,
                                              max_inputs)
    outputs = _requested_outputs(document.get("outputs"), binary_default, output_names(model))
    return InferenceRequest(request_id, tensor, outputs)


def _single_input(inputs, binary: memoryview, model, max_inputs: int) -> np.ndarray:
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise bad_request(f'"inputs" must be a list holding one tensor, named "{INPUT_NAME}"')
    return _input_tensor(inputs[0], binary, model, max_inputs)


def _json_length(header_length: str | None, body_length: int) -> int:
    if header_length is None:
        return body_length
    try:
        length = int(header_length)
    except ValueError:
        length = -1
    if not 0 < length <= body_length:
        raise bad_request(f"{HEADER_LENGTH} must be an integer between 1 and the body length "
                          f"({body_length}), got {header_length!r}")
    return length


def json_object(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f'"{where}" must be a JSON object')
    return value


def _flag(parameters: dict, name: str, where: str) -> bool:
    value = parameters.get(name, False)
    if not isinstance(value, bool):
        raise bad_request(f'{where}.{name} must be true or false')
    return value


def _input_tensor(tensor, binary: memoryview, model, max_inputs: int) -> np.ndarray:
    where = "inputs[0]"
    if not isinstance(tensor, dict):
        raise bad_request(f"{where} must be a JSON object")
    if tensor.get("name") != INPUT_NAME:
        raise bad_request(f'{where}.name is {tensor.get("name")!r}; this model has one input, '
                          f'named "{INPUT_NAME}"')
    datatype = tensor.get("datatype")
    if datatype not in INPUT_DTYPES:
        raise bad_request(f'{where}.datatype is {datatype!r}; the input is FP32 '
                          f'(FP64 is also accepted)')
    shape = _shape(tensor.get("shape"), where)
    if shape[0] > max_inputs:
        raise bad_request(f"{where}.shape asks for {shape[0]} samples; at most {max_inputs} per "
                          "request (MLPQ_PREDICT_MAX_INPUTS)", 413)
    count = math.prod(shape)
    parameters = json_object(tensor.get("parameters"), f"{where}.parameters")
    size = parameters.get("binary_data_size")
    if size is not None:
        array = _binary_input(size, binary, count, INPUT_DTYPES[datatype], where)
    else:
        if len(binary):
            raise bad_request(f"{len(binary)} bytes follow the JSON header but no input has "
                              "parameters.binary_data_size")
        array = _json_input(tensor.get("data"), shape, count, where)
    return check_batch(array.reshape(shape), model, f"{where}.data")


def _shape(shape, where: str) -> list[int]:
    valid = (isinstance(shape, list) and len(shape) >= 2
             and all(isinstance(size, int) and not isinstance(size, bool) and size >= 0
                     for size in shape))
    if not valid or shape[0] < 1:
        raise bad_request(f"{where}.shape must be [batch, 784] (or [batch, 28, 28]) with a "
                          f"batch of at least 1, got {shape!r}")
    return shape


def _binary_input(size, binary: memoryview, count: int, dtype: np.dtype, where: str):
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad_request(f"{where}.parameters.binary_data_size must be a non-negative integer")
    if size != count * dtype.itemsize:
        raise bad_request(f"{where}.parameters.binary_data_size is {size} bytes; its shape "
                          f"and datatype need {count * dtype.itemsize}")
    if len(binary) != size:
        raise bad_request(f"{len(binary)} bytes follow the JSON header; {where} declares {size}")
    return np.frombuffer(binary, dtype=dtype)  # no copy: a view of the request body


def _json_input(data, shape: list[int], count: int, where: str) -> np.ndarray:
    if not isinstance(data, list):
        raise bad_request(f"{where}.data must be a list of numbers (flat or nested, row-major) "
                          "unless the tensor is sent as binary data")
    try:
        array = np.array(data)
    except (ValueError, TypeError):
        raise bad_request(f"{where}.data is ragged: nested lists must all have the same "
                          "length") from None
    if array.size and array.dtype.kind not in "fiu":
        raise bad_request(f"{where}.data must hold JSON numbers only")
    if array.size != count:
        raise bad_request(f"{where}.data holds {array.size} values; its shape needs {count}")
    if array.ndim > 1 and list(array.shape) != shape:
        raise bad_request(f"{where}.data is nested as {list(array.shape)} but its shape is "
                          f"{shape}; send it flat or nested exactly as the shape")
    return array


def _requested_outputs(outputs, binary_default: bool, names: tuple[str, ...]) -> list[tuple[str, bool]]:
    if outputs is None:
        return [(name, binary_default) for name in names]
    if not isinstance(outputs, list) or not outputs:
        raise bad_request('"outputs", when given, must be a non-empty list')
    requested = []
    for index, output in enumerate(outputs):
        where = f"outputs[{index}]"
        if not isinstance(output, dict) or output.get("name") not in names:
            name = output.get("name") if isinstance(output, dict) else output
            raise bad_request(f"{where}.name is {name!r}; outputs are "
                              + " and ".join(f'"{name}"' for name in names))
        parameters = json_object(output.get("parameters"), f"{where}.parameters")
        for name, reason in RESERVED_OUTPUT_PARAMETERS.items():
            if name in parameters:
                raise bad_request(f"{where}.parameters.{name}: {reason}")
        binary = (_flag(parameters, "binary_data", f"{where}.parameters")
                  if "binary_data" in parameters else binary_default)
        if any(output["name"] == seen for seen, _ in requested):
            raise bad_request(f'{where}: output "{output["name"]}" is requested twice')
        requested.append((output["name"], binary))
    return requested


def encode_response(model_name: str, inference: InferenceRequest, tensors: dict):
    """-> (body, json_length): json_length is None when every output is in the JSON."""
    outputs, blobs = [], []
    for name, binary in inference.outputs:
        array = tensors[name]
        datatype = OUTPUT_DATATYPES[name] or FLOAT_NAMES[array.dtype]
        output = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            output["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            output["data"] = np.ascontiguousarray(array).ravel()
        outputs.append(output)
    document = {"model_name": model_name}
    if inference.request_id is not None:
        document["id"] = inference.request_id
    document["outputs"] = outputs
    header = orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)
