from django.db import models


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
