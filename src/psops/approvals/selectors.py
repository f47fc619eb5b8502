"""Reads of approval requests, scoped to who may see them, at a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Iterable
from functools import reduce
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.roles import has_role, roles_of
from psops.core.business_days import SERVICE_LEVEL_DAYS, Calendar, local_date
from psops.crm.scope import ALL, NONE, deal_reach, deal_scope
from psops.estimating.models import RomVersion

from .models import ApprovalRequest, Decision

# Estimates and their approval: within 3 business days (DOMAIN.md, "Service levels worth measuring").

# Who decides or oversees approvals sees every request; the people who scope and sell see their own deals'.
SEES_ALL = (roles.PS_MANAGER, roles.DIR_CS, roles.TECHNICAL_ARCHITECT, roles.DIRECTOR_PS, roles.VP_SALES,
            roles.VP_GLOBAL_SERVICES, roles.ADMINISTRATOR)
SEES_OWN = (roles.SALES_REP, roles.SOLUTIONS_ARCHITECT, roles.TAM)


def may_list_approvals(user: Any) -> bool:
    return bool(user.is_superuser or has_role(user, *SEES_ALL, *SEES_OWN))


def approval_scope(user: Any) -> Q:
    """A filter keeping the approval requests this user may see, wherever they are shown (the approvals list, the
    dashboards' "approvals waiting"): approvers and their directors (who may decide any) and everyone who sees
    every deal see all; a sales rep the requests they sent or whose work is judged, and the ROM requests of the
    deals they see (psops.crm.scope); someone without a role none."""
    reach = deal_reach(user)
    if reach == ALL or has_role(user, *SEES_ALL):
        return Q()
    if reach == NONE:
        return Q(pk__in=[])
    their_roms = RomVersion.objects.filter(deal_scope(user, via="rom__opportunity__")).values("pk")
    return Q(submitted_by=user) | Q(author=user) | Q(kind="rom", subject_id__in=their_roms)


class _ListHolds(Func):
    """Whether the JSON list in `column` holds the string `value` as one of its elements, in SQL: SQLite reads the
    list with json_each, PostgreSQL asks jsonb containment. (Django's `contains` lookup on a JSONField is refused on
    SQLite, and matching the stored text would be a guess.)"""

    output_field = BooleanField()

    def __init__(self, column: str, value: str) -> None:
        super().__init__(F(column))
        self.value = value

    def as_sql(self, compiler, connection, **extra):  # type: ignore[override]
        raise NotSupportedError(f"Approval requirements are read with SQLite or PostgreSQL, not {connection.vendor}.")

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"EXISTS (SELECT 1 FROM json_each({column}) AS held WHERE held.value = %s)", (*params, self.value)

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} @> %s::jsonb)", (*params, json.dumps([self.value]))


def decidable_by(user: Any) -> Q:
    """A filter keeping the requests `user` may decide now: the decision service's rule
    (`services.request_decide_check`) in SQL, so a queue counts and pages them in the database. A request is
    decidable when it is pending, neither submitted nor authored by `user`, not decided by them already, and one of
    its requirements is still unmet and waits for a role they hold that has not approved it yet (a superuser holds
    every role): read from the roles the request waits for, kept on it by the services (`roles_waited_for`).
    `services.may_decide` asks this filter, and tests/test_decidable.py checks it against the service on every kind
    of request and person."""
    mine = sorted(roles.ROLES if user.is_superuser else roles_of(user))
    if not mine:
        return Q(pk__in=[])
    waits_for_me: Q = reduce(operator.or_, (Q(_ListHolds("waiting_roles", role)) for role in mine))
    decided_by_me = Decision.objects.filter(request=OuterRef("pk"), approver=user)
    return (Q(state=ApprovalRequest.State.PENDING) & ~Q(submitted_by=user) & ~Q(author=user)
            & waits_for_me & ~Q(Exists(decided_by_me)))


def approval_list(*, user: Any, filters: dict | None = None) -> QuerySet[ApprovalRequest]:
    """Pending and decided requests this user may see (`approval_scope`), newest first; filters: `state`, `kind`,
    `waiting` (only those waiting for this user's decision, `decidable_by`).

    Rows carry their policy, people, requirements and decisions (with approvers), so a page costs the same whatever
    its rows.
    """
    if not may_list_approvals(user):
        return ApprovalRequest.objects.none()
    qs = (ApprovalRequest.objects.select_related("policy", "submitted_by", "author")
          .prefetch_related("requirements",
                            Prefetch("decisions", queryset=Decision.objects.select_related("approver"))))
    qs = qs.filter(approval_scope(user))
    filters = filters or {}
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("waiting"):
        qs = qs.filter(decidable_by(user))
    return qs


def with_age(requests: Iterable[ApprovalRequest], *, today: dt.date | None = None,
             calendar: Calendar | None = None) -> list[ApprovalRequest]:
    """Set `age_days` (business days waiting, or taken to decide) and `overdue` (over the service level) on each."""
    calendar = calendar or Calendar.current()
    today = today or timezone.localdate()
    rows = list(requests)
    for request in rows:
        end = local_date(request.decided_at) if request.decided_at else today
        request.age_days = calendar.business_days_between(  # type: ignore[attr-defined]
            local_date(request.submitted_at), end)
        request.overdue = request.age_days > SERVICE_LEVEL_DAYS  # type: ignore[attr-defined]
    return rows


def approval_rows(requests: Iterable[ApprovalRequest], *, today: dt.date | None = None) -> list[ApprovalRequest]:
    """Rows of `approval_list` ready for a page: `age_days` and `overdue` as `with_age` sets them, `waiting_for`
    (the requirements still open on a pending request) and `decided_by` (who decided, with their outcome)."""
    rows = with_age(requests, today=today)
    for request in rows:
        pending = request.state == ApprovalRequest.State.PENDING
        request.waiting_for = [r.label for r in request.requirements.all()  # type: ignore[attr-defined]
                               if pending and not r.satisfied]
        request.decided_by = [f"{d.approver}: {d.get_outcome_display()}"  # type: ignore[attr-defined]
                              for d in request.decisions.all()]
    return rows
