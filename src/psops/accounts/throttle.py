"""Login throttling that slows guessing without letting anyone lock a user out.

Failures are counted, within `LOGIN_THROTTLE["WINDOW_SECONDS"]`, for two keys:

- the username at the client's address: after `ATTEMPTS` failures each further attempt waits;
- the address, whatever usernames it tries: after `ADDRESS_ATTEMPTS` failures the same (password spraying).

The wait runs from the latest failure: `DELAY_SECONDS`, doubling with each further failure, at most
`MAX_DELAY_SECONDS`. There is deliberately no key for a username alone: failures for `dircs` from one address
never slow the real `dircs` at another, so nobody can lock a director or the administrator out. A successful login
forgets that username's failures from that address only; the address's failures for other usernames stay, so one
known password does not reset a spraying budget.

Failures are rows in the database (`LoginFailure`), so every web process and worker sees the same counts. Each
attempt writes its row before the password is checked (in autocommit, outside any transaction), so guesses made at
the same moment in other processes count it; the row is deleted again when the password was right or never checked.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone

from psops.core.errors import ApplicationError

from .models import LoginFailure

# 2 ** 20 times the first delay is far beyond any sensible maximum; stop doubling there.
_MAX_DOUBLINGS = 20


class LoginThrottled(ApplicationError):
    """Too many recent failures for this username here, or from this address: wait `wait_seconds`."""

    def __init__(self, *, wait_seconds: int) -> None:
        unit = "second" if wait_seconds == 1 else "seconds"
        super().__init__(code="login-throttled",
                         message=f"Too many failed attempts. Try again in {wait_seconds} {unit}.")
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class LoginAttempt:
    """An attempt allowed to check its password; its failure row is already written."""

    failure_id: int
    username: str
    address: str


def normal_username(username: str) -> str:
    return (username or "").strip().lower()[:150]


def _wait(count: int, last: dt.datetime | None, free: int, now: dt.datetime) -> float:
    """Seconds still to wait after `count` failures, the latest at `last`, when `free` are allowed."""
    if last is None or count < free:
        return 0.0
    conf = settings.LOGIN_THROTTLE
    delay = min(conf["MAX_DELAY_SECONDS"], conf["DELAY_SECONDS"] * 2 ** min(count - free, _MAX_DOUBLINGS))
    return max(0.0, (last + dt.timedelta(seconds=delay) - now).total_seconds())


def login_failures_prune(*, now: dt.datetime | None = None) -> int:
    """Delete failures older than the window (they no longer count). Returns how many."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.LOGIN_THROTTLE["WINDOW_SECONDS"])
    deleted, _ = LoginFailure.objects.filter(at__lt=cutoff).delete()
    return deleted


def login_attempt_begin(*, username: str, address: str) -> LoginAttempt:
    """Allow one password check for `username` from `address`, or refuse with LoginThrottled saying how long to
    wait. An allowed attempt is recorded as a failure until `login_attempt_succeeded` or `login_attempt_unchecked`
    says otherwise. A refused one is not recorded: it checked no password."""
    conf = settings.LOGIN_THROTTLE
    username, address = normal_username(username), (address or "")[:64]
    now = timezone.now()
    login_failures_prune(now=now)
    row = LoginFailure.objects.create(username=username, address=address, at=now)
    # Everything recorded before this attempt (ids come in order), including attempts still checking a password.
    earlier = (LoginFailure.objects
               .filter(address=address, at__gte=now - dt.timedelta(seconds=conf["WINDOW_SECONDS"]), id__lt=row.pk)
               .aggregate(address_count=Count("id"), address_last=Max("at"),
                          pair_count=Count("id", filter=Q(username=username)),
                          pair_last=Max("at", filter=Q(username=username))))
    wait = max(_wait(earlier["pair_count"], earlier["pair_last"], conf["ATTEMPTS"], now),
               _wait(earlier["address_count"], earlier["address_last"], conf["ADDRESS_ATTEMPTS"], now))
    if wait > 0:
        row.delete()
        raise LoginThrottled(wait_seconds=max(1, math.ceil(wait)))
    return LoginAttempt(failure_id=row.pk, username=username, address=address)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The password was right: forget this username's failures from this address (only those: the address's
    failures for other usernames keep counting)."""
    LoginFailure.objects.filter(Q(pk=attempt.failure_id) | Q(username=attempt.username, address=attempt.address)
                                ).delete()


def login_attempt_unchecked(attempt: LoginAttempt) -> None:
    """No password was checked (the form lacked a username or password): the attempt is not a failure."""
    LoginFailure.objects.filter(pk=attempt.failure_id).delete()
