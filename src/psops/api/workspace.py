"""`/api/v1`: what a person's own pages show besides the records: the home's queues, the inbox, search, the time
waiting for approval, and the dashboard's figures. Each reads the same selector as its page, under the same rule.

Written without `from __future__ import annotations`, as psops.api.v1 (django-ninja reads the annotations).
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from psops.accounts import roles
from psops.activity.models import Notification
from psops.activity.selectors import unread_notifications
from psops.activity.services import notifications_mark_read
from psops.core.errors import ApplicationError
from psops.crm.selectors import account_search, contact_search, opportunity_list
from psops.delivery.selectors import time_weeks
from psops.delivery.services import time_approve_week_check
from psops.estimating import calculator
from psops.estimating import services as estimating
from psops.insights.panels import dashboard_kept
from psops.web.views.dashboards import as_of_day
from psops.workflow.selectors import Queue, project_next_step, work_queue

from . import idempotency
from .errors import ERRORS
from .form_schemas import BIGGEST_ID

PAGE_SIZE = 25
MAX_PAGE = 10_000

workspace = Router()


def holds_a_role(user: Any) -> None:
    """The pages' rule (psops.web.views.common.role_required): without a role, nothing of the business is shown."""
    if not (user.is_superuser or roles.roles_of(user)):
        raise ApplicationError(code="forbidden", message="Your account holds no role yet; ask an administrator.")


def _href(model_name: str, pk: int) -> str | None:
    from .v1 import PATHS
    return f"/api/v1/{PATHS[model_name]}/{pk}" if model_name in PATHS else None


# --- The home's queues ------------------------------------------------------------------------------------------


class QueueItem(Schema):
    kind: str = Field(description="The record's kind (its API path names it), or 'time-week' or 'setup'.")
    id: int | None
    label: str
    next_step: str = Field(description="The next act on it, in the process's words ('' where the queue says none).")
    href: str | None = Field(description="Where to read it in this API, when it is a record.")


class QueueOut(Schema):
    kind: str
    title: str
    total: int = Field(description="How many wait in all (counted up to a cap; see `uncounted`).")
    uncounted: bool = Field(description="More wait than were counted.")
    items: list[QueueItem] = Field(description="The most urgent first; a superuser's queues of roles they do not "
                                               "hold give the count alone.")


def _record_item(row: models.Model, next_step: str = "") -> dict:
    name = str(row._meta.model_name)
    return {"kind": name, "id": row.pk, "label": str(row), "next_step": next_step, "href": _href(name, row.pk)}


def _item(queue: Queue, row: Any) -> dict:
    if queue.kind == "deals":
        deal, ps = row["opportunity"], row["ps"]
        item = _record_item(ps or deal, row["next"])
        item["label"] = f"{deal} ({deal.account.name})" if ps is None else f"{deal}: {ps}"
        return item
    if queue.kind == "time":
        name = " ".join(p for p in (row["engineer__first_name"], row["engineer__last_name"]) if p)
        return {"kind": "time-week", "id": row["engineer"], "label": (
            f"{name or row['engineer__username']}, week of {row['week']:%Y-%m-%d}: {row['hours']} h"),
            "next_step": "Approve the week (POST /api/v1/time/approve)", "href": None}
    if queue.kind == "setup":
        return {"kind": "setup", "id": None, "label": f"{row['label']}: {row['state']}", "next_step": "",
                "href": row["url"]}
    if queue.kind == "collections":
        return {**_record_item(row), "label": f"Collection for project #{row.project_id}",
                "href": f"/api/v1/collections/{row.pk}"}
    return _record_item(row, project_next_step(row) if queue.kind == "projects" else "")


@workspace.get("/queues", response={200: list[QueueOut], **ERRORS}, tags=["You"],
               summary="Your home page's queues: what waits for you, the most urgent first")
def queues(request):
    holds_a_role(request.auth)
    return [{"kind": q.kind, "title": q.title, "total": q.total, "uncounted": q.uncounted,
             "items": [_item(q, row) for row in q.rows]} for q in work_queue(request.auth)]


# --- The inbox --------------------------------------------------------------------------------------------------


class InboxQuery(Schema):
    unread: bool = Field(default=False, description="Only the unread ones.")
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


class NotificationOut(Schema):
    id: int
    kind: str
    text: str
    created_at: dt.datetime
    read_at: dt.datetime | None
    subject_kind: str | None = Field(description="The kind of record it is about, if any.")
    subject_id: int | None
    href: str | None


