"""`psops prune [--keep-days N]`: delete done timers, successful tasks and stopped workers older than N days (30).

For cron, e.g. once a night. Timers given up and failed tasks are kept for somebody to read. Exit status: 0 when done,
2 on bad input."""

from django.core.management.base import BaseCommand, CommandError

from psops.core.housekeeping import KEEP_DAYS, prune


class Command(BaseCommand):
    help = ("Delete done timers, successful tasks and stopped or lost workers older than --keep-days (default 30). "
            "Timers given up and failed tasks are kept.")

    def add_arguments(self, parser):
        parser.add_argument("--keep-days", default=str(KEEP_DAYS), metavar="N",
                            help=f"keep what was done in the last N days (a whole number, 1 or more; default "
                                 f"{KEEP_DAYS})")

    def handle(self, *args, keep_days: str, **options):
        if not (keep_days.isdigit() and 1 <= int(keep_days) <= 36500):
            raise CommandError(f"--keep-days must be a whole number of days from 1 to 36500 (got '{keep_days}').",
                               returncode=2)
        counts = prune(keep_days=int(keep_days))
        self.stdout.write(f"Deleted {counts['timers']:,} done timers, {counts['tasks']:,} finished tasks and "
                          f"{counts['workers']:,} stopped workers older than {keep_days} days.")
        more = {name: n for name, n in counts.items() if name not in ("timers", "tasks", "workers") and n}
        if more:
            self.stdout.write("Also deleted " + ", ".join(f"{n:,} {name}" for name, n in more.items()) + ".")
