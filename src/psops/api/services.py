"""Personal API tokens: made, found and revoked here, each change with its timeline event.

A token reads `psops_<prefix>_<secret>`. Only its SHA-256 is stored, so a copy of the database gives no way in; the
whole token is shown once, when made. A token acts as its owner: the same roles, reach and checks as the pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from psops.accounts import roles
from psops.activity.services import event_record
from psops.core.errors import ApplicationError

from .models import ApiToken

TOKEN_START = "psops_"
MAX_TOKENS_PER_USER = 50  # active ones: enough for every script a person runs, bounded for the list page
MAX_LIFETIME_DAYS = 366 * 2
LAST_USED_EVERY = dt.timedelta(minutes=5)  # how stale `last_used_at` may get: not one write per request


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_manage_every_token(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or roles.has_role(user, roles.ADMINISTRATOR)


def token_create_check(*, user: Any) -> None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise ApplicationError(code="forbidden", message="Sign in to make an API token.")
    if not roles.roles_of(user) and not user.is_superuser:
        raise ApplicationError(code="forbidden",
                               message="An account without a role has nothing to reach through the API.")


def token_create(*, user: Any, name: str, expires_on: dt.date | None = None) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the row and the whole token, which is never shown again."""
    token_create_check(user=user)
    name = (name or "").strip()
    if not name:
        raise ApplicationError(code="invalid-name", message="Name the token after what will use it.", field="name")
    if len(name) > 100:
        raise ApplicationError(code="invalid-name", message="A token's name has at most 100 characters.",
                               field="name")
    today = timezone.localdate()
    expires_at = None
    if expires_on is not None:
        if expires_on <= today:
            raise ApplicationError(code="invalid-expiry", message="The expiry must be a day after today.",
                                   field="expires_on")
        if expires_on > today + dt.timedelta(days=MAX_LIFETIME_DAYS):
            raise ApplicationError(code="invalid-expiry",
                                   message=f"A token lives at most {MAX_LIFETIME_DAYS} days.", field="expires_on")
        # valid through the whole of that day, where the firm is
        expires_at = timezone.make_aware(dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time.min))
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        active = (ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
                  .exclude(expires_at__lte=timezone.now()))
        if active.count() >= MAX_TOKENS_PER_USER:
            raise ApplicationError(code="too-many-tokens",
                                   message=f"You have {MAX_TOKENS_PER_USER} active tokens: revoke one first.")
        row = ApiToken.objects.create(user=user, name=name, prefix=prefix, digest=digest_of(token),
                                      expires_at=expires_at)
        until = f", until the end of {expires_on.isoformat()}" if expires_on else ", with no expiry"
        event_record(actor=user, subject=row, verb="api_token.created",
                     message=f"{user} made the API token '{name}' ({prefix}){until}")
    return row, token


def token_revoke_check(*, user: Any, token: ApiToken) -> None:
    if token.user_id != user.pk and not may_manage_every_token(user):
        raise ApplicationError(code="forbidden", message="Only its owner or an administrator revokes a token.")
    if token.revoked_at is not None:
        raise ApplicationError(code="not-now", message="That token is revoked already.")


def token_revoke(*, user: Any, token: ApiToken) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        token_revoke_check(user=user, token=token)
        token.revoked_at = timezone.now()
        token.revoked_by = user
        token.save(update_fields=["revoked_at", "revoked_by"])
        event_record(actor=user, subject=token, verb="api_token.revoked",
                     message=f"{user} revoked the API token '{token.name}' ({token.prefix}) of {token.user}")
    return token


def user_of_token(token: str) -> Any | None:
    """The active person a presented token stands for, or None (unknown, revoked, expired, or its owner inactive).
    One query; `last_used_at` is written at most every few minutes."""
    if not token.startswith(TOKEN_START) or len(token) > 200:
        return None
    row = (ApiToken.objects.select_related("user").filter(digest=digest_of(token), revoked_at__isnull=True)
           .first())
    now = timezone.now()
    if row is None or (row.expires_at is not None and row.expires_at <= now) or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user
