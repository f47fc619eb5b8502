"""`/api/v1`: the administrator's pages as operations: webhook subscriptions and their delivery logs, and imports
of accounts, contacts and deals. The same services and checks as the pages (psops.api.webhooks,
psops.crm.import_runs).

Written without `from __future__ import annotations`, as psops.api.v1 (django-ninja reads the annotations).
"""

import datetime as dt
import hashlib
from typing import Any

from django.http import Http404
from ninja import Field, File, Path, Query, Router, Schema
from ninja.files import UploadedFile

from psops.crm import import_runs, imports
from psops.crm.choices import Segment
from psops.crm.models import ImportRun
from psops.workflow import invariants

from . import idempotency
from .errors import ERRORS
from .form_schemas import BIGGEST_ID, body_in_openapi, schema_of
from .models import WebhookDelivery, WebhookSubscription
from .webhooks import (
    EVENTS,
    deliveries_of,
    delivery_resend,
    delivery_resend_check,
    subscription_create,
    subscription_set_active,
    subscriptions_listed,
    webhook_manage_check,
)

PAGE_SIZE = 25
MAX_PAGE = 10_000

administration = Router()
NO_BODY = body_in_openapi(schema_of(None, "NoBody"))  # an act that takes nothing: an empty JSON object, or none


class PageQuery(Schema):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


def _page(rows, page: int) -> list:
    start = (page - 1) * PAGE_SIZE
    return list(rows[start:start + PAGE_SIZE])


class Done(Schema):
    message: str
    id: int
    href: str


# --- Webhooks -----------------------------------------------------------------------------------------------------


class EventOut(Schema):
    name: str
    meaning: str


class SubscriptionOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    active: bool
    created_at: dt.datetime
    created_by: str


class SubscriptionIn(Schema):
    model_config = {"extra": "forbid"}
    url: str = Field(max_length=500, description="The receiver: https://, on a public address.")
    events: list[str] = Field(min_length=1, max_length=len(EVENTS), description="Names from GET /webhooks/events.")
    description: str = Field(default="", max_length=200, description="What receives it.")


class Subscribed(Done):
    secret: str = Field(description="The signing secret, shown this once: the receiver checks each signature with it.")


class ActiveIn(Schema):
    model_config = {"extra": "forbid"}
    active: bool


class DeliveryOut(Schema):
    id: int
    event: str
    state: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    last_attempt_at: dt.datetime | None
    last_status: int | None
    last_response: str
    last_error: str


def _subscription(pk: int) -> WebhookSubscription:
    found = WebhookSubscription.objects.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def _subscription_out(row: WebhookSubscription) -> dict:
    return {"id": row.pk, "url": row.url, "description": row.description, "events": row.events,
            "active": row.active, "created_at": row.created_at, "created_by": row.created_by.username}


@administration.get("/webhooks/events", response={200: list[EventOut], **ERRORS}, tags=["Webhooks"],
                    summary="The events a subscription may name")
def webhook_events(request):
    webhook_manage_check(user=request.auth)
    return [{"name": name, "meaning": meaning} for name, (meaning, _) in EVENTS.items()]


@administration.get("/webhooks", response={200: list[SubscriptionOut], **ERRORS}, tags=["Webhooks"],
                    summary="The webhook subscriptions, newest first (25 a page; administrators)")
def webhooks_list(request, filters: Query[PageQuery]):
    webhook_manage_check(user=request.auth)
    return [_subscription_out(row) for row in _page(subscriptions_listed(), filters.page)]


@administration.post("/webhooks", response={201: Subscribed, **ERRORS}, tags=["Webhooks"],
                     summary="Subscribe a receiver to events (the secret is in this answer only)")
def webhook_create(request, payload: SubscriptionIn):
    def run():
        row = subscription_create(user=request.auth, url=payload.url, events=payload.events,
                                  description=payload.description)
        return 201, {"message": "Subscribed. Keep the secret: it is not shown again.", "id": row.pk,
                     "href": f"/api/v1/webhooks/{row.pk}/deliveries", "secret": row.secret}
    return idempotency.once(request, run)


@administration.post("/webhooks/{id}/active", response={200: Done, **ERRORS}, tags=["Webhooks"],
                     summary="Turn a subscription on or off (off: what waits is not sent)")
def webhook_active(request, payload: ActiveIn, id: int = Path(..., ge=1, le=BIGGEST_ID)):
    def run():
        webhook_manage_check(user=request.auth)
        row = subscription_set_active(user=request.auth, subscription=_subscription(id), active=payload.active)
        return 200, {"message": "Turned on: new events are sent." if row.active else
                     "Turned off: nothing more is sent.", "id": row.pk,
                     "href": f"/api/v1/webhooks/{row.pk}/deliveries"}
    return idempotency.once(request, run)


@administration.get("/webhooks/{id}/deliveries", response={200: list[DeliveryOut], **ERRORS}, tags=["Webhooks"],
                    summary="A subscription's delivery log, newest first (25 a page)")
def webhook_deliveries(request, filters: Query[PageQuery], id: int = Path(..., ge=1, le=BIGGEST_ID)):
    webhook_manage_check(user=request.auth)
    rows = deliveries_of(_subscription(id))
    return [{"id": d.pk, "event": d.event, "state": d.state, "attempts": d.attempts, "created_at": d.created_at,
             "next_attempt_at": d.next_attempt_at, "last_attempt_at": d.last_attempt_at,
             "last_status": d.last_status, "last_response": d.last_response, "last_error": d.last_error}
            for d in _page(rows, filters.page)]


@administration.post("/webhooks/deliveries/{id}/resend", response={200: Done, **ERRORS}, tags=["Webhooks"],
                     summary="Queue a delivered or failed delivery again", openapi_extra=NO_BODY)
