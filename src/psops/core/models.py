from django.db import models
from django.utils import timezone


class Holiday(models.Model):
    """A company-wide day off added by the administrator, on top of the country's public holidays."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class TaskWorker(models.Model):
    """A task worker process (`psops worker`), known by the heartbeat it writes while it lives.

    A task it claimed is taken up again once it has not been heard from for the lease (psops.core.taskqueue)."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"
        LOST = "lost", "Lost"

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["state", "seen_at"])]

    def __str__(self) -> str:
        where = f" on {self.hostname} (pid {self.pid})" if self.hostname else ""
        return f"worker {self.worker_id}{where}"


class Timer(models.Model):
    """Work due at a moment: run once by the timer sweep of `psops worker` (psops.core.timers), which calls the
    kind's handler with `subject_id` and records what it returned. The handlers are the services that act on the
    record, each idempotent: they check its state again when they run.

    A waiting timer is not done (`done_at` is empty); it becomes done when its handler has run (`outcome` is what it
    returned), or when it failed too often (`outcome` "failed", `last_error` says why)."""

    class Kind(models.TextChoices):
        QUOTE_EXPIRY = "quote-expiry", "Quote expiry"
        OPPORTUNITY_INACTIVITY = "opportunity-inactivity", "Opportunity inactivity"
        PASSIVE_ACCEPTANCE = "passive-acceptance", "Passive acceptance"
        APPROVAL_SERVICE_LEVEL = "approval-service-level", "Approval service level"

    FAILED = "failed"  # the outcome of a timer given up after its handler failed on every attempt

    kind = models.CharField(max_length=32, choices=Kind.choices)
    subject_id = models.PositiveBigIntegerField()
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # runs that failed
    retry_at = models.DateTimeField(null=True, blank=True)  # after a failed run: not before this moment
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # Arming the same timer again while it waits adds nothing (psops.core.timers.timer_schedule).
            models.UniqueConstraint(fields=["kind", "subject_id", "due_at"], condition=models.Q(done_at__isnull=True),
                                    name="one_waiting_timer"),
            models.CheckConstraint(condition=models.Q(done_at__isnull=False) | models.Q(outcome=""),
                                   name="timer_outcome_when_done"),
        ]
        # The sweep reads the waiting timers in due order through this index; done ones stay out of it.
        indexes = [models.Index(fields=["due_at", "id"], name="timer_due", condition=models.Q(done_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.subject_id} at {self.due_at:%Y-%m-%d %H:%M}"
