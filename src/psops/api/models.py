"""Personal API tokens and the answers kept for idempotent POSTs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A personal token: the caller acts as `user`, with exactly that person's roles and reach.

    Only a SHA-256 of the secret is kept (the secret is shown once, when made); `prefix` is the token's first
    characters, kept to tell one token from another in a list."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class IdempotentRequest(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, kept so a replay gets it again and does nothing.

    The key is the caller's: it is unique per user, never across users. `fingerprint` is a SHA-256 of the method,
    path and body, so the same key with another request is told apart (422). A row without `status` is a request
    still running (a concurrent replay waits on its lock, then reads the answer)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotent_request_user_key")]
        indexes = [models.Index(fields=["created_at"])]


class WebhookSubscription(models.Model):
    """An administrator's subscription: the events of the catalogue (psops.api.webhooks.EVENTS) sent to `url`, each
    body signed with `secret` (HMAC-SHA256), which is shown once when the subscription is made."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)  # names from the catalogue
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Webhook {self.pk} to {self.url}"


class WebhookDelivery(models.Model):
    """One event for one subscription: its body (fixed when the event is read, so a retry sends the same bytes),
    and what the receiver answered to the latest attempt."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (no more retries)"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    timeline_event_id = models.BigIntegerField()
    body = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subscription", "timeline_event_id"],
                                               name="webhook_delivery_once_per_event")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
                   models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log")]


class WebhookCursor(models.Model):
    """How far the timeline has been read for webhooks: one row, the id of the last event read."""

    last_event_id = models.BigIntegerField(default=0)
