"""`psops worker`: the database task worker (`db_worker` of django-tasks-db, same options) with task leases.

While it lives it writes a heartbeat; when it starts, and at every heartbeat, it puts back in the queue the tasks of
workers that died mid-task (see psops.core.taskqueue), and says so on its output."""

import logging
import os

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from psops.core.taskqueue import Heartbeat, logger


class _Output(logging.StreamHandler):
    """The worker's own output: replaced, not added to, each time the command runs (the tests run it in-process)."""


class Command(db_worker.Command):
    help = ("Run a task worker (django-tasks-db's db_worker) that keeps a heartbeat and takes up the tasks of workers "
            "that died (after PSOPS_TASK_LEASE_SECONDS).")

    def configure_logging(self, verbosity: int) -> None:
        super().configure_logging(verbosity)
        # Recoveries are always reported; the worker's start and stop from verbosity 1.
        logger.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG))
        for handler in [h for h in logger.handlers if isinstance(h, _Output)]:
            logger.removeHandler(handler)
        logger.addHandler(_Output(self.stdout))
        logger.propagate = False

    def handle(self, *args, **options) -> None:
        reloading = options["reload"] and not options["batch"]
        if reloading and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true":
            # This process only watches the code and restarts the one below it, which runs the tasks (and beats).
            return super().handle(*args, **options)
        self.configure_logging(options["verbosity"])
        try:
            heartbeat = Heartbeat(worker_id=options["worker_id"])
        except ValueError as e:
            raise CommandError(str(e), returncode=2) from e
        with heartbeat:
            super().handle(*args, **options)
