"""Timeline events, the engagement's discussion thread, mentions and notifications.

These models point at records through generic references, so this app depends on no domain app.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Thread(models.Model):
    """One discussion per engagement, rooted at the parent opportunity and running across its whole chain."""

    root_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    root_id = models.PositiveBigIntegerField()
    root = GenericForeignKey("root_type", "root_id")
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["root_type", "root_id"], name="one_thread_per_engagement")]

    def __str__(self) -> str:
        return self.title


class TimelineEvent(models.Model):
    """Who did what, when, to which record. Never updated or deleted."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    # For acts without an account: "system", or the customer contact who used a link.
    actor_label = models.CharField(max_length=200, blank=True)
    verb = models.CharField(max_length=80, db_index=True)
    message = models.CharField(max_length=500)
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    subject_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    thread = models.ForeignKey(Thread, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.who}: {self.message}"

    @property
    def who(self) -> str:
        return str(self.actor) if self.actor_id else (self.actor_label or "system")


class StepClock(models.Model):
    """How long one record took through one step of the process (`activity.steps.STEPS`), written by the timeline as
    the step's first start and first end are recorded, so the dashboards read durations instead of the timeline."""

    step = models.CharField(max_length=20)
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.PositiveBigIntegerField()
    thread = models.ForeignKey(Thread, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    seconds = models.BigIntegerField(null=True, blank=True)  # ended_at - started_at, once ended
    # Business days from the start's day to the end's (0: the same business day), the unit of the service levels.
    business_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "subject_type", "subject_id"], name="one_clock_per_step"),
            models.CheckConstraint(condition=models.Q(ended_at__isnull=True, seconds__isnull=True)
                                   | models.Q(ended_at__isnull=False, seconds__gte=0), name="clock_ended_with_time"),
        ]
        # Percentiles read the n-th duration of a step through this index.
        indexes = [models.Index(fields=["step", "seconds"], name="clock_by_duration",
                                condition=models.Q(seconds__isnull=False)),
                   models.Index(fields=["step", "business_days"], name="clock_by_business_days",
                                condition=models.Q(business_days__isnull=False))]

    def __str__(self) -> str:
        return f"{self.step} of {self.subject_type_id}:{self.subject_id}"


class Message(models.Model):
    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment"
        QUESTION = "question", "Discovery question"
        ANSWER = "answer", "Answer"

    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COMMENT)
    body = models.TextField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies")
    # The record in the chain the message is about (a ROM, a quote, ...); optional.
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    created_at = models.DateTimeField(auto_now_add=True)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in")

    # Not stored: True on the message `message_post` returned instead of storing a double of it.
    already_posted: bool = False

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:60]}"


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    text = models.CharField(max_length=500)
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The inbox, newest first, one person's page at a time.
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            # The unread badge on every page: counted from the unread ones alone.
            models.Index(fields=["recipient"], name="notification_unread", condition=models.Q(read_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"to {self.recipient}: {self.text}"
