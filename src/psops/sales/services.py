"""Quotes (step 8) and SOWs (step 9), with the customer's answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from psops.accounts.roles import roles_of
from psops.activity.services import notify
from psops.approvals import policy as policy_rules
from psops.approvals.models import ApprovalRequest
from psops.approvals.services import approvers_for, policy_active, request_decide, request_open, request_withdraw
from psops.core.business_days import start_of_day
from psops.core.errors import ApplicationError
from psops.core.money import parse_amount, quantize
from psops.core.permissions import require
from psops.core.quantities import COUNT, MONEY, NET_DAYS, PERCENT
from psops.core.quantities import check as check_bound
from psops.core.quantities import parse as parse_quantity
from psops.crm.customer import CustomerActor
from psops.crm.models import Contact, PSOpportunity
from psops.crm.services import contact_check, ps_alive_check, ps_amount_follow, ps_stage, record, save_transition
from psops.documents import services as documents
from psops.documents.models import Document, Kind
from psops.estimating.models import PriceBookItem, Rom
from psops.links.services import link_issue, link_revoke

from .choices import QUOTE_TERMS, BillingTerms
from .models import CONTENT_SCHEME, LIVE_QUOTE_STATES, Quote, QuoteLine, Sow, SowMilestone, SowRevision, SowSignature

HUNDRED = Decimal(100)


# --- Quotes ---------------------------------------------------------------------------------------------------


def _quote_lines_from_rom(rom: Rom, currency: str) -> list[QuoteLine]:
    """The approved ROM's lines at their high value: the budget the customer agreed to."""
    lines: list[QuoteLine] = []
    approved = rom.approved_version
    if approved is None:
        return lines
    for line in approved.lines:
        quantity = int(line["quantity"]) or 1
        amount = quantize(Decimal(line["high"]), currency)
        lines.append(QuoteLine(code=line["code"], description=line["description"], quantity=quantity,
                               unit_price=quantize(amount / quantity, currency), amount=amount))
    return lines


def _quote_lines_from_price_book(items: list[tuple[str, int]], currency: str) -> list[QuoteLine]:
    prices = {i.sku: i for i in PriceBookItem.objects.filter(price_book__is_active=True,
                                                             sku__in=[sku for sku, _ in items])}
    lines = []
    for sku, quantity in items:
        if sku not in prices:
            raise ApplicationError(code="unknown-sku", message=f"'{sku}' is not in the active price book.",
                                   field="lines")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= COUNT.maximum:
            raise ApplicationError(code="invalid-quantity", message=f"Quantity of {sku} must be a whole number "
                                                                    f"from 1 to {COUNT.show(COUNT.maximum)}.",
                                   field="lines")
        item = prices[sku]
        lines.append(QuoteLine(code=sku, description=item.name, quantity=quantity, unit_price=item.price,
                               amount=quantize(item.price * quantity, currency)))
    return lines


def _approved_rom(ps_opportunity: PSOpportunity) -> Rom:
    rom = ps_opportunity.roms.filter(status=Rom.Status.APPROVED).select_related("approved_version").first()
    if rom is None:
        raise ApplicationError(code="rom-not-approved", message="The ROM must be approved before a quote is built.")
    return rom


def _within_rom(version: Any, total: Decimal) -> None:
    """What reaches the customer was approved at that value: a quote stays within the approved ROM's high value."""
    if version.high is None or total > version.high:
        raise ApplicationError(code="quote-above-rom",
                               message=f"This quote totals {version.currency} {total:,}, above the approved ROM's "
                                       f"high value {version.currency} {version.high or 0:,}. Revise the ROM and have "
                                       "it approved at this value first.", field="lines")


def _live_quote(ps_opportunity: PSOpportunity, *, besides: Quote | None = None) -> Quote | None:
    live = ps_opportunity.quotes.filter(state__in=LIVE_QUOTE_STATES)
    if besides is not None:
        live = live.exclude(pk=besides.pk)
    return live.first()


def quote_create_check(*, user: Any, ps_opportunity: PSOpportunity) -> Rom:
    """May `user` build a quote for this PS opportunity now? Returns the approved ROM it stands on."""
    require(user, "crm.change_ps_opportunity", ps_opportunity,
            message="Only the deal's sales rep (or their manager) builds its quote.")
    ps_alive_check(ps_opportunity)
    rom = _approved_rom(ps_opportunity)
    accepted = ps_opportunity.quotes.filter(state=Quote.State.ACCEPTED).first()
    if accepted is not None:
        raise ApplicationError(code="quote-exists", message=f"The customer accepted {accepted}; the quote is final.")
    return rom


