"""A table of nasty requests sent byte for byte to gunicorn: each gets a clean 4xx JSON error
(or is accepted unharmed), never a 500, and the server stays healthy."""

from __future__ import annotations

import base64
import functools
import json
import struct
import zlib
from dataclasses import dataclass, field

import pytest

VALID_MODEL = {"layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "softmax"}]}
MODEL_PATH = "/v1/models/{model}/predict"
INFER_PATH = "/v2/models/{model}/infer"
JSON = {"Content-Type": "application/json"}
MB = 1024 * 1024


def job(**fields) -> bytes:
    return json.dumps({"dataset": "xor", "model": VALID_MODEL, **fields}).encode()


def job_text(model_text: str) -> bytes:
    """A job body whose model is raw JSON text (for literals json.dumps will not write)."""
    return b'{"dataset": "xor", "model": ' + model_text.encode() + b"}"


def pixels(value: str, count: int = 784) -> bytes:
    return b'{"inputs": [[' + b", ".join([value.encode()] * count) + b"]]}"


def infer(data: str, shape: str = "[1, 784]", datatype: str = "FP32") -> bytes:
    return (f'{{"inputs": [{{"name": "input", "datatype": "{datatype}", "shape": {shape}, '
            f'"data": {data}}}]}}').encode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def png(width: int, height: int, rows: int | None = None) -> bytes:
    """A 1-bit greyscale PNG of zeros; `rows` < height writes only that many (a lying header)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    data += compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def images(data: bytes) -> bytes:
    return json.dumps({"images": [base64.b64encode(data).decode()]}).encode()


BOUNDARY = "mlpq-hostile-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def multipart(data: bytes, filename: str = "digit.png") -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


@dataclass(frozen=True)
class Nasty:
    method: str
    path: str
    body: object = None  # bytes, or a callable building them (big bodies are built when used)
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    expect: frozenset[int] = frozenset({400, 422})
    shape: str = "v1"  # v1: {"code", "status", "message"}; v2: {"error"}; accepted: 2xx allowed
    chunked: bool = False


def case(name, *args, expect=(400, 422), **kwargs):
    return pytest.param(Nasty(*args, expect=frozenset(expect), **kwargs), id=name)


NASTY = [
    # --- structure ------------------------------------------------------------------------
    case("100k-open-brackets", "POST", "/v1/jobs", b"[" * 100_000, expect=[400]),
    case("100k-nested-objects", "POST", "/v1/jobs", b'{"a":' * 100_000, expect=[400]),
    case("deep-but-parseable", "POST", "/v1/jobs", job_text("[" * 1000 + "]" * 1000), expect=[422]),
    case("predict-100k-brackets", "POST", MODEL_PATH, b'{"inputs": ' + b"[" * 100_000, expect=[400]),
    case("infer-100k-brackets", "POST", INFER_PATH, b"[" * 100_000, expect=[400], shape="v2"),
    case("not-an-object", "POST", "/v1/jobs", b"[1, 2, 3]", expect=[422]),
    case("json-null", "POST", "/v1/jobs", b"null", expect=[422]),
    case("json-string", "POST", "/v1/jobs", b'"xor"', expect=[422]),
    case("empty-body", "POST", "/v1/jobs", b"", expect=[400]),
    case("whitespace-body", "POST", "/v1/jobs", b" \n\t ", expect=[400]),
    case("truncated-json", "POST", "/v1/jobs", job()[:-7], expect=[400]),
    case("utf8-bom", "POST", "/v1/jobs", b"\xef\xbb\xbf" + job(), expect=[400]),
    case("invalid-utf8", "POST", "/v1/jobs", job(name="x")[:-3] + b'\xff\xfe"}', expect=[400]),
    case("lone-surrogate", "POST", "/v1/jobs", job_text('{"layers": [], "x": "\\ud800"}'), expect=[400]),
    # --- numbers ----------------------------------------------------------------------------
    case("units-1e400", "POST", "/v1/jobs", job_text('{"layers": [{"units": 1e400, "activation": "relu"}]}'),
         expect=[400]),
    case("units-10**400", "POST", "/v1/jobs",
         job_text('{"layers": [{"units": 1' + "0" * 400 + ', "activation": "relu"}]}'), expect=[400]),
    case("units-2**64", "POST", "/v1/jobs", job(model={"layers": [{"units": 2**64, "activation": "relu"}]}),
         expect=[422]),
    case("units-float", "POST", "/v1/jobs", job(model={"layers": [{"units": 2.5, "activation": "relu"}]}),
         expect=[422]),
    case("units-negative", "POST", "/v1/jobs", job(model={"layers": [{"units": -3, "activation": "relu"}]}),
         expect=[422]),
    case("units-true", "POST", "/v1/jobs", job(model={"layers": [{"units": True, "activation": "relu"}]}),
         expect=[422]),
    case("learning-rate-NaN", "POST", "/v1/jobs",
         b'{"dataset": "xor", "model": {"layers": [{"units": 2, "activation": "softmax"}]}, '
         b'"training": {"optimizer": {"learning_rate": NaN}}}', expect=[400]),
    case("epochs-Infinity", "POST", "/v1/jobs",
         b'{"dataset": "xor", "model": {"layers": [{"units": 2, "activation": "softmax"}]}, '
         b'"training": {"epochs": Infinity}}', expect=[400]),
    case("learning-rate-1e-400", "POST", "/v1/jobs",
         b'{"dataset": "xor", "model": {"layers": [{"units": 2, "activation": "softmax"}]}, '
         b'"training": {"optimizer": {"learning_rate": 1e-400}}}', expect=[422]),
    case("epochs-huge", "POST", "/v1/jobs", job(training={"epochs": 10**18}), expect=[422]),
    case("seed-negative-huge", "POST", "/v1/jobs", job(training={"seed": -(2**63)}), expect=[422]),
    case("predict-NaN", "POST", MODEL_PATH, pixels("NaN"), expect=[400]),
    case("predict-Infinity", "POST", MODEL_PATH, pixels("-Infinity"), expect=[400]),
    case("predict-1e400", "POST", MODEL_PATH, pixels("1e400"), expect=[400]),
    case("predict-1e308", "POST", MODEL_PATH, pixels("1e308"), expect=[422]),
    case("predict-10**400", "POST", MODEL_PATH, pixels("1" + "0" * 400), expect=[400]),
    case("predict-strings", "POST", MODEL_PATH, pixels('"0.5"'), expect=[422]),
    case("predict-booleans", "POST", MODEL_PATH, pixels("true"), expect=[422]),
    case("predict-nulls", "POST", MODEL_PATH, pixels("null"), expect=[422]),
    case("predict-ragged", "POST", MODEL_PATH, b'{"inputs": [[0.5, 0.5], [0.5]]}', expect=[422]),
    case("predict-too-many", "POST", MODEL_PATH, json.dumps({"inputs": [[0.0] * 784] * 1025}).encode(),
         expect=[413]),
    case("predict-top_k-negative", "POST", MODEL_PATH + "?top_k=-5", pixels("0.5"), expect=[422]),
    case("predict-top_k-10**400", "POST", MODEL_PATH + "?top_k=1" + "0" * 400, pixels("0.5"),
         expect=[200, 422], shape="accepted"),
    case("infer-NaN", "POST", INFER_PATH, infer("[NaN]"), expect=[400], shape="v2"),
    case("infer-1e308", "POST", INFER_PATH, infer("[" + ", ".join(["1e308"] * 784) + "]"),
         expect=[400, 422], shape="v2"),
    case("infer-negative-shape", "POST", INFER_PATH, infer("[0.5]", shape="[-1, 784]"), expect=[400, 422],
         shape="v2"),
    case("infer-huge-shape", "POST", INFER_PATH, infer("[0.5]", shape="[10000000000000000000, 784]"),
         expect=[400, 413, 422], shape="v2"),
    case("infer-float-shape", "POST", INFER_PATH, infer("[0.5]", shape="[1.5, 784]"), expect=[400, 422],
         shape="v2"),
    case("infer-bytes-datatype", "POST", INFER_PATH, infer('["a"]', shape="[1]", datatype="BYTES"),
         expect=[400, 422], shape="v2"),
    case("infer-header-length-negative", "POST", INFER_PATH, infer("[0.5]"),
         headers={**JSON, "Inference-Header-Content-Length": "-5"}, expect=[400], shape="v2"),
    case("infer-header-length-beyond-body", "POST", INFER_PATH, infer("[0.5]"),
         headers={**JSON, "Inference-Header-Content-Length": "99999999"}, expect=[400], shape="v2"),
    case("infer-binary-size-lies", "POST", INFER_PATH,
         b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1000, 784], '
         b'"parameters": {"binary_data_size": 3136000}}]}' + bytes(16),
         headers={**JSON, "Inference-Header-Content-Length": "114"}, expect=[400, 422], shape="v2"),
    # --- names ------------------------------------------------------------------------------
    case("name-rtl-override", "POST", "/v1/jobs", job(name="\u202etxt.exe"), expect=[202], shape="accepted"),
    case("name-emoji-zwj", "POST", "/v1/jobs", job(name="🧠‍🔥 👩🏽‍💻"), expect=[202], shape="accepted"),
    case("name-combining", "POST", "/v1/jobs", job(name="Z̸̢̛a̵l̴g̶o" * 5), expect=[202], shape="accepted"),
    case("name-NUL", "POST", "/v1/jobs", job(name="a\u0000b"), expect=[422]),
    case("name-escape-codes", "POST", "/v1/jobs", job(name="\x1b[31mred\x1b[0m"), expect=[422]),
    case("name-10k", "POST", "/v1/jobs", job(name="n" * 10_000), expect=[422]),
    case("name-number", "POST", "/v1/jobs", job(name=12), expect=[422]),
    case("dataset-traversal", "POST", "/v1/jobs", json.dumps({"dataset": "../../etc/passwd",
                                                            "model": VALID_MODEL}).encode(), expect=[422]),
    # --- content types -------------------------------------------------------------------
    case("text-plain", "POST", "/v1/jobs", job(), headers={"Content-Type": "text/plain"}, expect=[415]),
    case("no-content-type", "POST", "/v1/jobs", job(), headers={}, expect=[415]),
    case("form-urlencoded", "POST", "/v1/jobs", b"dataset=xor",
         headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=[415]),
    case("xml", "POST", "/v1/jobs", b"<job/>", headers={"Content-Type": "application/xml"}, expect=[415]),
    case("json-latin1-charset", "POST", "/v1/jobs", job(name="cafe").replace(b'"cafe"', b'"caf\xe9"'),
         headers={"Content-Type": "application/json; charset=latin-1"}, expect=[400]),
    case("predict-text-plain", "POST", MODEL_PATH, pixels("0.5"), headers={"Content-Type": "text/plain"},
         expect=[415]),
    case("multipart-to-jobs", "POST", "/v1/jobs", lambda: multipart(png(28, 28)), headers=MULTIPART,
         expect=[415]),
    case("multipart-no-files", "POST", MODEL_PATH, b"--b--\r\n",
         headers={"Content-Type": "multipart/form-data; boundary=b"}, expect=[400, 422]),
    case("multipart-no-boundary", "POST", MODEL_PATH, b"garbage",
         headers={"Content-Type": "multipart/form-data"}, expect=[400, 422]),
    # --- sizes ------------------------------------------------------------------------------
    case("jobs-10MB", "POST", "/v1/jobs", lambda: job(name="x" * (10 * MB)), expect=[413]),
    case("jobs-10MB-chunked", "POST", "/v1/jobs", lambda: job(name="x" * (10 * MB)), expect=[413],
         chunked=True),
    case("jobs-valid-then-10MB-chunked", "POST", "/v1/jobs", lambda: job() + b" " * (10 * MB),
         expect=[413], chunked=True),
    case("predict-70MB-chunked", "POST", MODEL_PATH, lambda: pixels("0.5") + b" " * (70 * MB),
         expect=[413], chunked=True),
    case("infer-70MB-chunked", "POST", INFER_PATH, lambda: infer("[0.5]") + b" " * (70 * MB),
         expect=[413], shape="v2", chunked=True),
    case("predict-10MB-garbage", "POST", MODEL_PATH, lambda: b"{" + b" " * (10 * MB), expect=[400]),
    case("predict-70MB", "POST", MODEL_PATH, lambda: b" " * (70 * MB), expect=[413]),
    # --- images -------------------------------------------------------------------------------
    case("png-bomb-30000x30000", "POST", MODEL_PATH, lambda: images(png(30000, 30000)), expect=[413]),
    case("png-bomb-multipart", "POST", MODEL_PATH, lambda: multipart(png(30000, 30000)), headers=MULTIPART,
         expect=[413]),
    case("png-lying-header", "POST", MODEL_PATH, lambda: images(png(100_000, 100_000, rows=1)),
         expect=[413]),
    case("png-truncated", "POST", MODEL_PATH, lambda: images(png(28, 28)[:40]), expect=[422]),
    case("png-blank", "POST", MODEL_PATH, lambda: images(png(28, 28)), expect=[422]),
    case("gif", "POST", MODEL_PATH, images(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), expect=[422]),
    case("not-base64", "POST", MODEL_PATH, b'{"images": ["not base64!"]}', expect=[422]),
    case("image-not-string", "POST", MODEL_PATH, b'{"images": [12]}', expect=[422]),
    # --- ids and paths --------------------------------------------------------------------------
    *[case(f"job-id-{label}", "GET", f"/v1/jobs/{raw}", expect=[404]) for label, raw in [
        ("negative", "-1"), ("float", "1.5"), ("zero", "0"), ("huge", "9" * 400),
        ("uppercase", "A" * 32), ("33-hex", "a" * 33), ("hex-not-uuid4", "0" * 32),
        ("dotdot", "../.."), ("encoded-dotdot", "%2e%2e"), ("encoded-slash", "..%2f..%2fetc%2fpasswd"),
        ("NUL", "%00"), ("unicode", "%E2%80%AE"), ("spaces", "%20" * 32)]],
    case("model-traversal-download", "GET", "/v1/models/../../etc/passwd/download", expect=[404]),
    case("model-encoded-traversal", "GET", "/v1/models/%2e%2e%2f%2e%2e%2fetc/download", expect=[404]),
    case("cancel-negative-id", "POST", "/v1/jobs/-1/cancel", expect=[404]),
    case("delete-latest", "DELETE", "/v1/models/latest", expect=[400, 404]),
    case("events-float-id", "GET", "/v1/jobs/1.5/events", expect=[404]),
    case("events-bad-last-event-id", "GET", "/v1/jobs/{job}/events?last_event_id=..%2F..",
         expect=[400]),
    case("v2-traversal", "POST", "/v2/models/..%2f..%2fetc/infer", infer("[0.5]"), expect=[404], shape="v2"),
    case("v2-dotdot-ready", "GET", "/v2/models/../ready", expect=[404], shape="v2"),
    case("v2-negative-version", "GET", "/v2/models/{model}/versions/-1", expect=[404], shape="v2"),
    # --- query strings --------------------------------------------------------------------------
    case("page-negative", "GET", "/v1/jobs?page=-1", expect=[422]),
    case("page-size-10**400", "GET", "/v1/jobs?page_size=1" + "0" * 400, expect=[422]),
    case("page-1e400", "GET", "/v1/jobs?page=1e400", expect=[422]),
    case("status-unknown", "GET", "/v1/jobs?status=%00running", expect=[422]),
    case("dataset-traversal-filter", "GET", "/v1/models?dataset=../../x", expect=[422]),
    case("download-file-traversal", "GET", "/v1/models/{model}/download?file=../../etc/passwd", expect=[422]),
]


@pytest.mark.slow
@pytest.mark.parametrize("nasty", NASTY)
def test_nasty_input_gets_a_clean_answer(nasty, hostile_stack, queued_job_id):
    path = nasty.path.format(model=hostile_stack.model_id, job=queued_job_id)
    body = nasty.body() if callable(nasty.body) else nasty.body
    answer = hostile_stack.send(nasty.method, path, body, nasty.headers, nasty.chunked)
    assert answer.status in nasty.expect, (answer.status, answer.body[:500])
    if answer.status >= 400:
        assert answer.headers.get_content_type() == "application/json", answer.headers
        error = json.loads(answer.body)
        if nasty.shape == "v2":
            assert set(error) == {"error"} and error["error"], error
        else:
            assert error["code"] == answer.status and error["message"], error
            assert "Traceback" not in answer.body.decode(errors="replace")
    assert hostile_stack.send("GET", "/healthz").status == 200


@pytest.fixture(scope="module")
def queued_job_id(hostile_stack):
    answer = hostile_stack.send("POST", "/v1/jobs", job(name="a queued job"), JSON)
    assert answer.status == 202, answer.body
    return json.loads(answer.body)["id"]


def test_names_round_trip_exactly(hostile_stack):
    for name in ["\u202etxt.exe", "🧠‍🔥 👩🏽‍💻", "名前 اسم שם", "'; DROP TABLE jobs; --", "<script>x</script>"]:
        answer = hostile_stack.send("POST", "/v1/jobs", job(name=name), JSON)
        assert answer.status == 202, answer.body
        job_id = json.loads(answer.body)["id"]
        assert json.loads(hostile_stack.send("GET", f"/v1/jobs/{job_id}").body)["name"] == name


def test_the_server_survived_the_table(hostile_stack):
    """Runs after the table: no request crashed or restarted a gunicorn worker, none logged a 500."""
    assert hostile_stack.send("GET", "/healthz").status == 200
    log = hostile_stack.server.log_text()
    assert "Traceback" not in log and "unhandled" not in log, log[-3000:]
    assert log.count("Booting worker") == 1, "a gunicorn worker died and was replaced"
    assert "WORKER TIMEOUT" not in log
