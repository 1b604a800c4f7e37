"""Job and model ids: uuid4 hex strings, checked before they reach a Redis key or a file path."""

from __future__ import annotations

import hashlib
import re
import uuid

# uuid4().hex: 32 lowercase hex digits, version nibble 4, variant nibble 8-b.
_UUID4_HEX = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


def new_id() -> str:
    return uuid.uuid4().hex


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _UUID4_HEX.fullmatch(value) is not None


def validate_id(value: object, what: str = "id") -> str:
    """Return `value` if it is a uuid4 hex string, else raise ValueError naming the rule."""
    if not is_valid_id(value):
        raise ValueError(f"{what} must be a uuid4 in hex: 32 lowercase hexadecimal digits")
    return value


def model_id_for_job(job_id: str) -> str:
    """The one model id a job can ever produce, so a redelivered job cannot make a second model.

    Derived by hashing (not uuid5) so it keeps the uuid4 shape every id check expects.
    """
    digest = hashlib.sha256(b"mlpq-model:" + validate_id(job_id, "job id").encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=4).hex