def quote_create(*, user: Any, ps_opportunity: PSOpportunity, valid_until: dt.date, discount_percent: Any = "0",
                 billing_terms: str = BillingTerms.FULL_ON_SIGNATURE, investment: bool = False,
                 items: list[tuple[str, int]] | None = None) -> Quote:
    """Step 8: the SAL builds the quote from the approved ROM (or from price-book SKUs), with the PS SOW template's
    terms. A discount, non-standard billing terms or free services will need the approvals the policy names; a total
    above the approved ROM's high value is refused (the ROM is revised and approved at that value first)."""
    rom = quote_create_check(user=user, ps_opportunity=ps_opportunity)
    if billing_terms not in BillingTerms.values:
        raise ApplicationError(code="invalid-billing-terms", message=f"Unknown billing terms '{billing_terms}'.",
                               field="billing_terms")
    if valid_until < timezone.localdate():
        raise ApplicationError(code="invalid-validity", message="A quote's validity date cannot be in the past.",
                               field="valid_until")
    currency = ps_opportunity.currency
    discount = parse_quantity(discount_percent, PERCENT, field="discount", invalid_code="invalid-amount",
                              range_code="invalid-discount")
    lines = _quote_lines_from_price_book(items, currency) if items else _quote_lines_from_rom(rom, currency)
    if not lines:
        raise ApplicationError(code="quote-empty", message="A quote needs at least one line.", field="lines")
    subtotal = quantize(sum((line.amount for line in lines), Decimal(0)), currency)
    check_bound(subtotal, MONEY, field="lines", what=f"The quote's subtotal ({currency})")
    discount_amount = quantize(subtotal * discount / HUNDRED, currency)
    _within_rom(rom.approved_version, subtotal - discount_amount)
    with transaction.atomic():
        quote = Quote.objects.create(
            ps_opportunity=ps_opportunity, rom_version=rom.approved_version, currency=currency,
            discount_percent=discount, billing_terms=billing_terms, investment=investment or discount == HUNDRED,
            valid_until=valid_until, terms=QUOTE_TERMS, subtotal=subtotal, discount_amount=discount_amount,
            total=subtotal - discount_amount, created_by=user,
        )
        for line in lines:
            line.quote = quote
        QuoteLine.objects.bulk_create(lines)
        record(actor=user, opportunity=ps_opportunity.parent, subject=quote, verb="quote.created",
               message=f"{user} built {quote}: {currency} {quote.total:,}"
                       + (f" after a {discount}% discount" if discount else ""))
    return quote


def _quote_stands(quote: Quote) -> None:
    """A quote moves on only while its engagement is alive and its ROM is still approved at the version it was
    built on."""
    ps = quote.ps_opportunity
    ps_alive_check(ps)
    rom = ps.roms.select_related("approved_version").first()
    if rom is None or rom.status != Rom.Status.APPROVED or rom.approved_version_id != quote.rom_version_id:
        raise ApplicationError(code="rom-changed", message=f"The ROM {quote} was built on has changed since; build a "
                                                           "new quote from the approved ROM.")
    _within_rom(quote.rom_version, quote.total)


def _save_live(quote: Quote) -> None:
    """Save a quote entering a live state; the database's one-live-quote index settles two tabs racing."""
    try:
        with transaction.atomic():
            save_transition(quote)
    except IntegrityError as exc:
        raise ApplicationError(code="quote-live-exists", message="Another quote of this PS opportunity is already "
                                                                 "live; withdraw it first.") from exc


def quote_submit_check(*, user: Any, quote: Quote) -> None:
    require(user, "sales.manage_quote", quote, message="Only the deal's sales rep (or their manager) submits it.")
    if quote.state != Quote.State.DRAFT:
        raise ApplicationError(code="quote-not-draft", message=f"{quote} is {quote.get_state_display().lower()}.")
    _quote_stands(quote)
    live = _live_quote(quote.ps_opportunity, besides=quote)
    if live is not None:
        raise ApplicationError(code="quote-live-exists",
                               message=f"{live} is {live.get_state_display().lower()}; one quote at a time goes "
                                       f"to the customer. Withdraw {live} first.")


