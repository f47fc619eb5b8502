"""Reads of SOW projects, scoped to who may see them, at a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from psops.accounts import roles
from psops.accounts.roles import has_role
from psops.crm.scope import deal_scope, owned_by

from .models import Assignment, Project

# Managers and the people who bill, sign off or oversee delivery see every project.
SEES_ALL = (roles.PS_MANAGER, roles.DIR_CS, roles.DIRECTOR_PS, roles.ADMINISTRATOR, roles.FINANCE, roles.CONTROLLER,
            roles.TAM)
# A sales rep sees the projects of their deals; an engineer the projects they are assigned to.
SEES_OWN = (roles.SALES_REP, roles.PS_ENGINEER)

# Not yet delivered: the backlog of signed work.
UNDELIVERED = (Project.State.CREATED, Project.State.STAFFED, Project.State.KICKED_OFF, Project.State.IN_DELIVERY,
               Project.State.CLOSURE, Project.State.ON_HOLD)


def may_list_projects(user: Any) -> bool:
    return bool(user.is_superuser or has_role(user, *SEES_ALL, *SEES_OWN))


def project_scope(*, user: Any) -> QuerySet[Project]:
    """The projects this user may see, unshaped: never more than the projects of the deals they see
    (psops.crm.scope), and of those an engineer's list holds the projects they are assigned to."""
    if not may_list_projects(user):
        return Project.objects.none()
    qs = Project.objects.filter(deal_scope(user, via="ps_opportunity__parent__"))
    if user.is_superuser or has_role(user, *SEES_ALL):
        return qs
    mine = Q(pk__in=[])
    if has_role(user, roles.PS_ENGINEER):
        mine |= Q(pk__in=Assignment.objects.filter(engineer=user).values("project_id"))
    if has_role(user, roles.SALES_REP):
        mine |= owned_by(user, via="ps_opportunity__parent__")
    return qs.filter(mine)


def project_list(*, user: Any, filters: dict | None = None) -> QuerySet[Project]:
    """Projects this user may see with their deal, account, SOW, engagement manager and engineers; filter: `state`."""
    qs = (project_scope(user=user)
          .select_related("ps_opportunity__parent__account", "sow", "engagement_manager")
          .prefetch_related(Prefetch("assignments", queryset=Assignment.objects.select_related("engineer")
                                     .order_by("engineer__username"))))
    filters = filters or {}
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    return qs


# --- Time to approve (the PS manager's weekly review) -------------------------------------------------------------


def time_to_approve(*, user: Any) -> QuerySet:
    """Time entries not yet approved on projects of deals `user` sees, less their own (nobody approves their own
    time); none for somebody who may not approve time (the rule `delivery.manage_project`)."""
    from .models import TimeEntry

    if not user.has_perm("delivery.manage_project"):
        return TimeEntry.objects.none()
    return (TimeEntry.objects.filter(deal_scope(user, via="project__ps_opportunity__parent__"),
                                     approved_at__isnull=True)
            .exclude(engineer=user))


def time_weeks(*, user: Any) -> QuerySet:
    """The time waiting for approval, one row per engineer and week (Monday to Sunday): its hours, entries and
    projects, summed in SQL, the oldest week first."""
    from django.db.models import Count, Sum
    from django.db.models.functions import TruncWeek

    return (time_to_approve(user=user)
            .annotate(week=TruncWeek("date"))
            .values("week", "engineer", "engineer__username", "engineer__first_name", "engineer__last_name")
            .annotate(hours=Sum("hours"), entries=Count("id"), projects=Count("project", distinct=True))
            .order_by("week", "engineer__username", "engineer"))
