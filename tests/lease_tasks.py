"""A task for the task-lease tests (tests/test_worker_recovery.py). The app's own timers are rows of the timer table
now (psops.core.timers), not tasks; the lease still guards every task the worker takes, so the tests queue this one:
the approval service-level check, an idempotent service with an effect they can count.

Worker processes import it by its path (`tests.lease_tasks.service_level_task`): they run from the project's root with
it on PYTHONPATH."""

from django_tasks import task


@task()
def service_level_task(request_id: int) -> bool:
    from psops.approvals.services import approval_service_level_check

    return approval_service_level_check(request_id=request_id)
