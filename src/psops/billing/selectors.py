"""Reads for Finance: open balances, ageing and collections, at a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.roles import has_role

from .ageing import BUCKETS, bucket
from .models import CollectionCase, CreditNote, Invoice, Payment, WriteOff

MONEY: DecimalField = DecimalField(max_digits=16, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)


def _sum_of(model, **filters) -> Coalesce:
    rows = (model.objects.filter(invoice=OuterRef("pk"), **filters).order_by().values("invoice")
            .annotate(t=Sum("amount")).values("t"))
    return Coalesce(Subquery(rows, output_field=MONEY), ZERO)


def with_balance(qs: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Annotate each invoice with what is still owed on it (issued invoices; zero otherwise is the caller's filter)."""
    return qs.annotate(balance=F("amount") - _sum_of(Payment) - _sum_of(CreditNote)
                       - _sum_of(WriteOff, state=WriteOff.State.APPROVED))


def open_invoices(*, user: Any) -> QuerySet[Invoice]:
    """Issued, unpaid invoices with their balance; Finance and the controller see them."""
    if not (user.is_superuser or has_role(user, roles.FINANCE, roles.CONTROLLER)):
        return Invoice.objects.none()
    return with_balance(Invoice.objects.filter(state=Invoice.State.ISSUED)
                        .select_related("project__ps_opportunity__parent__account"))


def with_collection_figures(qs: QuerySet[CollectionCase]) -> QuerySet[CollectionCase]:
    """Annotate cases with `outstanding` (open balance of the project) and `oldest_due` (oldest open invoice)."""
    per_project = with_balance(Invoice.objects.filter(project=OuterRef("project"), state=Invoice.State.ISSUED))
    outstanding = per_project.order_by().values("project").annotate(t=Sum("balance")).values("t")
    oldest = (Invoice.objects.filter(project=OuterRef("project"), state=Invoice.State.ISSUED).order_by("due_date")
              .values("due_date")[:1])
    return qs.annotate(outstanding=Coalesce(Subquery(outstanding, output_field=MONEY), ZERO),
                       oldest_due=Subquery(oldest))


def collection_list(*, user: Any, today: dt.date | None = None) -> list[CollectionCase]:
    """Open collection cases with `outstanding`, `oldest_due` and the ageing `bucket` of the oldest open invoice."""
    if not (user.is_superuser or has_role(user, roles.FINANCE, roles.CONTROLLER)):
        return []
    today = today or timezone.localdate()
    cases = list(with_collection_figures(CollectionCase.objects.filter(state=CollectionCase.State.OPEN))
                 .select_related("project__ps_opportunity__parent__account").order_by("oldest_due", "pk"))
    for case in cases:
        case.bucket = bucket(case.oldest_due, today)  # type: ignore[attr-defined]
    return cases


def ageing(*, user: Any, today: dt.date | None = None) -> dict[str, Decimal]:
    """Accounts receivable by ageing bucket, over every issued invoice."""
    today = today or timezone.localdate()
    totals = dict.fromkeys(BUCKETS, Decimal("0.00"))
    for invoice in open_invoices(user=user):
        totals[bucket(invoice.due_date, today)] += invoice.balance  # type: ignore[attr-defined]
    return totals


def may_list_invoices(user: Any) -> bool:
    """Finance and the controller (and superusers) read invoices and receivables."""
    return bool(user.is_superuser or has_role(user, roles.FINANCE, roles.CONTROLLER))


def invoice_list(*, user: Any, filters: dict | None = None) -> QuerySet[Invoice]:
    """Every invoice (drafts, issued, paid, void) with its `balance`, project and account; Finance and the
    controller only. Filter: `state`."""
    if not may_list_invoices(user):
        return Invoice.objects.none()
    qs = with_balance(Invoice.objects.select_related("project__ps_opportunity__parent__account"))
    filters = filters or {}
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    return qs


def invoice_rows(invoices: list[Invoice], *, today: dt.date | None = None) -> list[Invoice]:
    """Rows of `invoice_list` ready for a page: `owed` (the balance of an issued invoice, 0 once paid, None for a
    draft or a void one) and `bucket` (the ageing bucket of an issued invoice with a due date, else None)."""
    today = today or timezone.localdate()
    for invoice in invoices:
        issued = invoice.state == Invoice.State.ISSUED
        invoice.owed = (invoice.balance if issued  # type: ignore[attr-defined]
                        else Decimal("0.00") if invoice.state == Invoice.State.PAID else None)
        invoice.bucket = (bucket(invoice.due_date, today)  # type: ignore[attr-defined]
                          if issued and invoice.due_date is not None else None)
    return invoices
