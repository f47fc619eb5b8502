"""Billing (step 12) and collections (step 16).

Invariants, each enforced here in one place: an event is billed once (unique billing key per project); what is
billed never exceeds the SOW's value plus change orders; payments, credits and write-offs never exceed what is owed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.mail import EmailMessage, send_mail, send_mass_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.db.models.functions import Least
from django.utils import timezone

from psops.activity.services import events_record, notify, notify_each, threads_of
from psops.approvals.services import approvers_for
from psops.core.bulk import update_each
from psops.core.errors import ApplicationError
from psops.core.money import parse_amount, quantize
from psops.core.permissions import require
from psops.crm.models import Contact
from psops.crm.services import contact_check, record, save_transition
from psops.delivery.models import ChangeOrder, MilestoneAcceptance, Project, TimeEntry, WrapUp
from psops.delivery.services import project_value, wrap_up_tick_final_invoice
from psops.documents import services as documents
from psops.documents.models import Kind
from psops.sales.choices import BillingTerms

from .models import CollectionAction, CollectionCase, CreditNote, Invoice, Payment, WriteOff
from .selectors import case_figures, reminders_due

ZERO = Decimal(0)
REMINDER_LEVELS = {1: "friendly reminder", 2: "firm reminder", 3: "final notice", 4: "escalation to the account owner"}


def _record(actor: Any, project: Project, subject: Any, verb: str, message: str, data: dict | None = None) -> None:
    record(actor=actor, opportunity=project.ps_opportunity.parent, subject=subject, verb=verb, message=message,
           data=data)


def billed_total(project: Project) -> Decimal:
    """Invoiced (not void) less credit notes."""
    invoiced = project.invoices.exclude(state=Invoice.State.VOID).aggregate(t=Sum("amount"))["t"] or ZERO
    credited = CreditNote.objects.filter(invoice__project=project).aggregate(t=Sum("amount"))["t"] or ZERO
    return invoiced - credited


def invoice_balance(invoice: Invoice) -> Decimal:
    """What is still owed on this invoice, as kept on its row (0 unless issued). Read it from a locked row when a
    decision depends on it."""
    return invoice.open_balance if invoice.state == Invoice.State.ISSUED else ZERO


def _settle_amount(invoice: Invoice, *, paid: Decimal = ZERO, settled: Decimal) -> None:
    """Money moved on a locked, issued invoice: keep its paid-to-date and open balance in step, in the caller's
    transaction (decision 0009)."""
    invoice.paid_to_date += paid
    invoice.open_balance -= settled
    invoice.save(update_fields=["paid_to_date", "open_balance"])


def _draft(*, actor: Any, project: Project, key: str, description: str, amount: Decimal) -> Invoice:
    """Draft one invoice for one billing event, refusing a second bill of the same event or billing above value."""
    amount = quantize(amount, project.currency)
    if amount <= 0:
        raise ApplicationError(code="nothing-to-bill", message=f"Nothing to bill for {description}.")
    value = project_value(project)
    if billed_total(project) + amount > value:
        raise ApplicationError(code="over-billing",
                               message=f"Billing {project.currency} {amount:,} would exceed the SOW's value "
                                       f"{value:,} (already billed {billed_total(project):,}); add a change order.")
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(project=project, billing_key=key, description=description,
                                             currency=project.currency, amount=amount, net_days=project.sow.net_days)
    except IntegrityError as exc:
        raise ApplicationError(code="already-billed", message=f"{description} is billed already.") from exc
    _record(actor, project, invoice, "invoice.drafted",
            f"Drafted an invoice for {description}: {project.currency} {amount:,}", {"key": key})
    return invoice


NOTHING_TO_BILL = "not required: nothing to bill"


def _nothing_to_bill(actor: Any, project: Project, subject: Any, when: str, why: str) -> None:
    """An automatic billing hand-off found nothing to bill: it drafts nothing and says so on the timeline."""
    _record(actor, project, subject, "invoice.not_required", f"No invoice {when}: {why}, nothing to bill")


def _zero_value(project: Project) -> bool:
    """A SOW priced at zero (free, "investment" services): its automatic hand-offs bill nothing."""
    return project.sow.price <= 0


def invoices_draft_on_win(*, actor: Any, project: Project) -> list[Invoice]:
    """Step 12: at Closed Won, the invoices the SOW's terms call for now. By default the entire amount, net 30.

    A zero-value SOW (free "investment" services) drafts nothing, so the deal still reaches Closed Won; explicit acts
    that bill (change orders, time and materials) still refuse a zero amount in `_draft`."""
    sow = project.sow
    if _zero_value(project):
        _nothing_to_bill(actor, project, project, "at Closed Won", f"{sow} is priced at {sow.currency} {sow.price:,}")
        return []
    drafts = []
    if sow.billing_terms == BillingTerms.FULL_ON_SIGNATURE:
        drafts.append(_draft(actor=actor, project=project, key="signature", description=f"{sow}: 100% on signature",
                             amount=sow.price))
    elif sow.billing_terms == BillingTerms.HALF_AND_HALF:
        drafts.append(_draft(actor=actor, project=project, key="signature", description=f"{sow}: 50% up front",
                             amount=quantize(sow.price / 2, sow.currency)))
    if drafts:
        notify(recipients=approvers_for(["finance"]), kind="invoice-drafted",
               text=f"Invoice to review and issue for {project}.", subject=drafts[0])
    return drafts


def invoice_draft_final(*, actor: Any, project: Project) -> Invoice | None:
    """At wrap-up: the completion invoice where the terms say so (the rest of a 50/50, or all of on-completion).

    With nothing to bill (a zero-value SOW, whatever its terms) it drafts nothing and ticks the wrap-up's final
    invoice item itself as "not required: nothing to bill" (the workflow's later tick then finds it done)."""
    sow = project.sow
    if _zero_value(project):
        wrap = WrapUp.objects.filter(project=project).first()
        if wrap is not None and wrap.items.filter(code="final-invoice", done_at__isnull=True).exists():
            wrap_up_tick_final_invoice(wrap=wrap, note=NOTHING_TO_BILL)
            _nothing_to_bill(actor, project, project, "on completion",
                             f"{sow} is priced at {sow.currency} {sow.price:,}")
        return None
    if sow.billing_terms not in (BillingTerms.HALF_AND_HALF, BillingTerms.ON_COMPLETION):
        return None
    if project.invoices.filter(billing_key="completion").exclude(state=Invoice.State.VOID).exists():
        return None
    billed_sow = (project.invoices.exclude(state=Invoice.State.VOID).filter(billing_key="signature")
                  .aggregate(t=Sum("amount"))["t"] or ZERO)
    return _draft(actor=actor, project=project, key="completion", description=f"{sow}: on completion",
                  amount=sow.price - billed_sow)


def invoice_draft_milestone(*, actor: Any, acceptance: MilestoneAcceptance) -> Invoice | None:
    project = acceptance.project
    if project.sow.billing_terms != BillingTerms.MILESTONES:
        return None
    milestone = acceptance.milestone
    return _draft(actor=actor, project=project, key=f"milestone:{milestone.pk}",
                  description=f"Milestone '{milestone.name}' accepted", amount=milestone.amount)


def invoice_draft_change_order(*, actor: Any, change_order: ChangeOrder) -> Invoice:
    return _draft(actor=actor, project=change_order.project, key=f"change-order:{change_order.pk}",
                  description=f"Change order: {change_order.description}", amount=change_order.amount)


def invoice_draft_time(*, user: Any, project: Project, month: dt.date) -> Invoice:
    """Time and materials: one invoice per month from approved, unbilled time at the SOW's hourly rate."""
    require(user, "billing.manage_invoices", message="Only Finance bills time.")
    sow = project.sow
    if sow.billing_terms != BillingTerms.TIME_AND_MATERIALS:
        raise ApplicationError(code="not-time-and-materials", message=f"{sow} is not billed on time and materials.")
    key = f"time:{month:%Y-%m}"
    with transaction.atomic():
        entries = list(TimeEntry.objects.select_for_update().filter(
            project=project, approved_at__isnull=False, billed_key="", date__year=month.year,
            date__month=month.month))
        hours = sum((e.hours for e in entries), ZERO)
        if not entries:
            raise ApplicationError(code="nothing-to-bill", message=f"No approved, unbilled time in {month:%B %Y}.")
        invoice = _draft(actor=user, project=project, key=key, description=f"Time and materials {month:%B %Y}: "
                                                                           f"{hours} h", amount=hours * sow.hourly_rate)
        TimeEntry.objects.filter(pk__in=[e.pk for e in entries]).update(billed_key=key)
    return invoice


def invoices_issue_check(*, user: Any) -> None:
    require(user, "billing.manage_invoices", message="Only Finance issues invoices.")


def _issuable(invoice: Invoice) -> None:
    if invoice.state != Invoice.State.DRAFT:
        raise ApplicationError(code="invoice-not-draft", message=f"{invoice} is {invoice.get_state_display().lower()}.")


def invoice_issue_check(*, user: Any, invoice: Invoice) -> None:
    invoices_issue_check(user=user)
    _issuable(invoice)


def invoice_issue(*, user: Any, invoice: Invoice, issue_date: dt.date | None = None) -> Invoice:
    """Finance reviews a draft and issues it: it gets its number and its due date (net days)."""
    invoices_issue(user=user, invoices=[invoice], issue_date=issue_date)
    invoice.refresh_from_db()
    return invoice


# The most records one batch act takes (a billing run, a bank file): larger sets are split by the caller.
BATCH_MAX = 2000


def _batch_ids(items: Iterable[Any], what: str) -> list[int]:
    ids = sorted({getattr(item, "pk", item) for item in items})
    if not ids:
        raise ApplicationError(code="nothing-selected", message=f"Choose the {what} first.")
    if len(ids) > BATCH_MAX:
        raise ApplicationError(code="batch-too-large",
                               message=f"{len(ids):,} {what} at once is more than the {BATCH_MAX:,} one batch takes; "
                                       "split them.")
    return ids


def _lock_invoices(ids: list[int]) -> dict[int, Invoice]:
    """The invoices' rows locked for this transaction in id order (so two batches never wait on each other in a
    circle), with the records their timeline events are filed under. Refuses an id that names no invoice."""
    found = {i.pk: i for i in Invoice.objects.select_for_update(of=("self",))
             .select_related("project__ps_opportunity__parent").filter(pk__in=ids).order_by("pk")}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ApplicationError(code="not-found", message=f"There is no invoice #{missing[0]}.")
    return found


def invoices_issue(*, user: Any, invoices: Iterable[Invoice | int], issue_date: dt.date | None = None
                   ) -> list[Invoice]:
    """Issue drafts, one or a billing run of many, all or none: each is judged by `invoice_issue_check` on its
    locked row and gets its number and due date; the run writes one UPDATE of the invoices, one INSERT of their
    timeline events and one UPDATE of the collection cases concerned, whatever its size."""
    invoices_issue_check(user=user)
    ids = _batch_ids(invoices, "drafts to issue")
    day = issue_date or timezone.localdate()
    with transaction.atomic():
        locked = list(_lock_invoices(ids).values())
        for invoice in locked:
            _issuable(invoice)
            invoice.issue()
            invoice.number = f"INV-{invoice.pk:05d}"
            invoice.issue_date = day
            invoice.due_date = day + dt.timedelta(days=invoice.net_days)
            invoice.issued_by = user
            invoice.open_balance = invoice.amount
        update_each(Invoice, ["state", "number", "issue_date", "due_date", "issued_by", "open_balance"], [
            (i.pk, i.state, i.number, i.issue_date, i.due_date, user.pk, i.open_balance) for i in locked])
        threads = threads_of([i.project.ps_opportunity.parent for i in locked])
        _record_each(user, "invoice.issued", [
            (i, f"{user} issued {i}: {i.currency} {i.amount:,}, due {i.due_date}", None) for i in locked], threads)
        _keep_cases({i.project_id for i in locked})
        # Each invoice's PDF is made by the worker: a billing run of 2,000 does not wait for 2,000 PDFs.
        documents.documents_queue(user=user, records=locked, kind=Kind.INVOICE, threads=threads)
    return locked


def _record_each(actor: Any, verb: str, said: list[tuple[Invoice, str, dict | None]],
                 threads: dict[int, int] | None = None) -> None:
    """`_record` for many invoices in one INSERT: (invoice, message, data) each. `threads` (deal id -> thread id,
    from `threads_of`) saves reading them again."""
    if threads is None:
        threads = threads_of([i.project.ps_opportunity.parent for i, _, _ in said])
    events_record(actor=actor, verb=verb, subject_model=Invoice, rows=(
        (i.pk, threads[i.project.ps_opportunity.parent_id], message, data) for i, message, data in said))


def invoice_void_check(*, user: Any, invoice: Invoice) -> None:
    require(user, "billing.manage_invoices", message="Only Finance voids invoices.")
    if invoice.state != Invoice.State.DRAFT:
        raise ApplicationError(code="invoice-not-draft", message="An issued invoice is corrected with a credit note.")


def invoice_void(*, user: Any, invoice: Invoice, reason: str) -> Invoice:
    """Only a draft is voided; an issued invoice is corrected with a credit note."""
    invoice_void_check(user=user, invoice=invoice)
    if not (reason or "").strip():
        raise ApplicationError(code="reason-required", message="Say why the draft is void.", field="reason")
    with transaction.atomic():
        invoice.void()
        save_transition(invoice)
        _record(user, invoice.project, invoice, "invoice.void", f"{user} voided {invoice}: {reason}")
        # The last draft of a wrapped-up engagement voided: its collection has nothing left to collect.
        _settle(user, invoice)
    return invoice


def keep_case_figures(project: Project) -> CollectionCase | None:
    """Recompute the project's collection case's `outstanding` and `oldest_due` from its invoices, in the caller's
    transaction, after money moved or an invoice was issued (decision 0014). The case row is locked first, so a
    concurrent payment on another invoice of the project waits and then recomputes from what this one committed."""
    return next(iter(_keep_cases({project.pk})), None)


def _keep_cases(project_ids: Iterable[int]) -> list[CollectionCase]:
    """`keep_case_figures` for the cases of many projects: locked in id order, then one UPDATE."""
    cases = list(CollectionCase.objects.select_for_update().filter(project_id__in=list(project_ids)).order_by("pk"))
    if cases:
        CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).update(**case_figures())
    return cases


