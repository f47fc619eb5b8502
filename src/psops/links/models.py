"""Private links a customer contact uses, without an account, to answer one thing (a quote, a SOW, ...).

A link points at its subject through a generic reference, so this app depends on no domain app. The token itself
is never stored: only its SHA-256 hash, so a copy of the database cannot be turned into working links.
"""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class CustomerLink(models.Model):
    class Purpose(models.TextChoices):
        QUOTE = "quote", "Answer the quote"
        SOW = "sow", "Sign the SOW"
        COMPLETION = "completion", "Accept the work as complete"
        SIGN_OFF = "sign-off", "Sign off the project"

    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="links")
    # The address the link went to, as it was at the time.
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "purpose"])]
        constraints = [
            # One live link per subject and purpose: sending a fresh one revokes the earlier ones.
            models.UniqueConstraint(fields=["subject_type", "subject_id", "purpose"],
                                    condition=models.Q(used_at__isnull=True, revoked_at__isnull=True),
                                    name="one_live_link_per_subject_purpose"),
            models.CheckConstraint(condition=~models.Q(used_at__isnull=False, revoked_at__isnull=False),
                                   name="link_used_or_revoked_not_both"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} link for {self.email}"

    @property
    def status(self) -> str:
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "live"
