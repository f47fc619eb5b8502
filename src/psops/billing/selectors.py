"""Reads for Finance: open balances, ageing and collections, at a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Case, CharField, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
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
    """Annotate each invoice with `balance`, what is still owed on it: the open balance kept on its row by the
    services that move money (decision 0009), so a list sorts and sums it through an index, not a subquery per row."""
    return qs.annotate(balance=F("open_balance"))


def balances_from_history(qs: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """`qs` annotated with `paid_from_history` and `balance_from_history`, recomputed in SQL from the payments, credit
    notes and approved write-offs: the reference the maintained columns are checked against."""
    owed = F("amount") - _sum_of(Payment) - _sum_of(CreditNote) - _sum_of(WriteOff, state=WriteOff.State.APPROVED)
    return qs.annotate(paid_from_history=_sum_of(Payment),
                       balance_from_history=Case(When(state=Invoice.State.ISSUED, then=owed), default=ZERO,
                                                 output_field=MONEY))


def case_figures(invoice_model: Any = Invoice) -> dict[str, Any]:
    """A collection case's `outstanding` and `oldest_due` recomputed in SQL from its project's issued invoices: what
    the billing services keep on the case (`billing.services.keep_case_figures`), the migration filled it with
    (`invoice_model` is then the historical model) and the invariant `collections-kept` checks it against."""
    open_ones = invoice_model.objects.filter(project=OuterRef("project"), state="issued")
    owed = open_ones.order_by().values("project").annotate(t=Sum("open_balance")).values("t")
    return {"outstanding": Coalesce(Subquery(owed, output_field=MONEY), ZERO),
            "oldest_due": Subquery(open_ones.order_by("due_date").values("due_date")[:1])}


def collections_open(*, user: Any) -> QuerySet[CollectionCase]:
    """Open collection cases, Finance and the controller only; `collection_list` reads a page of them."""
    return collection_cases(user=user)


def collection_cases(*, user: Any, filters: dict | None = None) -> QuerySet[CollectionCase]:
    """Collection cases with their project, deal and account; Finance and the controller only. Filters: `state`
    ("" the open ones, "closed", or "all"), `disputed`, `due` (those the reminder run would remind now)."""
    if not may_list_invoices(user):
        return CollectionCase.objects.none()
    filters = filters or {}
    state = filters.get("state") or CollectionCase.State.OPEN
    qs = CollectionCase.objects.select_related("project__ps_opportunity__parent__account")
    if state != "all":
        qs = qs.filter(state=state)
    if filters.get("disputed"):
        qs = qs.filter(disputed=True)
    if filters.get("due"):
        qs = qs.filter(pk__in=reminders_due().values("pk"))
    return qs


REMINDER_EVERY = dt.timedelta(days=7)  # the reminder run reminds a case again once a week at most


def reminders_due(*, now: dt.datetime | None = None) -> QuerySet[CollectionCase]:
    """The cases the reminder run reminds: open, not disputed, with an invoice past its due date (the oldest due
    date kept on the case), and not reminded in the last `REMINDER_EVERY`, by the run or by hand."""
    now = now or timezone.now()
    return (CollectionCase.objects.filter(state=CollectionCase.State.OPEN, disputed=False,
                                          oldest_due__lt=timezone.localdate(now))
            .filter(Q(last_reminder_at__isnull=True) | Q(last_reminder_at__lte=now - REMINDER_EVERY)))


def collection_list(*, user: Any, limit: int, today: dt.date | None = None) -> list[CollectionCase]:
    """The `limit` open collection cases overdue longest, the longest first, each with the ageing `bucket` of its
    oldest open invoice: read through the index on the oldest due date kept on the case."""
    return collection_rows(list(collections_open(user=user).order_by(F("oldest_due").asc(nulls_last=True), "pk")
                                [:limit]), today=today)


def collection_rows(cases: list[CollectionCase], *, today: dt.date | None = None) -> list[CollectionCase]:
    """Cases ready for a page: `bucket`, the ageing bucket of the oldest open invoice (None when nothing is owed)."""
    today = today or timezone.localdate()
    for case in cases:
        case.bucket = bucket(case.oldest_due, today) if case.oldest_due else None  # type: ignore[attr-defined]
    return cases


def bucket_of(day: dt.date, via: str = "") -> Case:
    """The SQL twin of `ageing.bucket` as of `day`: an invoice's ageing bucket from its due date (`via` leads to the
    invoice from a payment, credit note or write-off: "invoice__")."""
    due = f"{via}due_date"

    def due_on_or_after(days_late: int) -> dict[str, dt.date]:
        return {f"{due}__gte": day - dt.timedelta(days=days_late)}

    return Case(When(Q(**{f"{due}__isnull": True}) | Q(**due_on_or_after(0)), then=Value("current")),
                When(**due_on_or_after(30), then=Value("1-30")),
                When(**due_on_or_after(60), then=Value("31-60")),
                When(**due_on_or_after(90), then=Value("61-90")),
                default=Value("over-90"), output_field=CharField())


def _by_bucket(rows: QuerySet, day: dt.date, amount: str, via: str = "") -> dict[tuple[str, str], Decimal]:
    """Sum `amount` over `rows`, grouped in SQL by the currency and the ageing bucket (as of `day`) of the invoice
    `via` leads to."""
    grouped = (rows.order_by().annotate(age=bucket_of(day, via), cur=F(f"{via}currency")).values("cur", "age")
               .annotate(total=Sum(amount)).values_list("cur", "age", "total"))
    return {(cur, age): total or Decimal("0.00") for cur, age, total in grouped}


def ageing_by_currency(*, user: Any, today: dt.date | None = None,
                       as_of: dt.date | None = None) -> dict[str, dict[str, Decimal]]:
    """Accounts receivable by currency, then by ageing bucket, in SQL: amounts in different currencies are never
    added together. The default currency is always there (zeros when nothing is owed in it).

    Now: the open balances kept on the invoices, grouped by bucket (one query over the open invoices' partial
    index). As of a day: what was owed at the end of that day, from the history: invoices issued by then, less the
    payments received, credit notes issued and write-offs approved by then (what was settled later is added back),
    aged as of that day. Four grouped queries, whatever the number of invoices."""
    zeros = dict.fromkeys(BUCKETS, Decimal("0.00"))
    default = settings.PSOPS["DEFAULT_CURRENCY"]
    if not may_list_invoices(user):
        return {default: zeros}
    if as_of is None:
        owed = _by_bucket(Invoice.objects.filter(state=Invoice.State.ISSUED), today or timezone.localdate(),
                          "open_balance")
    else:
        end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))

        def issued_by_then(via: str = "") -> Q:
            return Q(**{f"{via}state__in": [Invoice.State.ISSUED, Invoice.State.PAID],
                        f"{via}issue_date__lte": as_of})

        billed = _by_bucket(Invoice.objects.filter(issued_by_then()), as_of, "amount")
        on_invoice = "invoice__"
        settled = [
            _by_bucket(Payment.objects.filter(issued_by_then(on_invoice), received_on__lte=as_of), as_of, "amount",
                       on_invoice),
            _by_bucket(CreditNote.objects.filter(issued_by_then(on_invoice), created_at__lt=end), as_of, "amount",
                       on_invoice),
            _by_bucket(WriteOff.objects.filter(issued_by_then(on_invoice), state=WriteOff.State.APPROVED,
                                               decided_at__lt=end), as_of, "amount", on_invoice),
        ]
        owed = {key: total - sum((part.get(key, Decimal("0.00")) for part in settled), Decimal("0.00"))
                for key, total in billed.items()}
    currencies = sorted({cur for cur, _ in owed} - {default})
    return {cur: {age: owed.get((cur, age), zero) for age, zero in zeros.items()} for cur in [default, *currencies]}


def ageing(*, user: Any, today: dt.date | None = None, as_of: dt.date | None = None,
           currency: str | None = None) -> dict[str, Decimal]:
    """`ageing_by_currency` of one currency (the default currency unless named)."""
    wanted = currency or settings.PSOPS["DEFAULT_CURRENCY"]
    return ageing_by_currency(user=user, today=today, as_of=as_of).get(wanted, dict.fromkeys(BUCKETS,
                                                                                             Decimal("0.00")))


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