def _settle(actor: Any, invoice: Invoice) -> None:
    """Mark an invoice paid when nothing is owed, keep the engagement's collection figures, and close its collection
    when nothing is left to collect."""
    _settle_each(actor, [invoice])


def _settle_each(actor: Any, invoices: list[Invoice], threads: dict[int, int] | None = None) -> None:
    """`_settle` for many locked invoices at once; the caller has saved their amounts (`threads` as
    `_record_each`)."""
    paid = [i for i in invoices if i.state == Invoice.State.ISSUED and invoice_balance(i) == 0]
    for invoice in paid:
        invoice.mark_paid()
    if paid:
        Invoice.objects.filter(pk__in=[i.pk for i in paid], state=Invoice.State.ISSUED).update(
            state=Invoice.State.PAID)
        _record_each(actor, "invoice.paid", [(i, f"{i} is settled", None) for i in paid], threads)
    cases = _keep_cases({i.project_id for i in invoices})
    done = {i.project_id for i in invoices if i.state != Invoice.State.ISSUED}
    closing = [c for c in cases if c.state == CollectionCase.State.OPEN and c.project_id in done]
    if closing:
        owing = set(Invoice.objects.filter(project_id__in=[c.project_id for c in closing],
                                           state__in=[Invoice.State.ISSUED, Invoice.State.DRAFT])
                    .values_list("project_id", flat=True).distinct())
        for case in closing:
            if case.project_id not in owing:
                _close_case(actor, case, "Collection closed: nothing left to collect")


