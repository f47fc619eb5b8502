"""The passive-acceptance timer (psops.core.timers): work the customer left unanswered past its deadline is
accepted."""

from __future__ import annotations

from psops.core.models import Timer
from psops.core.timers import timer_handler, timer_schedule


@timer_handler(Timer.Kind.PASSIVE_ACCEPTANCE)
def passive_acceptance_timer(request_id: int) -> bool:
    from .services import acceptance_passive

    return acceptance_passive(request_id=request_id)


def schedule_passive_acceptance(request) -> None:
    timer_schedule(kind=Timer.Kind.PASSIVE_ACCEPTANCE, subject_id=request.pk, due_at=request.passive_at)
