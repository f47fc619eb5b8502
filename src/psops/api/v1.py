"""`/api/v1`: every record kind read, and every act of the record pages called, through the pages' own rules.

- Reading: `GET /api/v1/<kind>/` lists what the caller sees (the page's filters, sort columns and scope; at most
  100 rows a page, no total count, `has_next` instead), `GET /api/v1/<kind>/<id>` reads one record (not found when
  the caller does not see its deal, as on the record page).
- Acts: `POST /api/v1/<kind>/<id>/<act>`, one operation for each act the record pages offer (psops.web.kinds),
  made from the act's own declaration: the body is the act's form (the same fields, cleaned by the same form), the
  refusal is the act's own check, and the work is the same service call. `GET /api/v1/<kind>/<id>/acts` says which
  acts the caller may do now, and why not the others.
- Errors: one shape, `{"code", "message", "field"}`; see psops.api.errors.
- Every POST that creates or moves something accepts an `Idempotency-Key` (psops.api.idempotency).

Written without `from __future__ import annotations`: the operations are made in loops, and django-ninja reads
their parameter types from the functions' annotations, which must be real types, not strings.
"""

import datetime as dt
import logging
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.contrib.auth import get_user_model
from django.db import models
from django.http import Http404, HttpRequest
from ninja import Field, NinjaAPI, Path, Query, Router, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.orm import create_schema
from ninja.security import HttpBearer
from pydantic import create_model

from psops.accounts import roles
from psops.activity.models import Message
from psops.activity.services import message_post, thread_for
from psops.billing import services as billing
from psops.core.errors import ApplicationError
from psops.crm import services as crm
from psops.delivery import services as delivery
from psops.documents.models import Document
from psops.documents.selectors import documents_on_page, downloadable
from psops.documents.services import read_bytes
from psops.estimating import calculator
from psops.estimating import services as estimating
from psops.web import acts as act_registry
from psops.web import kinds  # noqa: F401  (registers the record kinds and their acts)
from psops.web.downloads import document_response
from psops.web.forms import NewDealForm, WeekForm
from psops.web.lists import Listing, filters_of
from psops.web.records import KINDS, visible
from psops.web.views.records import posted_message

from . import idempotency
from .administration import administration
from .errors import ERRORS, error_response, status_of_refusal
from .form_schemas import BIGGEST_ID, body_in_openapi, body_of, form_input, schema_of
from .resources import RESOURCES, Resource
from .services import user_of_token
from .workspace import answers_of, workspace

log = logging.getLogger(__name__)

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000  # page * page_size rows are skipped in SQL: bounded, like the pages' capped counts


