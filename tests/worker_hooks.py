"""`python -m tests.worker_hooks [worker options]`: the real `psops worker`, made to hang at a chosen point of the
first task (or timer) it runs, so that a test can kill it there (tests/test_worker_recovery.py, tests/test_timers.py),
or to count the timer runs that took effect.

PSOPS_TEST_HANG=before  the worker has claimed the task (RUNNING) and hangs before running it;
PSOPS_TEST_HANG=after   the task has run and its effect is committed; the worker hangs before recording success;
PSOPS_TEST_HANG=timer   the first timer of a sweep has run, its effect written in the batch's transaction, which the
                        worker holds open while it hangs (tests/test_timers.py).

When it hangs it writes the task's id (the timer's) to PSOPS_TEST_HANG_FILE. Its heartbeat goes on meanwhile, as a
real worker's does during a long task.

PSOPS_TEST_TIMER_RUNS=1: each timer run that succeeds also writes a timeline event `test.timer_ran` on the timer, in
the batch's transaction: it commits when, and only when, the timer's own effect and done mark commit, so the tests
count the runs that took effect, which the handlers' idempotence would otherwise hide.

Test-only: nothing in src/ knows of it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def hang(task_id: Any) -> None:
    marker = Path(os.environ["PSOPS_TEST_HANG_FILE"])
    partial = marker.with_suffix(".partial")
    partial.write_text(str(task_id))
    partial.rename(marker)  # the test never reads half a file
    while True:
        time.sleep(60)


def install(point: str) -> None:
    from django_tasks_db.compat import task_started
    from django_tasks_db.models import DBTaskResult

    from psops.core import timers

    if point == "before":
        task_started.connect(lambda sender, task_result, **kwargs: hang(task_result.id), weak=False)
    elif point == "after":
        DBTaskResult.set_successful = lambda self, return_value: hang(self.id)  # type: ignore[method-assign]
    elif point == "timer":
        run = timers._run

        def run_then_hang(timer, handler):
            result = run(timer, handler)
            hang(timer.pk)
            return result

        timers._run = run_then_hang
    else:
        raise SystemExit(f"PSOPS_TEST_HANG must be 'before', 'after' or 'timer', not {point!r}")


def count_timer_runs() -> None:
    from psops.activity.services import event_record
    from psops.core import timers

    run = timers._run

    def counted(timer, handler):
        outcome, error = run(timer, handler)
        if error is None:
            event_record(actor=None, subject=timer, verb="test.timer_ran", message=f"{timer} ran: {outcome}")
        return outcome, error

    timers._run = counted


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psops.settings")
    import django

    django.setup()
    if os.environ.get("PSOPS_TEST_TIMER_RUNS"):
        count_timer_runs()
    if os.environ.get("PSOPS_TEST_HANG"):
        install(os.environ["PSOPS_TEST_HANG"])
    from django.core.management import execute_from_command_line

    execute_from_command_line(["psops", "worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
