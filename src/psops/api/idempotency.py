"""`Idempotency-Key` for the API's POSTs: a replay with the same key and request returns the first answer and does
nothing; the same key with another request is refused (422).

The key row is written first, in the same transaction as the act. A second request with the key, sent while the
first runs, waits on that row's unique index (PostgreSQL) or the database lock (SQLite) until the first commits,
then reads its answer: two concurrent POSTs with one key have one effect. A refused act rolls its key row back with
everything else, so a retry after a refusal runs again (the refusal changed nothing). Keys are the caller's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from ninja import Status

from psops.core.errors import ApplicationError

from .models import IdempotentRequest

HEADER = "Idempotency-Key"
LONGEST_KEY = 255


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() if request.method else b"")
    digest.update(b"\0" + request.path.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _key_of(request: HttpRequest) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > LONGEST_KEY or not key.isprintable():
        raise ApplicationError(code="bad-request", field=HEADER,
                               message=f"{HEADER}: 1 to {LONGEST_KEY} printable characters.")
    return key


def once(request: HttpRequest, run: Callable[[], tuple[int, dict]], *, fingerprint: str | None = None) -> Status:
    """Answer `run()` (status, body) once per key; a replay gets the stored answer. `fingerprint`: what identifies
    the request when its body cannot be read again (a file upload, already parsed: its name, size and bytes)."""
    key = _key_of(request)
    if key is None:
        return Status(*run())
    user = request.auth  # type: ignore[attr-defined]
    if fingerprint is None:
        fingerprint = _fingerprint(request)
    else:
        fingerprint = hashlib.sha256(f"{request.method}\0{request.path}\0{fingerprint}".encode()).hexdigest()
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = IdempotentRequest.objects.create(user=user, key=key, fingerprint=fingerprint)
        except IntegrityError:
            row = IdempotentRequest.objects.get(user=user, key=key)
            if row.fingerprint != fingerprint:
                raise ApplicationError(
                    code="idempotency-key-reused", field=HEADER,
                    message=f"This {HEADER} was used for another request; use a new key for a new request.",
                ) from None
            return Status(row.status or 200, row.body)
        status, body = run()
        row.status, row.body = status, body
        row.save(update_fields=["status", "body"])
    return Status(status, body)
