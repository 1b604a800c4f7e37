"""API keys: `Authorization: Bearer <key>` on /v1 and /v2, owners of jobs and models, job quotas.

Keys are configured as SHA-256 hashes only (MLPQ_API_KEYS=`name:sha256hex[:admin]`, comma
separated; `mlpq keygen NAME` makes one), so neither the environment nor a log ever holds a
usable key. A request's key name becomes `g.owner`: what it creates belongs to that name, and
api.core.ownership.visible() hides everything else (an admin key sees all). With no keys configured
the service is open, for local use, and says so at start-up and in /readyz.
"""

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from apispec import BasePlugin
from flask import current_app, g, request
from flask_smorest import abort
from werkzeug.exceptions import Unauthorized

from api.core.ownership import current_owner
from api.core.services import services
from worker.store.jobs import ActiveJobLimit

logger = logging.getLogger(__name__)

PROTECTED_PREFIXES = ("/v1", "/v2")
PUBLIC_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"})  # probes need no key
KEY_PREFIX = "mlpq_"
MAX_KEY_LENGTH = 256  # longer credentials are refused without hashing them
ADMIN_FLAG = "admin"
NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
HASH_RULE = re.compile(r"[0-9a-f]{64}")
ACTIVE_JOBS_RETRY_AFTER_SECONDS = 10
SECURITY_SCHEME = {"type": "http", "scheme": "bearer",
                   "description": "an API key made with `mlpq keygen` (needed when the "
                                  "server has MLPQ_API_KEYS set)"}


@dataclass(frozen=True)
class ApiKey:
    name: str  # the owner recorded on jobs and models
    digest: bytes  # SHA-256 of the key
    admin: bool = False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def generate_key() -> str:
    """A new random key: 256 bits, URL-safe, with a prefix that makes it recognisable."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_entry(name: str, key: str, *, admin: bool = False) -> str:
    """The MLPQ_API_KEYS entry for `key`: `name:sha256hex` (plus `:admin`)."""
    if not NAME_RULE.fullmatch(name):
        raise ValueError(f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return ":".join([name, hash_key(key), *([ADMIN_FLAG] if admin else [])])


def parse_api_keys(text: str) -> tuple[ApiKey, ...]:
    """MLPQ_API_KEYS -> keys; ValueError naming the bad entry (never echoing its secret part)."""
    keys, names, digests = [], set(), set()
    for number, entry in enumerate(filter(None, (part.strip() for part in text.split(","))), 1):
        name, _, rest = entry.partition(":")
        digest, _, flag = rest.partition(":")
        where = f"MLPQ_API_KEYS entry {number}"
        if not NAME_RULE.fullmatch(name):
            raise ValueError(f"{where}: the name must be 1-64 letters, digits, '.', '_' or '-'")
        if not HASH_RULE.fullmatch(digest):
            raise ValueError(f"{where} ({name}): expected name:sha256hex[:admin] with the key's "
                             "SHA-256 in 64 lowercase hex digits (make one with `mlpq keygen "
                             f"{name}`); plain keys are not accepted")
        if flag not in ("", ADMIN_FLAG):
            raise ValueError(f"{where} ({name}): the only flag after the hash is ':admin'")
        if name in names or digest in digests:
            raise ValueError(f"{where} ({name}): the name or the key is already configured")
        names.add(name)
        digests.add(digest)
        keys.append(ApiKey(name, bytes.fromhex(digest), flag == ADMIN_FLAG))
    return tuple(keys)


class KeyRing:
    """The configured keys; `match` compares a presented key against each in constant time."""

    def __init__(self, keys: tuple[ApiKey, ...]):
        self.keys = keys

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def match(self, presented: str) -> ApiKey | None:
        if len(presented) > MAX_KEY_LENGTH:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = None
        for key in self.keys:  # no early exit: the time taken does not depend on which matched
            if hmac.compare_digest(digest, key.digest) and found is None:
                found = key
        return found


def auth_mode() -> str:
    """"api_keys" when keys are required, "disabled" when the service runs open."""
    return "api_keys" if services().keyring.enabled else "disabled"


def init_app(app, api) -> None:
    """Read the keys, check every request's key, and declare bearer auth in the OpenAPI document.

    Call before registering blueprints, so the spec plugin sees every path.
    """
    ring = services(app).keyring = KeyRing(parse_api_keys(app.config.get("API_KEYS") or ""))
    app.before_request(authenticate)
    api.spec.components.security_scheme("bearerAuth", SECURITY_SCHEME)
    plugin = BearerAuthPlugin()
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
    if ring.enabled:
        admins = sum(key.admin for key in ring.keys)
        logger.info("API keys required on /v1 and /v2: %d key(s), %d admin",
                    len(ring.keys), admins)
    else:
        logger.warning(
            "AUTHENTICATION DISABLED: MLPQ_API_KEYS is empty, so anyone who can reach this API "
            "can train, read and delete every job and model. Fine on your own machine; set "
            "MLPQ_API_KEYS (see `mlpq keygen`) anywhere else.")


def requires_key(path: str) -> bool:
    if path in PUBLIC_PATHS:
        return False
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PROTECTED_PREFIXES)


def authenticate():
    """before_request: 401 unless a configured key is presented; sets g.owner and g.is_admin."""
    ring = services().keyring
    if not ring.enabled or not requires_key(request.path):
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise KeyRequired("An API key is required: send the header "
                          "'Authorization: Bearer <key>'.", 'Bearer realm="mlpq"')
    key = ring.match(credentials)
    if key is None:
        raise KeyRequired("The API key is not valid.", 'Bearer realm="mlpq", error="invalid_token"')
    g.owner, g.is_admin = key.name, key.admin
    return None


class KeyRequired(Unauthorized):
    """401 with its bearer challenge; raised, not returned, so that whatever renders the errors
    of the route asked for renders this one too (the V2 blueprint answers in its own shape)."""

    def __init__(self, message: str, challenge: str):
        super().__init__(message)
        self.challenge = challenge

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", self.challenge)]


def active_jobs_limit() -> int:
    """MLPQ_MAX_ACTIVE_JOBS_PER_KEY for this request's key; 0 (no limit) when the service is open."""
    if current_owner() is None:
        return 0
    return max(current_app.config.get("MAX_ACTIVE_JOBS_PER_KEY", 0), 0)


def too_many_active_jobs(error: ActiveJobLimit, adding: int = 1):
    """429 with Retry-After: the key has no room for `adding` more unfinished jobs.

    JobStore.create counts and creates in one atomic step, so the limit is a hard ceiling
    even for simultaneous submissions from one key.
    """
    wanted = f"; this request adds {adding}" if adding > 1 else ""
    abort(429, message=(
        f"This API key already has {error.active} queued or running job(s){wanted}, and may have "
        f"{error.limit} (MLPQ_MAX_ACTIVE_JOBS_PER_KEY={error.limit}); wait for one to finish "
        "or cancel one."),
        headers={"Retry-After": str(ACTIVE_JOBS_RETRY_AFTER_SECONDS)})


class BearerAuthPlugin(BasePlugin):
    """Marks /v1 operations as needing the bearer key and documents their 401 answer."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        if not path or not requires_key(path):
            return
        for operation in (operations or {}).values():
            operation["security"] = [{"bearerAuth": []}]
            operation.setdefault("responses", {}).setdefault("401", "UNAUTHORIZED")
