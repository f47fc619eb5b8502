"""The steps of the process whose time the dashboards measure, and their clocks.

A step starts with the first timeline event of its start verb on a record and ends with the first of its end verb on
the same record. `event_record` asks `clock` with every event it writes; only these verbs cost anything (one or two
queries), and the dashboards read finished clocks' durations through an index rather than the whole timeline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psops.core.business_days import Calendar, local_date

from .models import StepClock


@dataclass(frozen=True)
class Step:
    code: str
    label: str
    start: str  # timeline verb
    end: str


STEPS = [
    Step("rom", "ROM built → approved", "rom.created", "rom.approved"),
    Step("quote", "Quote sent → accepted", "quote.sent", "quote.accepted"),
    Step("sow", "SOW drafted → signed", "sow.created", "sow.signed"),
    Step("project", "Project → completed", "project.created", "project.completed"),
]
STARTED_BY = {s.start: s.code for s in STEPS}
ENDED_BY = {s.end: s.code for s in STEPS}


def clock(*, verb: str, subject_type: Any, subject_id: int, thread: Any, at: dt.datetime) -> None:
    """Start or stop the clock of the step `verb` begins or ends on this record (later starts and ends are kept out:
    the step is measured from its first start to its first end)."""
    if verb in STARTED_BY:
        StepClock.objects.get_or_create(step=STARTED_BY[verb], subject_type=subject_type, subject_id=subject_id,
                                        defaults={"thread": thread, "started_at": at})
    if verb in ENDED_BY:
        running = StepClock.objects.filter(step=ENDED_BY[verb], subject_type=subject_type, subject_id=subject_id,
                                           ended_at__isnull=True).first()
        if running is not None and at >= running.started_at:
            running.ended_at = at
            running.seconds = int((at - running.started_at).total_seconds())
            running.business_days = Calendar.current().business_days_between(local_date(running.started_at),
                                                                             local_date(at))
            running.save(update_fields=["ended_at", "seconds", "business_days"])