def quote_submit(*, user: Any, quote: Quote) -> ApprovalRequest | None:
    """Ask for the approvals the policy names for this quote; with none needed, it is approved at once."""
    quote_submit_check(user=user, quote=quote)
    with transaction.atomic():
        parent = quote.ps_opportunity.parent
        quote.submit()
        quote.policy = policy_active()
        request = request_open(user=user, kind="quote", subject=quote, opportunity=parent, facts=quote.facts(),
                               title=f"{quote} for {quote.ps_opportunity}", author=quote.created_by)
        if request is None:
            quote.approve()
        _save_live(quote)
        record(actor=user, opportunity=parent, subject=quote, verb="quote.submitted",
               message=f"{user} submitted {quote}" + (" for approval" if request else "; no approval needed"))
    return request


def quote_decide(*, user: Any, request: ApprovalRequest, outcome: str, comment: str = "") -> ApprovalRequest:
    if request.kind != "quote":
        raise ApplicationError(code="wrong-kind", message="This is not a quote approval request.")
    quote = request.subject
    if quote is None:
        raise ApplicationError(code="quote-not-found", message="The quote of this request is gone.")
    with transaction.atomic():
        decided = request_decide(user=user, request=request, outcome=outcome, comment=comment,
                                 opportunity=quote.ps_opportunity.parent)
        quote = Quote.objects.select_related("ps_opportunity__parent", "rom_version").get(pk=quote.pk)
        if decided.state == ApprovalRequest.State.APPROVED:
            _quote_stands(quote)
            quote.approve()
        elif decided.state == ApprovalRequest.State.NEEDS_DISCOVERY:
            quote.send_back()
        elif decided.state == ApprovalRequest.State.REJECTED:
            quote.reject()
        if decided.state != ApprovalRequest.State.PENDING:
            save_transition(quote)
    return decided


def quote_send_check(*, user: Any, quote: Quote) -> None:
    require(user, "sales.manage_quote", quote, message="Only the deal's sales rep (or their manager) sends it.")
    if quote.state != Quote.State.APPROVED:
        raise ApplicationError(code="quote-not-approved", message=f"{quote} is {quote.get_state_display().lower()};"
                                                                  " only an approved quote is sent.")
    if quote.valid_until < timezone.localdate():
        raise ApplicationError(code="quote-expired", message=f"{quote} expired on {quote.valid_until}.")
    _quote_stands(quote)


def quote_send(*, user: Any, quote: Quote, contact: Contact) -> Quote:
    """The SAL sends the approved quote to a customer contact, who answers through a private link. The PS amount
    now follows the quote with the customer."""
    quote_send_check(user=user, quote=quote)
    ps = quote.ps_opportunity
    contact_check(contact=contact, opportunity=ps.parent)
    with transaction.atomic():
        quote.send()
        quote.sent_to = contact
        quote.sent_at = timezone.now()
        save_transition(quote)
        ps_stage(actor=user, ps_opportunity=ps, transition="mark_quoted", why=f"{quote} sent")
        ps_amount_follow(actor=user, ps_opportunity=ps, amount=quote.total, why=f"{quote} sent to the customer")
        record(actor=user, opportunity=ps.parent, subject=quote, verb="quote.sent",
               message=f"{user} sent {quote} to {contact}")
        _quote_link(user, quote, contact, documents.documents_for_sending(user=user, record=quote, kind=Kind.QUOTE))
        from .tasks import schedule_quote_expiry

        schedule_quote_expiry(quote)
    return quote


def _name(user: Any) -> str:
    return user.get_full_name() or user.username


def _quote_link(user: Any, quote: Quote, contact: Contact, attached: list[Document]) -> str:
    """The customer's private link to read the quote and accept or decline it, e-mailed on commit with the quote's
    PDF."""
    ps = quote.ps_opportunity
    # The link lives as long as the quote may be accepted: to the end of its last valid day.
    return link_issue(subject=quote, purpose="quote", contact=contact, email_to=contact.email,
                      expires_at=start_of_day(quote.valid_until + dt.timedelta(days=1)),
                      email_subject=f"Quote {quote} for {ps.name}", attachments=documents.attachments(attached),
                      text=f"Hello {contact.name},\n\n{_name(user)} sent you quote {quote} for {ps.name}: "
                           f"{quote.currency} {quote.total:,}, valid until {quote.valid_until}. Open the link below "
                           "to read it, then accept or decline it.")


