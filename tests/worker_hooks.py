"""`python -m tests.worker_hooks [worker options]`: the real `psops worker`, made to hang at a chosen point of the
first task it runs, so that a test can kill it there (tests/test_worker_recovery.py).

PSOPS_TEST_HANG=before  the worker has claimed the task (RUNNING) and hangs before running it;
PSOPS_TEST_HANG=after   the task has run and its effect is committed; the worker hangs before recording success.

When it hangs it writes the task's id to PSOPS_TEST_HANG_FILE. Its heartbeat goes on meanwhile, as a real worker's
does during a long task. Test-only: nothing in src/ knows of it.
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

    if point == "before":
        task_started.connect(lambda sender, task_result, **kwargs: hang(task_result.id), weak=False)
    elif point == "after":
        DBTaskResult.set_successful = lambda self, return_value: hang(self.id)  # type: ignore[method-assign]
    else:
        raise SystemExit(f"PSOPS_TEST_HANG must be 'before' or 'after', not {point!r}")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psops.settings")
    import django

    django.setup()
    install(os.environ.get("PSOPS_TEST_HANG", ""))
    from django.core.management import execute_from_command_line

    execute_from_command_line(["psops", "worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
