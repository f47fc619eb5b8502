from __future__ import annotations

from django.db import transaction
from django_tasks import task


@task()
def passive_acceptance_task(request_id: int) -> bool:
    from .services import acceptance_passive

    return acceptance_passive(request_id=request_id)


def schedule_passive_acceptance(request) -> None:
    at, pk = request.passive_at, request.pk
    transaction.on_commit(lambda: passive_acceptance_task.using(run_after=at).enqueue(pk))