def quote_resend_check(*, user: Any, quote: Quote) -> None:
    require(user, "sales.manage_quote", quote, message="Only the deal's sales rep (or their manager) sends it.")
    if quote.state != Quote.State.SENT or quote.sent_to is None:
        raise ApplicationError(code="quote-not-open", message=f"{quote} is {quote.get_state_display().lower()}; "
                                                              "only a quote waiting for the customer is sent again.")
    if quote.valid_until < timezone.localdate():
        raise ApplicationError(code="quote-expired", message=f"{quote} expired on {quote.valid_until}.")


def quote_resend(*, user: Any, quote: Quote) -> Quote:
    """Send the customer a fresh link to a quote still waiting for their answer (a lost e-mail, an expired link).
    The earlier link stops working; the quote's validity does not change."""
    quote_resend_check(user=user, quote=quote)
    assert quote.sent_to is not None  # the check refuses a quote sent to nobody
    with transaction.atomic():
        _quote_link(user, quote, quote.sent_to,
                    documents.current_for_sending(user=user, record=quote, kind=Kind.QUOTE))
        record(actor=user, opportunity=quote.ps_opportunity.parent, subject=quote, verb="quote.resent",
               message=f"{user} sent {quote} again to {quote.sent_to}; the earlier link no longer works")
    return quote


def _customer_answer_check(customer: CustomerActor, quote: Quote) -> None:
    customer.check_account(quote.ps_opportunity.parent.account_id)
    if quote.state != Quote.State.SENT:
        raise ApplicationError(code="quote-not-open", message=f"{quote} is {quote.get_state_display().lower()}; "
                                                              "it can no longer be answered.")
    if quote.valid_until < timezone.localdate():
        raise ApplicationError(code="quote-expired", message=f"{quote} expired on {quote.valid_until}.")
    _quote_stands(quote)


def quote_accept(*, customer: CustomerActor, quote: Quote, document_sha256: str | None = None) -> Quote:
    """The customer accepts the quote: the PS amount now follows the quote, and a PSE is asked for the SOW.
    `document_sha256` is the SHA-256 of the quote PDF the customer's page showed: it must be the current version,
    and is kept with the acceptance."""
    _customer_answer_check(customer, quote)
    shown = _shown(quote, Kind.QUOTE, document_sha256)
    ps = quote.ps_opportunity
    with transaction.atomic():
        quote.accept()
        quote.answered_at = timezone.now()
        quote.accepted_document = shown
        quote.accepted_sha256 = shown.sha256 if shown else ""
        save_transition(quote)
        ps_amount_follow(actor=customer, ps_opportunity=ps, amount=quote.total, why=f"{quote} accepted")
        ps_stage(actor=customer, ps_opportunity=ps, transition="mark_quote_accepted", why=f"{quote} accepted")
        record(actor=customer, opportunity=ps.parent, subject=quote, verb="quote.accepted",
               message=f"{customer.label} accepted {quote}",
               data={"ip": customer.ip_address, "user_agent": customer.user_agent,
                     "document_sha256": quote.accepted_sha256})
        notify(recipients=[ps.owner, *approvers_for(["ps_manager", "ps_engineer"])], kind="quote-accepted",
               text=f"{quote} for {ps} was accepted by the customer: a SOW is needed.", subject=quote)
    return quote


def quote_decline(*, customer: CustomerActor, quote: Quote, reason: str = "") -> Quote:
    _customer_answer_check(customer, quote)
    ps = quote.ps_opportunity
    with transaction.atomic():
        quote.decline()
        quote.answered_at = timezone.now()
        quote.answer_note = reason[:500]
        save_transition(quote)
        ps_stage(actor=customer, ps_opportunity=ps, transition="mark_quote_declined", why=f"{quote} declined")
        record(actor=customer, opportunity=ps.parent, subject=quote, verb="quote.declined",
               message=f"{customer.label} declined {quote}" + (f": {reason}" if reason else ""))
        notify(recipients=[ps.owner], kind="quote-declined", text=f"{quote} was declined by the customer.",
               subject=quote)
    return quote


def quote_withdraw_check(*, user: Any, quote: Quote) -> None:
    require(user, "sales.manage_quote", quote, message="Only the deal's sales rep (or their manager) withdraws it.")
    if quote.state not in (Quote.State.DRAFT, Quote.State.PENDING_APPROVAL, Quote.State.APPROVED, Quote.State.SENT):
        raise ApplicationError(code="quote-not-open", message=f"{quote} is {quote.get_state_display().lower()}; "
                                                              "only a quote not yet answered is withdrawn.")


