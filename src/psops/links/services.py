"""Issuing, resolving and using the customer's private links.

A link is `<random token>.<signature>`: the token is 32 random bytes (`secrets.token_urlsafe`), stored only as its
SHA-256 hash; the signature (django.core.signing, salted per purpose) lets an altered or made-up URL be refused
before the database is asked anything. A link serves one purpose for one subject, expires after
`PSOPS["LINK_DAYS"]` days, works once, and stops working when a fresh one is sent for the same thing.

This app imports no domain app: the domain's send services call `link_issue` inside their own transaction, and the
customer portal calls `link_use` to consume the link in the same transaction as the customer's act.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from psops.core.business_days import last_day, local_date, start_of_day
from psops.core.client import public_base_url
from psops.core.errors import ApplicationError

from .models import CustomerLink

T = TypeVar("T")
PURPOSES = CustomerLink.Purpose
# A genuine link is about 90 characters; anything much longer is not worth checking.
MAX_TOKEN_LENGTH = 200


class LinkRefused(ApplicationError):
    """A link that cannot be used: unknown (altered or never issued), expired, used or revoked. Carries the link when
    one was found, so the page can say when it was used and whom to ask for a new one."""

    def __init__(self, *, code: str, message: str, link: CustomerLink | None = None) -> None:
        super().__init__(code=code, message=message)
        self.link = link


def _signer(purpose: str) -> signing.Signer:
    return signing.Signer(salt=f"psops.links.{purpose}", sep=".")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def link_url(token: str) -> str:
    """The full address of a link: PSOPS_BASE_URL, else the address of the request being served, else the default."""
    return public_base_url() + reverse("portal:open", kwargs={"token": token})


def _unknown() -> LinkRefused:
    return LinkRefused(code="link-unknown", message="This link is not valid: it may have been copied incompletely "
                                                    "or changed.")


def _check_usable(link: CustomerLink, now: dt.datetime) -> None:
    if link.used_at is not None:
        raise LinkRefused(code="link-used", link=link,
                          message=f"This link was already used on {timezone.localtime(link.used_at):%Y-%m-%d %H:%M %Z}"
                                  "; each link works once.")
    if link.revoked_at is not None:
        raise LinkRefused(code="link-revoked", link=link,
                          message="This link was replaced by a newer one; use the link in the latest e-mail.")
    if link.expires_at <= now:
        raise LinkRefused(code="link-expired", link=link,
                          message=f"This link expired on {timezone.localtime(link.expires_at):%Y-%m-%d}.")


LINK_MAX_DAYS = 366  # no customer link lives longer, whatever it carries


def link_issue(*, subject: models.Model, purpose: str, contact: Any, email_to: str, text: str,
               email_subject: str = "", attachments: Sequence[tuple[str, bytes, str]] = (),
               expires_at: dt.datetime | None = None) -> str:
    """Create a link for `contact` to act on `subject` for `purpose`, e-mail it once the surrounding transaction
    commits, and return its URL. Any earlier unused link for the same subject and purpose stops working: only the
    latest e-mail counts. Call it inside the transaction of the act that sends the thing. `attachments` are
    (file name, bytes, MIME type): the documents the e-mail carries. `expires_at` replaces the default lifetime
    (PSOPS["LINK_DAYS"]) where the thing sent has a life of its own (a quote lives until its validity ends), at most
    LINK_MAX_DAYS."""
    if purpose not in PURPOSES.values:
        raise ApplicationError(code="invalid-purpose", message=f"Unknown link purpose '{purpose}'.")
    if not (email_to or "").strip() or "@" not in email_to:
        raise ApplicationError(code="no-email", message=f"{contact} has no e-mail address to send the link to.",
                               field="contact")
    raw = secrets.token_urlsafe(32)
    token = _signer(purpose).sign(raw)
    now = timezone.now()
    if expires_at is None:  # whole days: the link works to the end of the LINK_DAYS-th day after today
        expires_at = start_of_day(local_date(now) + dt.timedelta(days=settings.PSOPS["LINK_DAYS"] + 1))
    expires_at = min(expires_at, now + dt.timedelta(days=LINK_MAX_DAYS))
    subject_type = ContentType.objects.get_for_model(subject)
    with transaction.atomic():
        CustomerLink.objects.filter(subject_type=subject_type, subject_id=subject.pk, purpose=purpose,
                                    used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
        CustomerLink.objects.create(subject_type=subject_type, subject_id=subject.pk, purpose=purpose,
                                    contact=contact, email=email_to.strip(), token_hash=_hash(raw),
                                    expires_at=expires_at)
        url = link_url(token)
        body = (f"{text.strip()}\n\n{url}\n\n"
                f"This private link is for you alone and needs no account. It works once, until the end of "
                f"{last_day(expires_at):%Y-%m-%d}. Do not forward it.")
        title = email_subject or PURPOSES(purpose).label
        message = EmailMessage(title, body, None, [email_to.strip()], attachments=list(attachments))
        # robust: a mail server failure after the commit is logged, never turned into an error for the sender.
        transaction.on_commit(message.send, robust=True)
    return url


def link_revoke(*, subject: models.Model) -> int:
    """Every unused link to `subject` stops working (the thing it offered was withdrawn). Returns how many."""
    return CustomerLink.objects.filter(subject_type=ContentType.objects.get_for_model(subject), subject_id=subject.pk,
                                       used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=timezone.now())


def link_resolve(token: str, purpose: str | None = None) -> CustomerLink:
    """The live link behind `token` (of `purpose` when given), or a refusal: link-unknown (altered, for another
    purpose, or never issued), link-used, link-revoked or link-expired. Reads only; changes nothing."""
    token = token or ""
    if len(token) > MAX_TOKEN_LENGTH:
        raise _unknown()
    raw = found = None
    for candidate in [purpose] if purpose else PURPOSES.values:
        try:
            raw = _signer(candidate).unsign(token)
        except signing.BadSignature:
            continue
        found = candidate
        break
    if raw is None:  # altered or forged: refused without a database query
        raise _unknown()
    link = (CustomerLink.objects.select_related("contact__account", "subject_type")
            .filter(token_hash=_hash(raw), purpose=found).first())
    if link is None:
        raise _unknown()
    _check_usable(link, timezone.now())
    return link


def link_consume(link: CustomerLink) -> CustomerLink:
    """Mark the link used. Exactly one of two simultaneous uses wins (the update is conditional); the other is
    refused with link-used. Call it inside the transaction of the customer's act, so a refused act leaves the link
    unused."""
    now = timezone.now()
    with transaction.atomic():
        used = (CustomerLink.objects.filter(pk=link.pk, used_at__isnull=True, revoked_at__isnull=True,
                                            expires_at__gt=now).update(used_at=now))
        if not used:
            _check_usable(CustomerLink.objects.get(pk=link.pk), now)
            raise LinkRefused(code="link-used", link=link, message="This link was already used.")  # pragma: no cover
        link.used_at = now
    return link


def link_use(link: CustomerLink, act: Callable[[], T]) -> T:
    """Run the customer's act and consume the link in one transaction: both happen, or neither."""
    used_before = link.used_at
    try:
        with transaction.atomic():
            link_consume(link)
            return act()
    except BaseException:
        link.used_at = used_before  # rolled back with the act
        raise
