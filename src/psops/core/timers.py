"""Timers: work due at a moment, kept as rows of `core.Timer` and swept in batches (docs/decisions/0012-timer-table.md).

Each app arms its timers with `timer_schedule` (from its `schedule_*` functions) and registers, in its `tasks`
module, the handler of each kind with `@timer_handler(kind)`: a function of the record's id that calls the service
acting on the record, which checks the record's state again and acts once.

`timer_sweep` runs a batch: in one transaction it claims the due timers that are not done (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so several workers take different timers; SQLite has a single writer), runs each handler in
a savepoint of that transaction, and marks each timer done in the same transaction. A timer's effect and its done
mark therefore commit together or not at all: a worker that dies mid-batch leaves every timer of the batch waiting,
and the batch simply runs again. A handler that raises is rolled back to its savepoint alone, so the others of the
batch still run; its timer is tried again later, then given up (`Timer.FAILED`) after `MAX_ATTEMPTS` failures.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from collections import defaultdict
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from .business_days import calendar_shared
from .models import Timer

logger = logging.getLogger("psops.timers")

BATCH = 200
MAX_ATTEMPTS = 5
RETRY_AFTER = dt.timedelta(minutes=1)  # after the first failure; doubled after each further one
ERROR_CHARS = 4000  # the end of the traceback kept on the timer

Handler = Callable[[int], Any]
_handlers: dict[str, Handler] = {}
_discovered = False


def timer_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs timers of `kind`: it is given the record's id and returns what it did."""
    kind = Timer.Kind(kind).value

    def register(handler: Handler) -> Handler:
        known = _handlers.get(kind)
        if known is not None and _name(known) != _name(handler):
            raise ValueError(f"Timer kind '{kind}' has a handler already: {_name(known)}.")
        _handlers[kind] = handler
        return handler

    return register


def _name(handler: Handler) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


def timer_handlers() -> dict[str, Handler]:
    """Every kind's handler. The apps register theirs in their `tasks` modules, imported here once, so that a worker
    knows them all whichever services it has imported."""
    global _discovered
    if not _discovered:
        for config in apps.get_app_configs():
            if config.name.startswith("psops.") and module_has_submodule(config.module, "tasks"):
                import_module(f"{config.name}.tasks")
        _discovered = True
    return dict(_handlers)


def timer_schedule(*, kind: str, subject_id: int, due_at: dt.datetime) -> None:
    """Arm a timer of `kind` for the record `subject_id`, due at `due_at`.

    It is written in the caller's transaction, so it exists exactly when the change that armed it commits (an
    enqueue after the commit could be lost with the process in between). Arming the same timer (kind, record and
    moment) again while it waits adds nothing: a handler run twice does not arm two successors."""
    Timer.objects.bulk_create([Timer(kind=Timer.Kind(kind), subject_id=subject_id, due_at=due_at)],
                              ignore_conflicts=True)


def timers_due(now: dt.datetime):
    """The timers that are due at `now` and not done, in due order (read through the `timer_due` index)."""
    return (Timer.objects.filter(done_at__isnull=True, due_at__lte=now)
            .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now)).order_by("due_at", "id"))


def timer_sweep(*, batch: int = BATCH, now: dt.datetime | None = None) -> int:
    """Run up to `batch` due timers, oldest first, in one transaction; returns how many it took (run, or failed and
    left to retry or given up). 0 when none is due, or when every due one is being swept by another worker.

    The administrator's calendar is read once for the batch, not once per timer."""
    handlers = timer_handlers()
    with transaction.atomic():
        # The time is taken once the transaction holds the database: SQLite may have made it wait for its turn.
        at = now or timezone.now()
        timers = list(timers_due(at).select_for_update(skip_locked=True)[:batch])
        if not timers:
            return 0
        done: dict[str, list[int]] = defaultdict(list)
        with calendar_shared():
            for timer in timers:
                outcome, error = _run(timer, handlers.get(timer.kind))
                if error is None:
                    done[outcome].append(timer.pk)
                else:
                    _failed(timer, error, at)
        # One update per distinct outcome, not one per timer.
        for outcome, ids in done.items():
            Timer.objects.filter(pk__in=ids).update(done_at=at, outcome=outcome, retry_at=None)
    return len(timers)


def _run(timer: Timer, handler: Handler | None) -> tuple[str, str | None]:
    """Run one timer's handler in a savepoint: (what it returned, as text; None), or ("", the error) when it raised,
    its changes rolled back."""
    try:
        if handler is None:
            raise LookupError(f"No handler is registered for timers of kind '{timer.kind}'.")
        with transaction.atomic():
            value = handler(timer.subject_id)
    except Exception as error:  # any failure of one timer is recorded on it; the batch goes on
        text = "".join(traceback.format_exception(error))
        return "", text[-ERROR_CHARS:]
    return (value if isinstance(value, str) else json.dumps(value, default=str))[:40], None


def _failed(timer: Timer, error: str, at: dt.datetime) -> None:
    """A failed run: tried again after a delay that doubles each time, given up after MAX_ATTEMPTS failures (the
    timer's record of the timeline says so)."""
    attempts = timer.attempts + 1
    summary = error.strip().splitlines()[-1][:200] if error.strip() else "unknown error"
    if attempts < MAX_ATTEMPTS:
        retry_at = at + RETRY_AFTER * 2 ** (attempts - 1)
        Timer.objects.filter(pk=timer.pk).update(attempts=attempts, last_error=error, retry_at=retry_at)
        logger.warning("Timer %s (%s) failed (attempt %s of %s), trying again from %s: %s", timer.pk, timer,
                       attempts, MAX_ATTEMPTS, retry_at.isoformat(), summary)
        return
    from psops.activity.services import event_record

    Timer.objects.filter(pk=timer.pk).update(attempts=attempts, last_error=error, retry_at=None, done_at=at,
                                             outcome=Timer.FAILED)
    event_record(actor=None, subject=timer, verb="timer.failed",
                 message=f"{timer} given up after {attempts} failed attempts: {summary}",
                 data={"kind": timer.kind, "subject_id": timer.subject_id, "attempts": attempts})
    logger.error("Timer %s (%s) given up after %s failed attempts: %s\n%s", timer.pk, timer, attempts, summary,
                 error)