def quote_withdraw(*, user: Any, quote: Quote, reason: str) -> Quote:
    """The rep takes back a quote the customer has not answered (to change it, or to quote again from a revised
    ROM). A pending approval is withdrawn with it, and the customer's link stops working."""
    quote_withdraw_check(user=user, quote=quote)
    if not (reason or "").strip():
        raise ApplicationError(code="reason-required", message="Say why the quote is withdrawn.", field="reason")
    ps = quote.ps_opportunity
    with transaction.atomic():
        was = quote.state
        quote.withdraw()
        save_transition(quote)
        request_withdraw(subject=quote)
        link_revoke(subject=quote)
        if was == Quote.State.SENT and ps.stage == "quoted":
            ps_stage(actor=user, ps_opportunity=ps, transition="mark_quote_declined", why=f"{quote} withdrawn")
        record(actor=user, opportunity=ps.parent, subject=quote, verb="quote.withdrawn",
               message=f"{user} withdrew {quote}: {reason.strip()}", data={"was": was})
    return quote


def quote_expire(*, quote_id: int) -> bool:
    """Timer: a sent quote not answered by the end of its validity date expires. Idempotent."""
    with transaction.atomic():
        quote = Quote.objects.select_for_update().select_related("ps_opportunity__parent").filter(pk=quote_id).first()
        if quote is None or quote.state not in (Quote.State.SENT, Quote.State.APPROVED):
            return False
        if quote.valid_until >= timezone.localdate():
            return False
        was_sent = quote.state == Quote.State.SENT
        quote.expire()
        save_transition(quote)
        ps = quote.ps_opportunity
        if was_sent and ps.stage == "quoted":
            ps_stage(actor=None, ps_opportunity=ps, transition="mark_quote_declined", why=f"{quote} expired")
        record(actor=None, opportunity=ps.parent, subject=quote, verb="quote.expired",
               message=f"{quote} expired unanswered on {quote.valid_until}")
        notify(recipients=[ps.owner], kind="quote-expired", text=f"{quote} expired unanswered.", subject=quote)
    return True


# --- SOWs -----------------------------------------------------------------------------------------------------

SOW_ACCEPTANCE = (
    "When the engineer reports the work complete, the customer accepts it through the link sent to them. Without an "
    "answer within 5 business days of that notice (the day it is sent counting as day 1), the work is accepted."
)


def sow_create_check(*, user: Any, quote: Quote) -> None:
    require(user, "sales.write_sow", quote, message="Only a professional services engineer writes a SOW.")
    if quote.state != Quote.State.ACCEPTED:
        raise ApplicationError(code="quote-not-accepted", message=f"{quote} is {quote.get_state_display().lower()};"
                                                                  " a SOW follows an accepted quote.")
    if Sow.objects.filter(quote=quote).exists():
        raise ApplicationError(code="sow-exists", message=f"{quote} already has a SOW.")
    ps_alive_check(quote.ps_opportunity)


def sow_create(*, user: Any, quote: Quote) -> Sow:
    """Step 9: once the customer accepts the quote, a PSE writes the SOW from the PS SOW template."""
    sow_create_check(user=user, quote=quote)
    lines = list(quote.lines.all())
    ps = quote.ps_opportunity
    with transaction.atomic():
        sow = Sow.objects.create(
            quote=quote, ps_opportunity=ps, author=user, title=f"Statement of work: {ps.name}",
            scope="\n".join(f"- {line.description} (x{line.quantity})" for line in lines),
            deliverables="\n".join(f"- {line.description}" for line in lines),
            assumptions=quote.rom_version.assumptions, out_of_scope="Anything not listed under scope.",
            acceptance_terms=SOW_ACCEPTANCE, currency=quote.currency, price=quote.total,
            billing_terms=quote.billing_terms,
        )
        record(actor=user, opportunity=ps.parent, subject=sow, verb="sow.created",
               message=f"{user} started {sow} from {quote}")
    return sow


SOW_EDITABLE = {"title", "scope", "deliverables", "assumptions", "out_of_scope", "acceptance_terms", "billing_terms",
                "net_days", "hourly_rate"}


