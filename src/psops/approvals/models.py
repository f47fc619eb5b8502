"""Approval policy (versioned data) and approval requests with their decisions.

A request points at what it judges through a generic reference, so later stages (quotes, SOWs) use the same
machinery without this app importing them.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class ApprovalPolicy(models.Model):
    version = models.PositiveIntegerField(unique=True)
    rules = models.JSONField()
    is_active = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "approval policies"
        constraints = [models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                               name="one_active_policy")]

    def __str__(self) -> str:
        return f"Approval policy v{self.version}{' (active)' if self.is_active else ''}"


class ApprovalRequest(ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        NEEDS_DISCOVERY = "needs-discovery", "Needs discovery"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    kind = models.CharField(max_length=10)  # rom | quote
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    subject_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.PROTECT, related_name="requests")
    facts = models.JSONField(default=dict)
    state = FSMField(default=State.PENDING, choices=State.choices, protected=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The person whose work is judged (the ROM's author); they may not approve it either.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    title = models.CharField(max_length=200)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"Approval #{self.pk}: {self.title}"

    def facts_cover(self, facts: dict) -> bool:
        """Whether this request judged exactly these facts (an approval covers the values it saw, no others)."""
        return all(str(self.facts.get(key)) == str(value) for key, value in facts.items())

    @transition(field=state, source=State.PENDING, target=State.APPROVED)
    def mark_approved(self):
        pass

    @transition(field=state, source=State.PENDING, target=State.NEEDS_DISCOVERY)
    def mark_needs_discovery(self):
        pass

    @transition(field=state, source=State.PENDING, target=State.REJECTED)
    def mark_rejected(self):
        pass

    @transition(field=state, source=State.PENDING, target=State.WITHDRAWN)
    def mark_withdrawn(self):
        pass


class ApprovalRequirement(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="requirements")
    code = models.CharField(max_length=40)
    label = models.CharField(max_length=200)
    approvers = models.JSONField()  # role names
    mode = models.CharField(max_length=3, default="any")
    approved_roles = models.JSONField(default=list)
    satisfied = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["request", "code"], name="requirement_once_per_request")]

    def __str__(self) -> str:
        return self.label


class Decision(models.Model):
    class Outcome(models.TextChoices):
        APPROVE = "approve", "Approve"
        NEEDS_DISCOVERY = "needs-discovery", "Needs discovery"
        REJECT = "reject", "Reject"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="decisions")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    requirements = models.JSONField(default=list)  # codes this decision spoke for
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["decided_at", "id"]

    def __str__(self) -> str:
        return f"{self.approver}: {self.outcome}"