def _close_case(actor: Any, case: CollectionCase, message: str) -> None:
    case.state = CollectionCase.State.CLOSED
    case.closed_at = timezone.now()
    case.save(update_fields=["state", "closed_at"])
    _record(actor, case.project, case, "collection.closed", message)


def _issued(invoice: Invoice) -> Invoice:
    if invoice.state != Invoice.State.ISSUED:
        raise ApplicationError(code="invoice-not-open",
                               message=f"{invoice} is {invoice.get_state_display().lower()}; nothing is owed on it.")
    return invoice


def _locked(invoice: Invoice) -> Invoice:
    """The invoice's row, locked for this transaction, with the records its timeline events are filed under."""
    return (Invoice.objects.select_for_update(of=("self",)).select_related("project__ps_opportunity__parent")
            .get(pk=invoice.pk))


def _locked_issued(invoice: Invoice) -> Invoice:
    return _issued(_locked(invoice))


# A payment without a reference that repeats another within this window is taken for the same one entered twice.
PAYMENT_DOUBLE_WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class PaymentLine:
    """One payment to record: on which invoice (the record or its id), how much, when it arrived, its reference, and
    where it came from (`line`, a bank file's line number, named in a refusal)."""
    invoice: Invoice | int
    amount: Any
    received_on: dt.date
    reference: str = ""
    line: int | None = None