def sow_edit_check(*, user: Any, sow: Sow) -> None:
    require(user, "sales.edit_sow", sow, message="Only the SOW's author edits it.")
    if sow.state != Sow.State.DRAFT:
        raise ApplicationError(code="sow-not-draft", message=f"{sow} is {sow.get_state_display().lower()}; only a "
                                                             "draft is edited.")
    ps_alive_check(sow.ps_opportunity)


def _milestones(sow: Sow, milestones: list[tuple]) -> list[SowMilestone]:
    """Each milestone is (name, amount) or (name, amount, due date); together they add up to the SOW's price."""
    rows = []
    for i, milestone in enumerate(milestones):
        name, amount, due = (*milestone, None)[:3] if len(milestone) == 2 else milestone
        if not (name or "").strip():
            raise ApplicationError(code="invalid-milestone", message=f"Milestone {i + 1} needs a name.",
                                   field="milestones")
        value = parse_amount(amount, sow.currency, field="milestone amount")
        if value <= 0:
            raise ApplicationError(code="invalid-milestone", message=f"Milestone '{name}' needs an amount above "
                                                                     "zero.", field="milestones")
        rows.append(SowMilestone(sow=sow, name=name.strip()[:200], amount=value, due_date=due, position=i))
    total = sum((m.amount for m in rows), Decimal(0))
    if rows and total != sow.price:
        raise ApplicationError(code="milestones-mismatch",
                               message=f"Milestones must add up to the SOW price {sow.currency} {sow.price:,} "
                                       f"(they add up to {total:,}).", field="milestones")
    return rows


def sow_update(*, user: Any, sow: Sow, milestones: list[tuple] | None = None, **fields: Any) -> Sow:
    """The PSE edits a draft. The price is the accepted quote's; changing it takes a new quote or a change order."""
    sow_edit_check(user=user, sow=sow)
    unknown = set(fields) - SOW_EDITABLE
    if unknown:
        raise ApplicationError(code="invalid-field", message=f"Not editable on a SOW: {', '.join(sorted(unknown))}.")
    if "billing_terms" in fields and fields["billing_terms"] not in BillingTerms.values:
        raise ApplicationError(code="invalid-billing-terms",
                               message=f"Unknown billing terms '{fields['billing_terms']}'.", field="billing_terms")
    if "hourly_rate" in fields and fields["hourly_rate"] is not None:
        fields["hourly_rate"] = parse_amount(fields["hourly_rate"], sow.currency, field="hourly rate")
    net_days = fields.get("net_days", 30)
    if isinstance(net_days, bool) or not isinstance(net_days, int) or not 0 <= net_days <= NET_DAYS.maximum:
        raise ApplicationError(code="invalid-net-days",
                               message=f"Net days is a whole number from 0 to {NET_DAYS.maximum}.", field="net_days")
    with transaction.atomic():
        for name, value in fields.items():
            setattr(sow, name, value)
        sow.save(update_fields=list(fields) or None)
        if milestones is not None:
            rows = _milestones(sow, milestones)
            sow.milestones.all().delete()
            SowMilestone.objects.bulk_create(rows)
        record(actor=user, opportunity=sow.ps_opportunity.parent, subject=sow, verb="sow.updated",
               message=f"{user} edited {sow}", data={"fields": sorted(fields)})
    return sow


def _check_sow_terms(sow: Sow) -> None:
    if sow.billing_terms == BillingTerms.MILESTONES:
        total = sum((m.amount for m in sow.milestones.all()), Decimal(0))
        if not sow.milestones.exists() or total != sow.price:
            raise ApplicationError(code="milestones-mismatch",
                                   message=f"Milestones must add up to the SOW price {sow.currency} {sow.price:,} "
                                           f"(they add up to {total:,}).")
    if sow.billing_terms == BillingTerms.TIME_AND_MATERIALS and not sow.hourly_rate:
        raise ApplicationError(code="hourly-rate-required", message="Time and materials needs an hourly rate.",
                               field="hourly_rate")


def sow_submit_review_check(*, user: Any, sow: Sow) -> None:
    sow_edit_check(user=user, sow=sow)
    _check_sow_terms(sow)


def sow_submit_review(*, user: Any, sow: Sow) -> Sow:
    sow_submit_review_check(user=user, sow=sow)
    with transaction.atomic():
        sow.submit_review()
        save_transition(sow)
        SowRevision.objects.update_or_create(sow=sow, version=sow.version,
                                             defaults={"content": sow.content(), "content_hash": sow.content_hash()})
        record(actor=user, opportunity=sow.ps_opportunity.parent, subject=sow, verb="sow.review_requested",
               message=f"{user} sent {sow} to internal review")
        notify(recipients=approvers_for(["ps_manager"]), kind="sow-review", text=f"{sow} waits for review.",
               subject=sow)
    return sow


