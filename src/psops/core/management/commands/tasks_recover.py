"""`psops tasks_recover`: report the tasks held by workers that died, and put them back in the queue.

Exit status: 0 when nothing is stale or every stale task went back in the queue; 1 when `--check` finds stale tasks,
or when a task was given up (marked failed after PSOPS_TASK_MAX_ATTEMPTS dead workers); 2 on bad input."""

from django.core.management.base import BaseCommand, CommandError
from django_tasks_db.models import DBTaskResult

from psops.core.taskqueue import stale_task_list, stale_task_recover, task_lease


class Command(BaseCommand):
    help = ("Report RUNNING tasks whose worker is gone (not heard from for the lease, stopped or restarted) and put "
            "them back in the queue. Exit 1 with --check when there are any, or when a task was given up.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="Only report stale tasks; exit 1 when there are any (for monitoring).")
        parser.add_argument("--lease", type=str, default=None, metavar="SECONDS",
                            help="How long a worker may be silent before its task is taken up (default: "
                                 "PSOPS_TASK_LEASE_SECONDS). 0 takes up every running task: use it only when no "
                                 "worker is running.")

    def handle(self, *args, check: bool = False, lease: str | None = None, **options):
        seconds = None
        if lease is not None:
            try:
                seconds = float(lease)
            except ValueError:
                seconds = -1.0
            if not seconds >= 0:  # also refuses nan
                raise CommandError(f"--lease must be a number of seconds, 0 or more (got '{lease}').", returncode=2)
        window = task_lease(seconds)
        running = DBTaskResult.objects.running().count()
        if check:
            stale = stale_task_list(lease=window)
            for task in stale:
                self.stdout.write(f"stale {task.describe()}")
            if stale:
                raise CommandError(f"{len(stale)} of {running} running task(s) stale (lease {window.total_seconds():g}"
                                   " s); `psops tasks_recover` puts them back in the queue.", returncode=1)
            self.stdout.write(f"No stale tasks ({running} running, lease {window.total_seconds():g} s).")
            return
        recovered = stale_task_recover(lease=window)
        for recovery in recovered:
            self.stdout.write(f"{recovery.outcome} {recovery.describe()}")
        requeued = sum(r.outcome == "requeued" for r in recovered)
        abandoned = len(recovered) - requeued
        if abandoned:
            raise CommandError(f"{requeued} task(s) put back in the queue; {abandoned} given up (marked failed): "
                               "see their traceback in the admin.", returncode=1)
        if requeued:
            self.stdout.write(f"{requeued} stale task(s) put back in the queue.")
        else:
            self.stdout.write(f"No stale tasks ({running} running, lease {window.total_seconds():g} s).")