def _is_double(earlier: tuple[Decimal, dt.date, str, dt.datetime], value: Decimal, received_on: dt.date,
               reference: str, now: dt.datetime) -> bool:
    """Whether a payment already recorded on the invoice (amount, date, reference, when recorded) is the one being
    recorded again: the same amount and date, and the same reference, or no reference and recorded within
    PAYMENT_DOUBLE_WINDOW."""
    amount, day, ref, recorded = earlier
    if amount != value or day != received_on:
        return False
    return ref.lower() == reference.lower() if reference else (ref == "" and recorded >= now - PAYMENT_DOUBLE_WINDOW)


def _double_refusal(invoice: Invoice, value: Decimal, received_on: dt.date, reference: str) -> ApplicationError:
    return ApplicationError(
        code="already-recorded",
        message=f"This payment of {invoice.currency} {value:,} received on {received_on}"
                + (f" with reference {reference}" if reference else "") + f" is already recorded on {invoice}; "
                "nothing was added. If it is a second payment, record it with its own reference.")


def payment_record_check(*, user: Any, invoice: Invoice | None = None) -> None:
    """Who records payments. The invoice's state is judged under its row lock, after the double check, so that
    repeating the payment that settled it says "already recorded"."""
    require(user, "billing.manage_invoices", message="Only Finance records payments.")