class TokenAuth(HttpBearer):
    """`Authorization: Bearer psops_…`: a personal token, made on the "API tokens" page."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_of_token(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="psops API", version="1", urls_namespace="api", auth=TokenAuth(), docs_url="/docs",
    openapi_url="/openapi.json",
    description=(
        "Everything a person does in psops's pages, for scripts and other systems: the same rules, the same "
        "visibility, the same services. Authenticate with a personal API token (made on the API tokens page) as "
        "`Authorization: Bearer <token>`. Amounts are decimal strings beside their currency. Errors are "
        "`{code, message, field}`. Send an `Idempotency-Key` header with a POST to make a retry safe."),
)


# Every path's operations on one router, so a path's GET and POST (the deals' list and a new deal) are one address.
router = Router()


# --- Errors: one shape for all ----------------------------------------------------------------------------------


@api.exception_handler(ApplicationError)
def _refused(request, exc: ApplicationError):
    return error_response(status_of_refusal(exc), exc.code, exc.message, exc.field)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(401, "unauthorized",
                          "Send a valid API token as 'Authorization: Bearer <token>' (unknown, revoked or expired "
                          "tokens are refused).")


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "payload",
                                                                         "filters", "__root__")]
    field = where[-1] if where else None
    message = str(first.get("msg", "The request is not valid."))
    return error_response(422, "invalid", f"{field}: {message}" if field else message, field)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(404, "not-found", "No such record, or not one you can see.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code = {400: "bad-request", 405: "method-not-allowed", 429: "throttled"}.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc))


@api.exception_handler(Exception)
def _failed(request, exc: Exception):
    log.exception("API request failed: %s %s", request.method, request.path)
    return error_response(500, "server-error", "psops failed to answer; the failure is logged.")


# --- Who am I ---------------------------------------------------------------------------------------------------


class Me(Schema):
    id: int
    username: str
    name: str
    email: str
    roles: list[str]


@api.get("/me", response={200: Me, **ERRORS}, tags=["You"], summary="The person the token stands for")
def me(request):
    user = request.auth
    return {"id": user.pk, "username": user.username, "name": user.get_full_name() or user.username,
            "email": user.email, "roles": sorted(roles.roles_of(user))}


class Person(Schema):
    id: int
    username: str
    name: str
    roles: list[str]


# --- Reading ----------------------------------------------------------------------------------------------------


def _detail(user, resource: Resource, pk: int) -> models.Model:
    if resource.model_name in KINDS:
        return visible(user, resource.model_name, pk)[1]
    if not resource.listing.may(user):
        raise ApplicationError(code="forbidden", message=resource.listing.refusal)
    record = resource.listing.rows(user, dict(resource.every)).filter(pk=pk).first()
    if record is None:
        raise Http404
    return record


def _filters_schema(resource: Resource, listing: Listing):
    fields: dict[str, Any] = {}
    body = schema_of(listing.form, f"{resource.model.__name__}ListFilters")
    for name, info in body.model_fields.items():
        fields[name] = (info.annotation, Field(default=None if info.annotation is not bool else False,
                                               description=info.description))
    columns = sorted(listing.sorts)
    fields["sort"] = (str | None, Field(default=None, max_length=40, description=(
        f"One of: {', '.join(columns)}; a leading '-' sorts descending. Default {listing.default_sort}.")))
    fields["page"] = (int, Field(default=1, ge=1, le=MAX_PAGE))
    fields["page_size"] = (int, Field(default=PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE))
    return create_model(f"{resource.model.__name__}ListQuery", __base__=Schema, **fields)


def act_operation_id(model_name: str, code: str) -> str:
    return f"{model_name}_{code.replace('-', '_')}"


def _links(status: int, pointer: str, operations: list[str]) -> dict:
    """OpenAPI links from a response to the operations that take its record's id (`pointer` into the body): what a
    client (and schemathesis's stateful run) follows from one call to the next."""
    return {"responses": {status: {"links": {
        op: {"operationId": op, "parameters": {"id": f"$response.body#{pointer}"}} for op in operations}}}}


def _next_operations(model_name: str) -> list[str]:
    """From a record: read it again, ask what may be done, and each of its acts."""
    if model_name not in KINDS:
        return [f"read_{model_name}"]
    return [f"read_{model_name}", f"acts_{model_name}",
            *(act_operation_id(model_name, act.code) for act in act_registry.acts_for(model_name))]


def _add_reading(router: Router, resource: Resource) -> None:
    concrete = [f for f in resource.model._meta.concrete_fields if f.name not in resource.exclude]
    # A JSON column holds whatever its record keeps there (an object, a list): declared as any JSON value.
    free = [(f.name, Any, None) for f in concrete if isinstance(f, models.JSONField)]
    shown = [f.name for f in concrete if not isinstance(f, models.JSONField)]
    out = create_schema(resource.model, name=f"{resource.model.__name__}Out", fields=shown, custom_fields=free)
    page_of = create_model(f"{resource.model.__name__}Page", __base__=Schema, items=(list[out], ...),  # type: ignore[valid-type]
                           page=(int, ...), page_size=(int, ...), has_next=(bool, ...))
    listing = resource.listing
    query = _filters_schema(resource, listing)

    def list_records(request, filters: Query[query]):  # type: ignore[valid-type]
        asked: Any = filters
        user = request.auth
        if not listing.may(user):
            raise ApplicationError(code="forbidden", message=listing.refusal)
        given = asked.model_dump(exclude={"sort", "page", "page_size"}, exclude_none=True)
        form = listing.form({k: ("on" if v is True else v) for k, v in given.items() if v is not False})
        if not form.is_valid():
            field, problems = next(iter(form.errors.items()))
            raise ApplicationError(code="invalid", message=f"{field}: {problems[0]}", field=field)
        key = asked.sort or listing.default_sort
        if key.removeprefix("-") not in listing.sorts:
            raise ApplicationError(code="invalid", field="sort",
                                   message=f"sort: one of {', '.join(sorted(listing.sorts))}, or with a leading '-'.")
        column = listing.sorts[key.removeprefix("-")]
        sign = "-" if key.startswith("-") else ""
        rows = listing.rows(user, filters_of(form)).order_by(f"{sign}{column}", f"{sign}pk")
        start = (asked.page - 1) * asked.page_size
        got = list(rows[start:start + asked.page_size + 1])
        return {"items": got[:asked.page_size], "page": asked.page, "page_size": asked.page_size,
                "has_next": len(got) > asked.page_size}

    def read_record(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
        return _detail(request.auth, resource, id)

    name = resource.model_name
    router.add_api_operation(f"/{resource.path}/", ["GET"], list_records, response={200: page_of, **ERRORS},
                             tags=[resource.title], summary=f"List {resource.title.lower()}",
                             operation_id=f"list_{name}", openapi_extra=_links(200, "/items/0/id", [f"read_{name}"]))
    router.add_api_operation(f"/{resource.path}/{{id}}", ["GET"], read_record, response={200: out, **ERRORS},
                             tags=[resource.title], summary=f"Read one of the {resource.title.lower()}",
                             operation_id=f"read_{name}", openapi_extra=_links(200, "/id", _next_operations(name)[1:]))


# --- Acts -------------------------------------------------------------------------------------------------------


class ActDone(Schema):
    message: str = Field(description="What was done, as the page says it.")
    kind: str = Field(description="The kind of the record the act leaves you on (a new one, for acts that make one).")
    id: int
    href: str = Field(description="Where to read that record in this API.")


class ActOffer(Schema):
    code: str
    label: str
    allowed: bool
    why_not: str = Field(description="Why not, when the act is in view but refused to you now ('' otherwise).")
    href: str


PATHS = {resource.model_name: resource.path for resource in RESOURCES}


def _href(model_name: str, pk: int) -> str:
    return f"/api/v1/{PATHS[model_name]}/{pk}"


def _add_acts(router: Router, resource: Resource) -> None:
    model_name = resource.model_name

    def acts_now(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
        record = visible(request.auth, model_name, id)[1]
        offers = []
        for act in act_registry.acts_for(model_name):
            refused = act.refusal(request.auth, record)
            if refused is None or refused.code not in ("not-now", "forbidden"):
                offers.append({"code": act.code, "label": act.label, "allowed": refused is None,
                               "why_not": "" if refused is None else refused.message,
                               "href": f"{_href(model_name, id)}/{act.code}"})
        return offers

    router.add_api_operation(f"/{resource.path}/{{id}}/acts", ["GET"], acts_now,
                             response={200: list[ActOffer], **ERRORS}, tags=[resource.title],
                             summary="What you may do on this record now", operation_id=f"acts_{model_name}")
    for act in act_registry.acts_for(model_name):
        _add_act(router, resource, act)


def _add_act(router: Router, resource: Resource, act: act_registry.Act) -> None:
    model_name = resource.model_name
    body = schema_of(act.form, f"{resource.model.__name__}_{act.code.replace('-', '_')}_body".title()
                     .replace("_", ""))

    def do_act(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
        return idempotency.once(request, lambda: _run(request, id))

    def _run(request, pk: int) -> tuple[int, dict]:
        user = request.auth
        record = visible(user, model_name, pk)[1]
        refused = act.refusal_of_post(user, record)
        if refused is not None:
            raise refused
        # Read only now, as the page reads its form only after the act's check: a refused act says why it is
        # refused whatever the body holds.
        payload = body_of(request, body)
        data, files = form_input(act.code, payload)
        form = act.make_form(user, record, data, files)
        if form is not None and not form.is_valid():
            field, problems = next(iter(form.errors.items()))
            field_name = None if field == "__all__" else field
            raise ApplicationError(code="invalid", message=str(problems[0]), field=field_name or "")
        result = act.run(user, record, form.cleaned_data if form is not None else {})
        message = act.success(result) if callable(act.success) else act.success
        made = (act.opens_result and isinstance(result, models.Model) and result._meta.model_name in KINDS)
        target = result if made else record
        name = target._meta.model_name
        return (201 if made else 200), {"message": message, "kind": name, "id": target.pk,
                                        "href": _href(name, target.pk)}

    refusal_words = ("The body is the act's form on the record page; the act is refused as on the page "
                     "(403 not yours, 409 not now, 422 a field).")
    # A 200 leaves the caller on the same record: its next operations follow. (A 201 made a record whose kind
    # depends on the act: its `href` says where it is.)
    extra = {**body_in_openapi(body), **_links(200, "/id", _next_operations(model_name))}
    router.add_api_operation(f"/{resource.path}/{{id}}/{act.code}", ["POST"], do_act,
                             response={200: ActDone, 201: ActDone, **ERRORS}, tags=[resource.title],
                             summary=act.label, description=refusal_words, openapi_extra=extra,
                             operation_id=act_operation_id(model_name, act.code))


# --- Acts that start a record, or work across records ---------------------------------------------------------------


def _cleaned(form) -> dict:
    """The form's cleaned data, or the first of its refusals as a 422 naming the field."""
    if not form.is_valid():
        field, problems = next(iter(form.errors.items()))
        raise ApplicationError(code="invalid", message=str(problems[0]), field=None if field == "__all__" else field)
    return form.cleaned_data


def _done(message: str, record: models.Model, status: int = 201) -> tuple[int, dict]:
    name = str(record._meta.model_name)
    return status, {"message": message, "kind": name, "id": record.pk, "href": _href(name, record.pk)}


NewDealBody = schema_of(NewDealForm, "NewDealBody")


@router.post("/opportunities/", response={201: ActDone, **ERRORS}, tags=["Deals"],
             summary="Start a deal (step 1): the account (existing or new), a first contact, the deal and its team",
             openapi_extra=_links(201, "/id", _next_operations("opportunity")))
def deal_create(request, payload: NewDealBody):  # type: ignore[valid-type]
    def run():
        data, _ = form_input("deal", payload)
        form = NewDealForm({k.removeprefix("deal-"): v for k, v in data.items()}, user=request.auth)
        deal = crm.deal_open(user=request.auth, **_cleaned(form))
        return _done("Deal created.", deal)
    return idempotency.once(request, run)


MAX_ANSWERS = 60
Answers = dict[str, int | str]


class RomNew(Schema):
    model_config = {"extra": "forbid"}
    opportunity: int = Field(ge=1, le=BIGGEST_ID, description="The deal the ROM is for.")
    template: str = Field(max_length=40, description=f"One of: {', '.join(sorted(calculator.TEMPLATES))}.")
    answers: Answers = Field(default_factory=dict, max_length=MAX_ANSWERS,
                             description="The calculator's questions answered, by name; unanswered ones take their "
                                         "defaults.")
    assumptions: str = Field(default="", max_length=2000)


class RomRevision(Schema):
    model_config = {"extra": "forbid"}
    answers: Answers = Field(default_factory=dict, max_length=MAX_ANSWERS)
    assumptions: str = Field(default="", max_length=2000)


@router.post("/roms/", response={201: ActDone, **ERRORS}, tags=["ROMs"],
             summary="Build a ROM with the services calculator (step 2)",
             openapi_extra=_links(201, "/id", _next_operations("rom")))
def rom_create(request, payload: RomNew):
    def run():
        deal = visible(request.auth, "opportunity", payload.opportunity)[1]
        rom = estimating.rom_create(user=request.auth, opportunity=deal, template=payload.template,
                                    answers=answers_of(payload.answers), assumptions=payload.assumptions)
        return _done(f"Saved as {rom}. Send it for approval when ready.", rom)
    return idempotency.once(request, run)


@router.post("/roms/{id}/revise", response={200: ActDone, **ERRORS}, tags=["ROMs"],
             summary="Recalculate a ROM as a new version (after discovery, or a change of scope)",
             openapi_extra=_links(200, "/id", _next_operations("rom")))
def rom_revise(request, payload: RomRevision, id: int = Path(..., ge=1, le=BIGGEST_ID)):
    def run():
        rom = visible(request.auth, "rom", id)[1]
        version = estimating.rom_revise(user=request.auth, rom=rom, answers=answers_of(payload.answers),
                                        assumptions=payload.assumptions)
        return _done(f"Saved as v{version.number} of {rom}. Send it for approval when ready.", rom, 200)
    return idempotency.once(request, run)


WeekBody = schema_of(WeekForm, "TimeWeekBody")


class Approved(Schema):
    message: str
    approved: int


@router.post("/time/approve", response={200: Approved, **ERRORS}, tags=["Projects"],
          summary="Approve an engineer's week of time (a PS manager, never their own)")
def time_approve(request, payload: WeekBody):  # type: ignore[valid-type]
    def run():
        delivery.time_approve_week_check(user=request.auth)
        data, _ = form_input("week", payload)
        cleaned = _cleaned(WeekForm({k.removeprefix("week-"): v for k, v in data.items()}))
        engineer, week = cleaned["engineer"], cleaned["week"]
        done = delivery.time_approve_week(user=request.auth, engineer=engineer, week=week)
        return 200, {"message": f"Approved {done} time entr{'y' if done == 1 else 'ies'} of {engineer}, week of "
                                f"{week:%Y-%m-%d}.", "approved": done}
    return idempotency.once(request, run)


class IssueRun(Schema):
    model_config = {"extra": "forbid"}
    invoices: list[Annotated[int, Field(ge=1, le=BIGGEST_ID)]] = Field(
        min_length=1, max_length=billing.BATCH_MAX, description="The drafts to issue, all or none.")


class Issued(Schema):
    message: str
    issued: list[dict[str, Any]]


@router.post("/invoices/issue", response={200: Issued, **ERRORS}, tags=["Invoices"],
             summary="A billing run: issue drafts, all or none")
def invoices_issue(request, payload: IssueRun):
    def run():
        done = billing.invoices_issue(user=request.auth, invoices=payload.invoices)
        return 200, {"message": f"Issued {len(done)} invoice{'s' * (len(done) != 1)}.",
                     "issued": [{"id": i.pk, "number": i.number, "href": _href("invoice", i.pk)} for i in done]}
    return idempotency.once(request, run)


class PaymentIn(Schema):
    model_config = {"extra": "forbid"}
    invoice: int = Field(ge=1, le=BIGGEST_ID)
    amount: Decimal
    received_on: dt.date
    reference: str = Field(default="", max_length=100)


class PaymentsIn(Schema):
    model_config = {"extra": "forbid"}
    payments: list[PaymentIn] = Field(min_length=1, max_length=billing.BATCH_MAX)


class Recorded(Schema):
    message: str
    recorded: int


@router.post("/payments", response={201: Recorded, **ERRORS}, tags=["Invoices"],
             summary="Record payments (a bank file's worth), all or none")
def payments_record(request, payload: PaymentsIn):
    def run():
        lines = [billing.PaymentLine(invoice=p.invoice, amount=str(p.amount), received_on=p.received_on,
                                     reference=p.reference, line=n) for n, p in enumerate(payload.payments, start=1)]
        done = billing.payments_record(user=request.auth, lines=lines)
        return 201, {"message": f"Recorded {len(done)} payment{'s' * (len(done) != 1)}.", "recorded": len(done)}
    return idempotency.once(request, run)


class Reminded(Schema):
    message: str
    sent: dict[str, int] = Field(description="Reminders sent, by level.")


@router.post("/collections/remind", response={200: Reminded, **ERRORS}, tags=["Invoices"],
             summary="The reminder run: every collection case due for its next reminder gets it",
             openapi_extra=body_in_openapi(schema_of(None, "RemindBody")))
def collections_remind(request):
    def run():
        sent = billing.collection_remind_due(user=request.auth)
        return 200, {"message": billing.reminder_run_summary(sent),
                     "sent": {str(level): count for level, count in sorted(sent.items())}}
    return idempotency.once(request, run)


class MessageIn(Schema):
    model_config = {"extra": "forbid"}
    body: str = Field(min_length=1, max_length=5000, description="Type @username to notify someone.")
    kind: Literal[tuple(Message.Kind.values)] = Message.Kind.COMMENT  # type: ignore[valid-type]
    parent: int | None = Field(default=None, ge=1, le=BIGGEST_ID, description="The message this answers.")


def _add_messages(resource: Resource) -> None:
    model_name = resource.model_name

    def post_message(request, payload: MessageIn, id: int = Path(..., ge=1, le=BIGGEST_ID)):
        def run():
            record, deal = visible(request.auth, model_name, id)[1:]
            thread = thread_for(deal)
            parent = thread.messages.filter(pk=payload.parent).first() if payload.parent else None
            if payload.parent and parent is None:
                raise ApplicationError(code="invalid", field="parent",
                                       message="That message is not in this engagement's thread.")
            posted = message_post(user=request.auth, thread=thread, body=payload.body, kind=payload.kind,
                                  subject=record, parent=parent)
            return 201, {"message": posted_message(posted), "kind": model_name, "id": id,
                         "href": _href(model_name, id)}
        return idempotency.once(request, run)

    router.add_api_operation(f"/{resource.path}/{{id}}/messages", ["POST"], post_message,
                             response={201: ActDone, **ERRORS}, tags=[resource.title],
                             summary="Post to the engagement's thread (@username notifies)",
                             operation_id=f"{model_name}_message")


# --- Documents ----------------------------------------------------------------------------------------------------


class DocumentOut(Schema):
    id: int
    kind: str
    format: str
    version: int
    state: str = Field(description="queued, rendering, ready or failed")
    filename: str
    sha256: str
    created_at: dt.datetime
    signed: str = Field(description="Who signed or accepted this very file ('' if nobody).")
    warning: str = Field(description="Why the stored file is not the one signed ('' if it is).")
    error: str
    href: str | None = Field(description="Where to download it (ready documents only).")


def _add_documents(resource: Resource) -> None:
    model_name = resource.model_name

    def list_documents(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
        record = visible(request.auth, model_name, id)[1]
        return [{"id": row.document.pk, "kind": row.document.kind, "format": row.document.format,
                 "version": row.document.version, "state": row.document.state, "filename": row.document.filename,
                 "sha256": row.document.sha256, "created_at": row.document.created_at, "signed": row.signed,
                 "warning": row.warning, "error": row.document.error,
                 "href": f"/api/v1/documents/{row.document.pk}" if row.document.state == Document.State.READY
                 else None}
                for row in documents_on_page(record) or []]

    router.add_api_operation(f"/{resource.path}/{{id}}/documents", ["GET"], list_documents,
                             response={200: list[DocumentOut], **ERRORS}, tags=[resource.title],
                             summary="The record's documents, newest first (a page's worth)",
                             operation_id=f"{model_name}_documents")


@router.get("/documents/{id}", response={200: None, **ERRORS}, tags=["Documents"],
            summary="Download a document (the file itself: PDF or Word)",
            openapi_extra={"responses": {200: {"description": "The file", "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {
                    "schema": {"type": "string", "format": "binary"}}}}}})
def document_download(request, id: int = Path(..., ge=1, le=BIGGEST_ID)):
    document = downloadable(user=request.auth, pk=id)
    if document is None:
        raise Http404
    data = read_bytes(document)
    if data is None:
        raise ApplicationError(code="file-missing", message=f"The file of {document} is missing from storage; make "
                                                            "a new version from its record.")
    return document_response(document, data)


# --- People (to name an SA, a TAM or an engineer in an act) ---------------------------------------------------------


class PeopleQuery(Schema):
    role: str | None = Field(default=None, max_length=40, description="Only the holders of this role.")
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


@api.get("/people/", response={200: list[Person], **ERRORS}, tags=["You"],
         summary="Active people, to name in an act (25 a page)")
def people(request, filters: Query[PeopleQuery]):
    if not roles.roles_of(request.auth) and not request.auth.is_superuser:
        raise ApplicationError(code="forbidden", message="Lists are for people who hold a role.")
    qs = get_user_model().objects.filter(is_active=True).order_by("username").prefetch_related("groups")
    if filters.role:
        if filters.role not in roles.ROLES:
            raise ApplicationError(code="invalid", field="role",
                                   message=f"role: one of {', '.join(sorted(roles.ROLES))}.")
        qs = qs.filter(groups__name=filters.role)
    start = (filters.page - 1) * PAGE_SIZE
    return [{"id": u.pk, "username": u.username, "name": u.get_full_name() or u.username,
             "roles": sorted(g.name for g in u.groups.all())} for u in qs[start:start + PAGE_SIZE]]


def _build() -> None:
    for resource in RESOURCES:
        _add_reading(router, resource)
        if resource.model_name in KINDS:
            _add_acts(router, resource)
            _add_messages(resource)
            _add_documents(resource)
    api.add_router("", router)
    api.add_router("", workspace)
    api.add_router("", administration)


_build()