class InboxPage(Schema):
    items: list[NotificationOut]
    page: int
    has_next: bool
    unread: int = Field(description="Unread notifications in all (counted up to 1,000).")


@workspace.get("/inbox", response={200: InboxPage, **ERRORS}, tags=["You"],
               summary="Your notifications, newest first (25 a page)")
def inbox(request, filters: Query[InboxQuery]):
    user = request.auth
    holds_a_role(user)
    rows = Notification.objects.filter(recipient=user).select_related("subject_type")
    if filters.unread:
        rows = rows.filter(read_at__isnull=True)
    start = (filters.page - 1) * PAGE_SIZE
    got = list(rows.order_by("-created_at", "-id")[start:start + PAGE_SIZE + 1])
    unread = unread_notifications(user).values("pk")[:1000].count()
    items = []
    for note in got[:PAGE_SIZE]:
        kind = note.subject_type.model if note.subject_type is not None else None
        items.append({"id": note.pk, "kind": note.kind, "text": note.text, "created_at": note.created_at,
                      "read_at": note.read_at, "subject_kind": kind, "subject_id": note.subject_id,
                      "href": _href(kind, note.subject_id) if kind and note.subject_id else None})
    return {"items": items, "page": filters.page, "has_next": len(got) > PAGE_SIZE, "unread": unread}


class MarkRead(Schema):
    model_config = {"extra": "forbid"}
    ids: list[int] | None = Field(default=None, max_length=1000, description=(
        "The notifications to mark read; leave it out to mark every unread one read."))


class Marked(Schema):
    message: str
    marked: int


@workspace.post("/inbox/read", response={200: Marked, **ERRORS}, tags=["You"],
                summary="Mark your notifications read (all, or the ones named)")
def inbox_read(request, payload: MarkRead):
    holds_a_role(request.auth)
    if payload.ids and not all(1 <= pk <= BIGGEST_ID for pk in payload.ids):
        raise ApplicationError(code="invalid", field="ids", message="ids: notification ids are positive integers.")

    def run():
        done = notifications_mark_read(user=request.auth, ids=payload.ids)
        return 200, {"message": f"Marked {done} notification{'s' * (done != 1)} read.", "marked": done}
    return idempotency.once(request, run)


# --- Search -----------------------------------------------------------------------------------------------------


class SearchQuery(Schema):
    q: str = Field(min_length=2, max_length=100, description="At least two characters of a name or e-mail.")


class Found(Schema):
    kind: str
    id: int
    label: str
    href: str | None


class SearchResults(Schema):
    accounts: list[Found]
    contacts: list[Found]
    deals: list[Found]


@workspace.get("/search", response={200: SearchResults, **ERRORS}, tags=["You"],
               summary="Accounts, contacts and deals matching the words, among those you see (25 of each)")
def search(request, filters: Query[SearchQuery]):
    user = request.auth
    holds_a_role(user)
    q = filters.q.strip()
    if len(q) < 2:
        raise ApplicationError(code="invalid", field="q", message="q: type at least two characters.")
    return {
        "accounts": [{"kind": "account", "id": a.pk, "label": a.name, "href": _href("account", a.pk)}
                     for a in account_search(user=user, q=q)],
        "contacts": [{"kind": "contact", "id": c.pk, "label": f"{c.name} <{c.email}> ({c.account.name})",
                      "href": _href("contact", c.pk)} for c in contact_search(user=user, q=q)],
        "deals": [{"kind": "opportunity", "id": d.pk, "label": f"{d.name} ({d.account.name})",
                   "href": _href("opportunity", d.pk)}
                  for d in opportunity_list(user=user, filters={"q": q})[:25]],
    }


# --- Time waiting for approval ------------------------------------------------------------------------------------


class WeekOut(Schema):
    engineer: int
    engineer_username: str
    week: dt.date = Field(description="The Monday the week starts on.")
    hours: str = Field(description="Hours, a decimal string with two places.")
    entries: int
    projects: int


class WeeksQuery(Schema):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


@workspace.get("/time/weeks", response={200: list[WeekOut], **ERRORS}, tags=["Projects"],
               summary="The time waiting for your approval, one row per engineer and week, the oldest first")