def payment_record(*, user: Any, invoice: Invoice, amount: Any, received_on: dt.date, reference: str = "") -> Payment:
    """Record money received on an issued invoice: never more than is owed, never the same payment twice."""
    payment = payments_record(user=user, lines=[PaymentLine(invoice, amount, received_on, reference)])[0]
    invoice.refresh_from_db()
    return payment


def payments_record(*, user: Any, lines: list[PaymentLine]) -> list[Payment]:
    """Record payments, one or a bank file's worth, all or none. Each line is judged as one payment is, on its
    invoice's locked row and after the lines before it: received today or before, an amount above zero in the
    invoice's currency, not a
    payment already recorded (or repeated in the batch), an issued invoice, never more than it still owes. A
    refusal names the line. The batch writes one INSERT of payments, one UPDATE of the balances, one INSERT of
    events and one UPDATE of the collection cases, whatever its size."""
    payment_record_check(user=user)
    ids = _batch_ids((line.invoice for line in lines), "payments to record")
    many = len(lines) > 1
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_invoices(ids)
        earlier: dict[int, list[tuple[Decimal, dt.date, str, dt.datetime]]] = defaultdict(list)
        for invoice_id, *seen in (Payment.objects.filter(invoice_id__in=ids,
                                                         received_on__in={line.received_on for line in lines})
                                  .values_list("invoice_id", "amount", "received_on", "reference", "created_at")):
            earlier[invoice_id].append(tuple(seen))  # type: ignore[arg-type]
        payments = []
        for n, line in enumerate(lines, start=1):
            invoice = locked[line.invoice if isinstance(line.invoice, int) else line.invoice.pk]
            try:
                value = parse_amount(line.amount, invoice.currency, field="payment")
                if value <= 0:
                    raise ApplicationError(code="invalid-amount", message="A payment is more than zero.",
                                           field="amount")
                if line.received_on > timezone.localdate():
                    raise ApplicationError(code="invalid-date", field="received_on",
                                           message=f"A payment is recorded once received: {line.received_on} has "
                                                   "not come yet.")
                reference = (line.reference or "").strip()
                if any(_is_double(e, value, line.received_on, reference, now) for e in earlier[invoice.pk]):
                    raise _double_refusal(invoice, value, line.received_on, reference)
                _issued(invoice)
                if value > invoice.open_balance:
                    raise ApplicationError(code="overpayment",
                                           message=f"{invoice} has {invoice.currency} {invoice.open_balance:,} open; "
                                                   f"a payment of {value:,} is more than that.", field="amount")
            except ApplicationError as refusal:
                if not many and line.line is None:
                    raise
                where = f"Line {line.line if line.line is not None else n}"
                raise ApplicationError(code=refusal.code, message=f"{where}: {refusal.message}") from None
            earlier[invoice.pk].append((value, line.received_on, reference, now))
            invoice.paid_to_date += value
            invoice.open_balance -= value
            payments.append(Payment(invoice=invoice, amount=value, received_on=line.received_on, reference=reference,
                                    recorded_by=user))
        payments = Payment.objects.bulk_create(payments, batch_size=500)
        touched = [locked[pk] for pk in ids]
        update_each(Invoice, ["paid_to_date", "open_balance"], [(i.pk, i.paid_to_date, i.open_balance)
                                                                for i in touched])
        threads = threads_of([i.project.ps_opportunity.parent for i in touched])
        _record_each(user, "invoice.payment", [
            (p.invoice, f"{user} recorded a payment of {p.invoice.currency} {p.amount:,} on {p.invoice}",
             {"amount": str(p.amount)}) for p in payments], threads)
        _settle_each(user, touched, threads)
    return payments


def credit_note_issue_check(*, user: Any, invoice: Invoice) -> None:
    require(user, "billing.manage_invoices", message="Only Finance issues credit notes.")
    _issued(invoice)


def credit_note_issue(*, user: Any, invoice: Invoice, amount: Any, reason: str) -> CreditNote:
    credit_note_issue_check(user=user, invoice=invoice)
    value = parse_amount(amount, invoice.currency, field="credit")
    if value <= 0 or not (reason or "").strip():
        raise ApplicationError(code="invalid-credit", message="A credit note needs a positive amount and a reason.")
    with transaction.atomic():
        locked = _locked_issued(invoice)
        if value > invoice_balance(locked):
            raise ApplicationError(code="over-credit", message=f"Credit exceeds the open balance of {locked}.",
                                   field="amount")
        note = CreditNote.objects.create(invoice=locked, amount=value, reason=reason, issued_by=user,
                                         number=f"tmp-{uuid.uuid4().hex[:12]}")
        note.number = f"CN-{note.pk:05d}"
        note.save(update_fields=["number"])
        _settle_amount(locked, settled=value)
        _record(user, locked.project, locked, "invoice.credited",
                f"{user} issued {note.number} for {locked.currency} {value:,} on {locked}: {reason}")
        _settle(user, locked)
        documents.documents_queue(user=user, records=[note], kind=Kind.CREDIT_NOTE)
    invoice.refresh_from_db()
    return note