def sow_review_check(*, user: Any, sow: Sow, approve: bool = True) -> None:
    """The reviewer may act: a reviewer's role, not the author, the SOW in review, and (to approve) a role that
    every rule of the active policy for this SOW names."""
    require(user, "sales.review_sow", sow, message="Only the PS manager, Dir. CS or Director of PS reviews a SOW.")
    if sow.author_id == user.pk:
        raise ApplicationError(code="segregation-of-duties", message="Nobody reviews their own SOW.")
    if sow.state != Sow.State.IN_REVIEW:
        raise ApplicationError(code="sow-not-in-review", message=f"{sow} is {sow.get_state_display().lower()}.")
    if approve:
        needed = policy_rules.requirements_for(policy_active().rules, "sow", {"billing_terms": sow.billing_terms})
        mine = roles_of(user)
        for req in needed:
            if not user.is_superuser and not mine & set(req.approvers):
                raise ApplicationError(code="needs-approver",
                                       message=f"{req.label}: {sow.get_billing_terms_display().lower()}.")


def sow_review(*, user: Any, sow: Sow, approve: bool, comment: str = "") -> Sow:
    """Internal review by the PS manager (or Dir. CS / Director of PS), never by the author. Billing terms other
    than the standard also need a role the policy's billing-terms rule names."""
    sow_review_check(user=user, sow=sow, approve=approve)
    if not approve and not comment.strip():
        raise ApplicationError(code="comment-required", message="Say what to change.", field="comment")
    with transaction.atomic():
        if approve:
            sow.approve()
            sow.reviewed_by = user
            sow.review_policy = policy_active()
        else:
            sow.return_to_draft()
        save_transition(sow)
        record(actor=user, opportunity=sow.ps_opportunity.parent, subject=sow,
               verb="sow.approved" if approve else "sow.returned",
               message=f"{user} {'approved' if approve else 'returned'} {sow}" + (f": {comment}" if comment else ""))
        notify(recipients=[sow.author], kind="sow-reviewed",
               text=f"{sow} was {'approved' if approve else 'returned'} by {user}.", subject=sow)
    return sow


def sow_send_check(*, user: Any, sow: Sow) -> None:
    require(user, "sales.send_sow", sow, message="Only the SOW's author or the deal's sales rep sends it.")
    if sow.state != Sow.State.APPROVED:
        raise ApplicationError(code="sow-not-approved", message=f"{sow} is {sow.get_state_display().lower()}; only "
                                                                "an approved SOW goes to the customer.")
    ps_alive_check(sow.ps_opportunity)


def sow_send(*, user: Any, sow: Sow, contact: Contact) -> Sow:
    sow_send_check(user=user, sow=sow)
    ps = sow.ps_opportunity
    contact_check(contact=contact, opportunity=ps.parent)
    with transaction.atomic():
        sow.send()
        sow.sent_to = contact
        sow.sent_at = timezone.now()
        save_transition(sow)
        ps_stage(actor=user, ps_opportunity=ps, transition="mark_sow_sent", why=f"{sow} sent for signature")
        record(actor=user, opportunity=ps.parent, subject=sow, verb="sow.sent",
               message=f"{user} sent {sow} to {contact} for signature")
        _sow_link(user, sow, contact, documents.documents_for_sending(user=user, record=sow, kind=Kind.SOW))
    return sow


def _sow_link(user: Any, sow: Sow, contact: Contact, attached: list[Document]) -> str:
    """The customer's private link to read and sign the SOW (or return it with changes), e-mailed on commit with the
    SOW as PDF and as Word."""
    return link_issue(subject=sow, purpose="sow", contact=contact, email_to=contact.email,
                      attachments=documents.attachments(attached),
                      email_subject=f"For your signature: {sow.title} ({sow})",
                      text=f"Hello {contact.name},\n\n{_name(user)} sent you {sow.title} ({sow}) for signature: "
                           f"{sow.currency} {sow.price:,}. Open the link below to read it, then sign it or return "
                           "it with the changes you need.")


