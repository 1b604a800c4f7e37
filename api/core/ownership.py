"""Ownership: who a request acts for, and which jobs and models it may see.

api/core/auth.py sets g.owner to the caller's key id and g.is_admin for admin keys. With no keys
configured every request is anonymous (owner None) and sees everything.
"""

from flask import g
from flask_smorest import abort

from api.core.errors import not_found_message


def current_owner():
    """Owner recorded on what this request creates; None when the service runs open."""
    return g.get("owner")


def owner_filter():
    """Owner to restrict reads to; None means everything is visible."""
    if g.get("is_admin"):
        return None
    return current_owner()


def visible(record):
    """True when this request may see `record` (a job or model dict with an "owner")."""
    wanted = owner_filter()
    return wanted is None or record.get("owner") == wanted


def found_or_404(record, kind, reference):
    """`record` when this request may see it; else a 404 naming `kind` and `reference`, the
    same whether it does not exist or belongs to another key (which must look the same)."""
    if record is None or not visible(record):
        abort(404, message=not_found_message(kind, reference))
    return record
