"""One place to ask "may this user do this to this record" from a service."""

from __future__ import annotations

from typing import Any

from .errors import ApplicationError


def require(user: Any, perm: str, obj: Any = None, *, message: str | None = None) -> None:
    """Refuse with a `forbidden` error unless `user` holds `perm` (a rules predicate) on `obj`."""
    if user is None or not getattr(user, "is_active", False) or not user.has_perm(perm, obj):
        who = getattr(user, "username", "anonymous")
        act = perm.split(".", 1)[-1].replace("_", " ")
        raise ApplicationError(code="forbidden", message=message or f"{who} may not {act}.")
