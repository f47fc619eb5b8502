"""Approval policy (versioned data) and approval requests with their decisions.

A request points at what it judges through a generic reference, so later stages (quotes, SOWs) use the same
machinery without this app importing them.
"""

from collections.abc import Iterable

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
    # The roles a pending request still waits for (`roles_waited_for` of its requirements), empty once it is decided:
    # kept by the approval services so the approvers' queues are read from the request alone (decision 0013).
    waiting_roles = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"]),
            # The approvals list's default and offered sort, either way.
            models.Index(fields=["submitted_at", "id"], name="approval_by_submitted"),
            # The approvers' queues: what is pending, the one waiting longest first.
            models.Index(fields=["submitted_at", "id"], name="approval_pending_by_age",
                         condition=models.Q(state="pending")),
        ]

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


def roles_waited_for(requirements: "Iterable[ApprovalRequirement]") -> list[str]:
    """The roles whose approval is still wanted: on each unmet requirement, the roles it names that have not
    approved it yet."""
    return sorted({role for r in requirements if not r.satisfied for role in r.approvers
                   if role not in r.approved_roles})


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