def invoice_send_check(*, user: Any, invoice: Invoice) -> None:
    require(user, "billing.manage_invoices", message="Only Finance sends invoices.")
    _issued(invoice)


def invoice_send(*, user: Any, invoice: Invoice, contact: Contact) -> Invoice:
    """Finance e-mails an issued invoice to a contact of the customer, its PDF attached: the current version, made
    now if the worker has not made it yet."""
    invoice_send_check(user=user, invoice=invoice)
    project = invoice.project
    contact_check(contact=contact, opportunity=project.ps_opportunity.parent)
    if not (contact.email or "").strip():
        raise ApplicationError(code="no-email", message=f"{contact} has no e-mail address.", field="contact")
    with transaction.atomic():
        attached = documents.current_for_sending(user=user, record=invoice, kind=Kind.INVOICE)
        _record(user, project, invoice, "invoice.sent", f"{user} sent {invoice} to {contact} ({attached[0]})",
                {"to": contact.email, "document": attached[0].pk, "sha256": attached[0].sha256})
        text = (f"Hello {contact.name},\n\nPlease find attached invoice {invoice} for {project.name}: "
                f"{invoice.currency} {invoice.amount:,}, due {invoice.due_date}. Of it, {invoice.currency} "
                f"{invoice.open_balance:,} is still to be paid; please quote {invoice} with your payment.")
        message = EmailMessage(f"Invoice {invoice} for {project.name}", text, None, [contact.email.strip()],
                               attachments=documents.attachments(attached))
        # robust: a mail server failure after the commit is logged, never turned into an error for Finance.
        transaction.on_commit(message.send, robust=True)
    return invoice


# --- Collections (step 16) --------------------------------------------------------------------------------------


def collection_open(*, actor: Any, project: Project) -> CollectionCase:
    """After the wrap-up, Finance owns every open balance of the engagement.

    Decision: the case is always opened, once per project, even with nothing owed (a free "investment" engagement
    with no invoice, or one already paid in full). With no balance and no draft left to issue it is closed at once,
    in the same transaction, with its own timeline event, and Finance is not notified. Opening it anyway keeps one
    answer to "did collections look at this project?" (the case and its two events), keeps the workflow's wrap-up
    returning a case, and leaves no open case that nothing could ever close."""
    case, created = CollectionCase.objects.get_or_create(project=project)
    if created:
        keep_case_figures(project)
        open_total = outstanding(project)
        _record(actor, project, case, "collection.opened",
                f"Collections opened with {project.currency} {open_total:,} outstanding")
        if open_total == 0 and not project.invoices.filter(state=Invoice.State.DRAFT).exists():
            _close_case(actor, case, "Collection closed at once: nothing is owed")
        else:
            notify(recipients=approvers_for(["finance"]), kind="collection",
                   text=f"{project} is wrapped up: Finance now owns its open balance.", subject=case)
    return case


def _open_case(case: CollectionCase) -> None:
    if case.state != CollectionCase.State.OPEN:
        raise ApplicationError(code="collection-closed", message="This collection is closed.")


def reminder_sent(who: Any, level: int) -> str:
    """The timeline's words for a reminder sent at `level` ("finance sent a friendly reminder")."""
    name = REMINDER_LEVELS[level]
    return f"{who} sent {'an' if name[0] in 'aeiou' else 'a'} {name}"


def reminder_text(level: int, currency: str, owed: Decimal, project_name: str) -> str:
    """What the customer's contact reads in the reminder e-mail."""
    return f"{REMINDER_LEVELS[level].capitalize()}: {currency} {owed:,} is outstanding for {project_name}."


def collection_remind_check(*, user: Any, case: CollectionCase) -> None:
    require(user, "billing.manage_invoices", message="Only Finance sends reminders.")
    _open_case(case)
    if case.disputed:
        raise ApplicationError(code="disputed", message="The balance is disputed; resolve the dispute first.")