def sow_resend_check(*, user: Any, sow: Sow) -> None:
    require(user, "sales.send_sow", sow, message="Only the SOW's author or the deal's sales rep sends it.")
    if sow.state != Sow.State.SENT or sow.sent_to is None:
        raise ApplicationError(code="sow-not-sent", message=f"{sow} is {sow.get_state_display().lower()}; only a "
                                                            "SOW waiting for signature is sent again.")


def sow_resend(*, user: Any, sow: Sow) -> Sow:
    """Send the customer a fresh link to a SOW still waiting for their signature; the earlier link stops working."""
    sow_resend_check(user=user, sow=sow)
    assert sow.sent_to is not None  # the check refuses a SOW sent to nobody
    with transaction.atomic():
        _sow_link(user, sow, sow.sent_to, documents.current_for_sending(user=user, record=sow, kind=Kind.SOW))
        record(actor=user, opportunity=sow.ps_opportunity.parent, subject=sow, verb="sow.resent",
               message=f"{user} sent {sow} again to {sow.sent_to}; the earlier link no longer works")
    return sow


def _shown(record: Any, kind: str, sha256: str | None) -> Document | None:
    """The document a customer's answer names (see documents.document_shown_check); not checked when the caller
    passes no hash (a service called without a page)."""
    if sha256 is None:
        return None
    return documents.document_shown_check(record=record, kind=kind, sha256=sha256)


def sow_sign(*, customer: CustomerActor, sow: Sow, name: str, title: str, content_hash: str | None = None,
             document_sha256: str | None = None) -> Sow:
    """The customer signs with a typed name and title; time, address, browser, a hash of the terms signed and the
    SHA-256 of the SOW document their page showed are kept."""
    ps = sow.ps_opportunity
    customer.check_account(ps.parent.account_id)
    if sow.state != Sow.State.SENT:
        raise ApplicationError(code="sow-not-sent", message=f"{sow} is {sow.get_state_display().lower()}; "
                                                            "it cannot be signed now.")
    if not (name or "").strip() or not (title or "").strip():
        raise ApplicationError(code="signature-incomplete", message="Type your full name and your title to sign.")
    ps_alive_check(ps)
    current_hash = sow.content_hash()
    if content_hash is not None and content_hash != current_hash:
        raise ApplicationError(code="sow-changed", message="The SOW changed since it was shown to you; reload it.")
    shown = _shown(sow, Kind.SOW, document_sha256)
    with transaction.atomic():
        sow.sign()
        save_transition(sow)
        SowSignature.objects.create(sow=sow, contact=customer.contact, signed_name=name.strip(),
                                    signed_title=title.strip(), ip_address=customer.ip_address,
                                    user_agent=customer.user_agent[:400], content_hash=current_hash,
                                    hash_scheme=CONTENT_SCHEME, version=sow.version, document=shown,
                                    document_sha256=shown.sha256 if shown else "")
        ps_stage(actor=customer, ps_opportunity=ps, transition="mark_sow_signed", why=f"{sow} signed")
        record(actor=customer, opportunity=ps.parent, subject=sow, verb="sow.signed",
               message=f"{name.strip()} ({title.strip()}) signed {sow}",
               data={"hash": current_hash, "ip": customer.ip_address,
                     "document_sha256": shown.sha256 if shown else ""})
        notify(recipients=[ps.owner, sow.author], kind="sow-signed",
               text=f"{sow} was signed by the customer: mark the opportunity Closed Won.", subject=sow)
    return sow


def sow_request_changes(*, customer: CustomerActor, sow: Sow, changes: str) -> Sow:
    """The customer returns the SOW with changes: it goes back to draft as a new version."""
    ps = sow.ps_opportunity
    customer.check_account(ps.parent.account_id)
    if sow.state != Sow.State.SENT:
        raise ApplicationError(code="sow-not-sent", message=f"{sow} is {sow.get_state_display().lower()}.")
    if not (changes or "").strip():
        raise ApplicationError(code="changes-required", message="Describe the changes you need.", field="changes")
    with transaction.atomic():
        sow.return_to_draft()
        sow.version += 1
        save_transition(sow)
        ps_stage(actor=customer, ps_opportunity=ps, transition="mark_sow_returned", why=f"{sow} returned")
        record(actor=customer, opportunity=ps.parent, subject=sow, verb="sow.changes_requested",
               message=f"{customer.label} returned the SOW with changes: {changes[:300]}")
        notify(recipients=[sow.author, ps.owner], kind="sow-changes", text=f"Customer asks changes to {sow}.",
               subject=sow)
    return sow

