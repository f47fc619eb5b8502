"""`psops worker`: the database task worker (`db_worker` of django-tasks-db, same options) with task leases, which
also sweeps the timer table.

Each poll first sweeps a batch of due timers (psops.core.timers), then takes one task. With `--batch` it exits once
a poll finds no timer due and no task ready. While it lives it writes a heartbeat; when it starts, and at every
heartbeat, it puts back in the queue the tasks of workers that died mid-task (see psops.core.taskqueue), and says so
on its output."""

import logging
import os
import random
import time

from django.core.management.base import CommandError
from django.db import OperationalError, close_old_connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from psops.core.taskqueue import Heartbeat, logger, sweeps
from psops.core.timers import timer_sweep


class _Output(logging.StreamHandler):
    """The worker's own output: replaced, not added to, each time the command runs (the tests run it in-process)."""


class Worker(db_worker.Worker):
    """django-tasks-db's worker, its poll extended: first a batch of due timers, then one task."""

    def run(self) -> None:
        logger.info("Worker %s polling timers and queues %s every %g s", self.worker_id, ",".join(self.queue_names),
                    self.interval)
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # spreads workers started together
        while self.running:
            close_old_connections()
            swept = self.sweep()
            if not self.running:  # asked to stop during the sweep: it has committed; take no task
                return
            task, polled = self.take_task()
            if task is not None:
                self.run_task(task)
            elif self.batch and polled and swept == 0:
                logger.info("Worker %s: no timer due and no task ready; exiting.", self.worker_id)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                logger.info("Worker %s ran its %d tasks; exiting.", self.worker_id, self._run_tasks)
                return
            close_old_connections()
            if self.running and task is None and not swept:
                time.sleep(self.interval)

    def sweep(self) -> int | None:
        """One batch of due timers, then one of each registered sweep (the documents waiting to be generated): how
        many were taken, or None when the database was busy (SQLite: another
        writer held it for longer than the timeout), which is not "none due"."""
        # A stop signal (SIGTERM, Ctrl-C) waits for the batch to commit, as it waits for a running task.
        self.running_task = True
        try:
            return timer_sweep() + sum(sweep() for sweep in sweeps())
        except OperationalError as error:
            if not is_locked_database_exception(error):
                raise
            logger.warning("Worker %s: the database was busy; sweeping the timers again at the next poll.",
                           self.worker_id)
            return None
        finally:
            self.running_task = False

    def take_task(self) -> tuple[DBTaskResult | None, bool]:
        """Claim the next ready task, if any: (the task or None, whether the queue could be read at all)."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        try:
            with exclusive_transaction(tasks.db):
                task = tasks.get_locked()
                if task is not None:
                    task.claim(self.worker_id)  # RUNNING under this worker: no other takes it
        except OperationalError as error:
            if not is_locked_database_exception(error):
                raise
            return None, False
        return task, True


class Command(db_worker.Command):
    help = ("Run a task worker (django-tasks-db's db_worker) that sweeps the due timers, keeps a heartbeat and takes "
            "up the tasks of workers that died (after PSOPS_TASK_LEASE_SECONDS).")

    def configure_logging(self, verbosity: int) -> None:
        super().configure_logging(verbosity)
        # Recoveries and failed timers are always reported; the worker's start and stop from verbosity 1.
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
        for name in (logger.name, "psops.timers"):
            log = logging.getLogger(name)
            log.setLevel(level)
            for handler in [h for h in log.handlers if isinstance(h, _Output)]:
                log.removeHandler(handler)
            log.addHandler(_Output(self.stdout))
            log.propagate = False

    def handle(self, *args, **options) -> None:
        reloading = options["reload"] and not options["batch"]
        if reloading and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true":
            # This process only watches the code and restarts the one below it, which runs the tasks (and beats).
            return super().handle(*args, **options)
        self.configure_logging(options["verbosity"])
        queue_names = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*", returncode=2)
        worker = Worker(queue_names=queue_names, interval=options["interval"], batch=options["batch"],
                        backend_name=options["backend_name"], startup_delay=options["startup_delay"],
                        max_tasks=options["max_tasks"], worker_id=options["worker_id"],
                        excluded_queue_names=excluded)
        try:
            heartbeat = Heartbeat(worker_id=options["worker_id"])
        except ValueError as e:
            raise CommandError(str(e), returncode=2) from e
        with heartbeat:
            worker.configure_signals()
            if reloading:
                run_with_reloader(worker.run)
            else:
                worker.run()