def weeks(request, filters: Query[WeeksQuery]):
    time_approve_week_check(user=request.auth)
    start = (filters.page - 1) * PAGE_SIZE
    return [{"engineer": row["engineer"], "engineer_username": row["engineer__username"], "week": row["week"],
             "hours": str(Decimal(row["hours"]).quantize(Decimal("0.01"))), "entries": row["entries"],
             "projects": row["projects"]}
            for row in time_weeks(user=request.auth)[start:start + PAGE_SIZE]]


# --- The dashboard ------------------------------------------------------------------------------------------------


class ColumnOut(Schema):
    heading: str
    numeric: bool


class PanelOut(Schema):
    key: str
    title: str
    lead: str
    columns: list[ColumnOut]
    rows: list[list[str]] = Field(description="The panel's table, as the page shows it (amounts with currency).")
    empty: str


class DashboardOut(Schema):
    computed_at: dt.datetime = Field(description="When these figures were read (they are kept a few minutes).")
    as_of: dt.date | None
    panels: list[PanelOut]


class DashboardQuery(Schema):
    as_of: str | None = Field(default=None, max_length=20,
                              description="Age the receivables as of the end of this day (YYYY-MM-DD, not future).")


@workspace.get("/dashboard", response={200: DashboardOut, **ERRORS}, tags=["You"],
               summary="The dashboard's figures: pipeline, approvals, step times, bookings, backlog, receivables")
def dashboard(request, filters: Query[DashboardQuery]):
    holds_a_role(request.auth)
    today = timezone.localdate()
    as_of, refusal = as_of_day((filters.as_of or "").strip(), today)
    if refusal:
        raise ApplicationError(code="invalid", field="as_of", message=f"as_of: {refusal}")
    kept = dashboard_kept(user=request.auth, today=today, as_of=as_of)
    return {"computed_at": kept.computed_at, "as_of": as_of,
            "panels": [{"key": p.key, "title": p.title, "lead": p.lead, "rows": p.rows, "empty": p.empty,
                        "columns": [{"heading": c.heading, "numeric": c.numeric} for c in p.columns]}
                       for p in kept.panels]}


# --- The services calculator, without saving -------------------------------------------------------------------------


class QuestionOut(Schema):
    name: str
    label: str
    help: str
    default: int | None
    min: int
    max: int | None
    required: bool


class TemplateOut(Schema):
    code: str
    title: str
    description: str
    questions: list[QuestionOut]


class PriceIn(Schema):
    model_config = {"extra": "forbid"}
    template: str = Field(max_length=40)
    answers: dict[str, int | str] = Field(default_factory=dict, max_length=60)


class LineOut(Schema):
    code: str
    description: str
    quantity: int
    low: str | None
    high: str | None


class FlagOut(Schema):
    code: str
    message: str


class EstimateOut(Schema):
    template: str
    currency: str
    low: str | None = Field(description="The range's low end, a decimal string (null: not priced, see flags).")
    high: str | None
    lines: list[LineOut]
    flags: list[FlagOut]
    assumptions: list[str]
    table_versions: dict[str, int | None]
    answers: dict[str, int] = Field(description="The answers as understood: defaults filled in.")


@workspace.get("/calculator/templates", response={200: list[TemplateOut], **ERRORS}, tags=["ROMs"],
               summary="The calculator's templates and their questions (with the active tables)")
def calculator_templates(request):
    estimating.calculator_check(user=request.auth)
    tables = calculator.tables_from_db()
    return [{"code": spec.code, "title": spec.title, "description": spec.description,
             "questions": [vars(q) for q in calculator.questions_for(spec.code, tables)]}
            for spec in calculator.TEMPLATES.values()]


@workspace.post("/calculator/price", response={200: EstimateOut, **ERRORS}, tags=["ROMs"],
                summary="Price answers with the calculator, saving nothing (the page's live preview)")
def calculator_price(request, payload: PriceIn):
    estimating.calculator_check(user=request.auth)
    if payload.template not in calculator.TEMPLATES:
        raise ApplicationError(code="unknown-template", field="template",
                               message=f"template: one of {', '.join(sorted(calculator.TEMPLATES))}.")
    return calculator.calculate(payload.template, answers_of(payload.answers), calculator.tables_from_db()).as_dict()


def answers_of(answers: dict) -> dict[str, str]:
    """The calculator's answers as the page's form gives them (text), each name and value bounded."""
    for name, value in answers.items():
        if len(name) > 60 or (isinstance(value, str) and len(value) > 60):
            raise ApplicationError(code="invalid", field="answers",
                                   message="answers: names and values have at most 60 characters.")
    return {name: str(value) for name, value in answers.items()}