def webhook_resend(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
    def run():
        webhook_manage_check(user=request.auth)
        delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=id).first()
        if delivery is None:
            raise Http404
        delivery_resend_check(user=request.auth, delivery=delivery)
        delivery_resend(user=request.auth, delivery=delivery)
        return 200, {"message": "Queued again: the worker sends it at its next poll.", "id": delivery.pk,
                     "href": f"/api/v1/webhooks/{delivery.subscription_id}/deliveries"}
    return idempotency.once(request, run)


# --- Imports ------------------------------------------------------------------------------------------------------


class ImportOut(Schema):
    id: int
    filename: str
    state: str = Field(description="mapping, checking, refused, ready, importing, done or failed")
    created_at: dt.datetime
    columns: list[str] = Field(description="The file's column names, as its first row gives them.")
    mapping: dict[str, str] = Field(description="Field -> column: what the check reads (proposed until mapped).")
    rows_read: int
    rows_total: int | None
    error_count: int
    errors: list[list[Any]] = Field(description="The first 100 refused rows: [line, field, problem] (the page's "
                                                "CSV report has the first 1,000).")
    summary: dict[str, Any]
    failure: str
    href: str


class MappingIn(Schema):
    model_config = {"extra": "forbid"}
    mapping: dict[str, str] = Field(max_length=len(imports.FIELDS), description=(
        f"Field -> the file's column. Fields: {', '.join(imports.FIELDS)}; required: "
        f"{', '.join(f for f, (_, required) in imports.FIELDS.items() if required)}."))
    default_segment: str = Field(default="", max_length=12, description=(
        f"The segment of rows without one: {', '.join(Segment.values)}, or '' (every row names it)."))
    preset_name: str = Field(default="", max_length=100, description="Save this mapping as a preset, by this name.")


def _run(pk: int) -> ImportRun:
    found = ImportRun.objects.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def _import_answer(run: ImportRun) -> dict:
    """An import as a POST answers it: plain JSON, as the idempotency record keeps it."""
    return ImportOut.model_validate(_import_out(run)).model_dump(mode="json")


def _import_out(run: ImportRun, *, full: bool = True) -> dict:
    return {"id": run.pk, "filename": run.filename, "state": run.state, "created_at": run.created_at,
            "columns": run.columns if full else [], "mapping": run.mapping if full else {},
            "rows_read": import_runs.rows_read(run), "rows_total": run.rows_total, "error_count": run.error_count,
            "errors": run.errors[:100] if full else [], "summary": run.summary if full else {},
            "failure": run.failure, "href": f"/api/v1/imports/{run.pk}"}


@administration.get("/imports/", response={200: list[ImportOut], **ERRORS}, tags=["Imports"],
                    summary="The imports, newest first (25 a page; administrators; read one for its details)")
def imports_list(request, filters: Query[PageQuery]):
    import_runs.import_check(user=request.auth)
    return [_import_out(run, full=False) for run in _page(import_runs.runs_listed(), filters.page)]


@administration.post("/imports/", response={201: ImportOut, **ERRORS}, tags=["Imports"],
                     summary="Upload a Salesforce report (CSV) or a workbook (XLSX) to import: its columns are read "
                             "and a mapping proposed")
def import_create(request, file: File[UploadedFile]):
    digest = hashlib.sha256(f"{file.name}\0{file.size}\0".encode())
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)

    def run():
        made = import_runs.import_upload(user=request.auth, upload=file)
        return 201, _import_answer(made)
    return idempotency.once(request, run, fingerprint=digest.hexdigest())


@administration.get("/imports/{id}", response={200: ImportOut, **ERRORS}, tags=["Imports"],
                    summary="An import: its state, progress, mapping, refused rows and summary")
def import_read(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
    import_runs.import_check(user=request.auth)
    return _import_out(_run(id))


@administration.post("/imports/{id}/map", response={200: ImportOut, **ERRORS}, tags=["Imports"],
                     summary="Choose the columns, then every row is checked by the worker (nothing is written)")
def import_map(request, payload: MappingIn, id: int = Path(..., ge=1, le=BIGGEST_ID)):
    def run():
        import_runs.import_check(user=request.auth)
        made = import_runs.import_map(user=request.auth, run=_run(id), mapping=payload.mapping,
                                      default_segment=payload.default_segment, preset_name=payload.preset_name)
        return 200, _import_answer(made)
    return idempotency.once(request, run)


@administration.post("/imports/{id}/commit", response={200: ImportOut, **ERRORS}, tags=["Imports"],
                     summary="Import a checked file with no refused row: everything is written at once by the worker",
                     openapi_extra=NO_BODY)
def import_commit(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
    def run():
        import_runs.import_check(user=request.auth)
        made = import_runs.import_commit(user=request.auth, run=_run(id))
        return 200, _import_answer(made)
    return idempotency.once(request, run)


# --- The chain's promises -----------------------------------------------------------------------------------------


class InvariantOut(Schema):
    name: str
    promise: str
    count: int = Field(description="How many records break it (0: the promise is kept).")
    violations: list[str] = Field(description="The first 200 of them: 'subject: what is wrong'.")


@administration.get("/integrity", response={200: list[InvariantOut], **ERRORS}, tags=["Administration"],
                    summary="The chain's promises, each with what breaks it (the integrity page)")
def integrity(request):
    invariants.integrity_check(user=request.auth)
    return [{"name": row["name"], "promise": row["doc"], "count": row["count"],
             "violations": [f"{v.subject}: {v.message}" for v in row["shown"]]}
            for row in invariants.integrity_report()]