def collection_remind(*, user: Any, case: CollectionCase, note: str = "") -> CollectionAction:
    """Send the next reminder, at a rising level, to the contact who accepted the work (or any account contact)."""
    collection_remind_check(user=user, case=case)
    project = case.project
    with transaction.atomic():
        # The level is read from the locked row: a reminder run or another hand that went first is built upon.
        case = CollectionCase.objects.select_for_update().get(pk=case.pk)
        collection_remind_check(user=user, case=case)
        level = min(case.reminder_level + 1, max(REMINDER_LEVELS))
        case.reminder_level = level
        case.last_reminder_at = timezone.now()
        case.save(update_fields=["reminder_level", "last_reminder_at"])
        action = CollectionAction.objects.create(case=case, kind=CollectionAction.Kind.REMINDER, level=level,
                                                 note=note, by=user)
        _record(user, project, case, "collection.reminder", reminder_sent(user, level))
        contact = project.sow.sent_to
        if contact is not None:
            text = reminder_text(level, project.currency, case.outstanding, project.name)
            transaction.on_commit(lambda: send_mail(f"[psops] {text[:80]}", text, None, [contact.email],
                                                    fail_silently=True))
        if level == max(REMINDER_LEVELS):
            notify(recipients=[project.ps_opportunity.owner], kind="collection-escalation",
                   text=f"Collections escalation on {project}.", subject=case)
    return action


def collection_remind_due_check(*, user: Any) -> None:
    require(user, "billing.manage_invoices", message="Only Finance runs the reminders.")


def collection_remind_due(*, user: Any | None, now: dt.datetime | None = None, batch: int = 500) -> Counter[int]:
    """The reminder run: every case `reminders_due` names gets its next reminder, as `collection_remind` sends one,
    set-based: per batch of cases one transaction with one UPDATE of their levels, one INSERT each of their actions,
    timeline events and escalation notifications, and the customers' e-mails sent on one connection after commit.
    Cases someone is reminding by hand at that moment are skipped (SKIP LOCKED), so none is reminded twice.
    `user` None is the system (a scheduled run: `psops collections_remind`). Returns the reminders sent per level."""
    if user is not None:
        collection_remind_due_check(user=user)
    now = now or timezone.now()
    top = max(REMINDER_LEVELS)
    who = str(user) if user is not None else "The reminder run"
    sent: Counter[int] = Counter()
    last = 0
    while True:
        with transaction.atomic():
            ids = list(reminders_due(now=now).filter(pk__gt=last).order_by("pk").select_for_update(skip_locked=True)
                       .values_list("pk", flat=True)[:batch])
            if not ids:
                return sent
            CollectionCase.objects.filter(pk__in=ids).update(reminder_level=Least(F("reminder_level") + 1, top),
                                                              last_reminder_at=now)
            cases = list(CollectionCase.objects.filter(pk__in=ids).order_by("pk").select_related(
                "project__sow__sent_to", "project__ps_opportunity__parent"))
            CollectionAction.objects.bulk_create(
                (CollectionAction(case=c, kind=CollectionAction.Kind.REMINDER, level=c.reminder_level,
                                  note="Reminder run", by=user) for c in cases), batch_size=500)
            threads = threads_of([c.project.ps_opportunity.parent for c in cases])
            events_record(actor=user, verb="collection.reminder", subject_model=CollectionCase, rows=(
                (c.pk, threads[c.project.ps_opportunity.parent_id], reminder_sent(who, c.reminder_level))
                for c in cases))
            mails = [(f"[psops] {text[:80]}", text, None, [c.project.sow.sent_to.email]) for c in cases
                     if c.project.sow.sent_to is not None
                     for text in [reminder_text(c.reminder_level, c.project.currency, c.outstanding, c.project.name)]]
            if mails:
                transaction.on_commit(partial(send_mass_mail, mails, fail_silently=True))
            notify_each(kind="collection-escalation", notes=(
                (c.project.ps_opportunity.owner_id, f"Collections escalation on {c.project}.", c)
                for c in cases if c.reminder_level == top))
            sent.update(c.reminder_level for c in cases)
            last = ids[-1]


def reminder_run_summary(sent: Counter[int]) -> str:
    """What a reminder run did, in words (the page and the command say the same)."""
    total = sum(sent.values())
    if not total:
        return "No reminder is due: every overdue case was reminded in the last week, is disputed or is paid."
    parts = ", ".join(f"{sent[level]:,} × {REMINDER_LEVELS[level]}" for level in sorted(sent))
    return f"Sent {total:,} reminder{'s' if total != 1 else ''}: {parts}."


def collection_promise_check(*, user: Any, case: CollectionCase) -> None:
    require(user, "billing.manage_invoices", message="Only Finance records promises to pay.")
    _open_case(case)


def collection_promise(*, user: Any, case: CollectionCase, amount: Any, promised_for: dt.date,
                       note: str = "") -> CollectionAction:
    collection_promise_check(user=user, case=case)
    value = parse_amount(amount, case.project.currency, field="promised amount")
    # A promise is to pay some of what is owed, never nothing and never more (DOMAIN.md, collections).
    owed = outstanding(case.project)
    if value <= 0:
        raise ApplicationError(code="invalid-amount", message="A promise to pay is for more than zero.",
                               field="amount")
    if value > owed:
        raise ApplicationError(code="over-promise", message=f"{case.project.currency} {owed:,} is owed; a promise to "
                                                            f"pay {value:,} is more than that.", field="amount")
    with transaction.atomic():
        action = CollectionAction.objects.create(case=case, kind=CollectionAction.Kind.PROMISE, amount=value,
                                                 promised_for=promised_for, note=note, by=user)
        _record(user, case.project, case, "collection.promise",
                f"{user} recorded a promise to pay {value:,} by {promised_for}")
    return action


def collection_dispute_check(*, user: Any, case: CollectionCase) -> None:
    require(user, "billing.manage_invoices", message="Only Finance records disputes.")
    _open_case(case)


def collection_dispute(*, user: Any, case: CollectionCase, note: str, resolved: bool = False) -> CollectionAction:
    collection_dispute_check(user=user, case=case)
    if not (note or "").strip():
        raise ApplicationError(code="note-required", message="Describe the dispute.", field="note")
    if resolved != case.disputed:
        raise ApplicationError(code="dispute-state", message="No open dispute to resolve." if resolved
                               else "A dispute is already open.")
    with transaction.atomic():
        case.disputed = not resolved
        case.save(update_fields=["disputed"])
        kind = CollectionAction.Kind.RESOLVED if resolved else CollectionAction.Kind.DISPUTE
        action = CollectionAction.objects.create(case=case, kind=kind, note=note, by=user)
        _record(user, case.project, case, f"collection.{kind}", f"{user}: {CollectionAction.Kind(kind).label}: {note}")
    return action


def write_off_request_check(*, user: Any, invoice: Invoice) -> None:
    require(user, "billing.manage_invoices", message="Only Finance proposes write-offs.")
    _issued(invoice)


def write_off_request(*, user: Any, invoice: Invoice, amount: Any, reason: str) -> WriteOff:
    write_off_request_check(user=user, invoice=invoice)
    value = parse_amount(amount, invoice.currency, field="write-off")
    if value <= 0 or not (reason or "").strip():
        raise ApplicationError(code="invalid-write-off", message="A write-off needs a positive amount and a reason.")
    with transaction.atomic():
        locked = _locked_issued(invoice)
        pending = locked.write_offs.filter(state=WriteOff.State.REQUESTED).aggregate(t=Sum("amount"))["t"] or ZERO
        if value + pending > invoice_balance(locked):
            raise ApplicationError(code="over-write-off", message=f"Write-off exceeds the open balance of {locked}.",
                                   field="amount")
        write_off = WriteOff.objects.create(invoice=locked, amount=value, reason=reason, requested_by=user)
        _record(user, locked.project, locked, "write_off.requested",
                f"{user} proposed writing off {locked.currency} {value:,}: {reason}")
        notify(recipients=approvers_for(["controller"]), kind="write-off", text=f"Write-off to approve on {locked}",
               subject=locked)
    return write_off


def write_off_decide_check(*, user: Any, write_off: WriteOff) -> None:
    require(user, "billing.approve_write_off", message="Only the controller decides write-offs.")
    if write_off.requested_by_id == user.pk:
        raise ApplicationError(code="segregation-of-duties", message="Nobody decides their own write-off.")
    if write_off.state != WriteOff.State.REQUESTED:
        raise ApplicationError(code="already-decided", message="This write-off is decided already.")


def write_off_decide(*, user: Any, write_off: WriteOff, approve: bool) -> WriteOff:
    """The controller decides; nobody approves their own write-off."""
    write_off_decide_check(user=user, write_off=write_off)
    with transaction.atomic():
        locked = WriteOff.objects.select_for_update().get(pk=write_off.pk)
        if locked.state != WriteOff.State.REQUESTED:
            raise ApplicationError(code="already-decided", message="This write-off is decided already.")
        invoice = _locked_issued(locked.invoice)
        if approve and locked.amount > invoice_balance(invoice):
            raise ApplicationError(code="over-write-off", message="The balance is smaller than the write-off now.")
        locked.state = WriteOff.State.APPROVED if approve else WriteOff.State.REFUSED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.save(update_fields=["state", "decided_by", "decided_at"])
        _record(user, invoice.project, invoice, f"write_off.{locked.state}",
                f"{user} {'approved' if approve else 'refused'} writing off {invoice.currency} {locked.amount:,}")
        if approve:
            _settle_amount(invoice, settled=locked.amount)
            _settle(user, invoice)
    return locked


def outstanding(project: Project) -> Decimal:
    """What the engagement still owes, in one SQL sum over its open invoices."""
    return (project.invoices.filter(state=Invoice.State.ISSUED).aggregate(t=Sum("open_balance"))["t"]
            or ZERO)

