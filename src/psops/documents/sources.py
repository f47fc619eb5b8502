"""What each kind of document prints: the facts of its record, as plain data a template may read.

Every value is a string, a number, a list or a dict (amounts and dates as text), so a sandboxed template can read
them and nothing else, and so they can be hashed: the SHA-256 of a document's facts (its "content fingerprint") is
printed in its footer and kept on the document. `SAMPLES` holds one made-up record of each kind with exactly the same
fields, for previews and for checking a template before it is saved; a test holds the two shapes equal.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone

from psops.billing.models import CreditNote, Invoice
from psops.crm.models import Contact, Opportunity
from psops.delivery.models import AcceptanceRequest, Project
from psops.estimating.calculator import TEMPLATES as ROM_TEMPLATES
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow

from .models import CompanyProfile, Format, Kind


@dataclass(frozen=True)
class Source:
    kind: str
    model: type[models.Model]
    facts: Callable[[Any], dict]
    deal: Callable[[Any], Opportunity]
    reference: Callable[[Any], str]
    formats: tuple[str, ...] = (Format.PDF,)


def paragraphs(text: str | None) -> list[str]:
    """A text as the document prints it: each line that is not blank its own paragraph (a list typed as lines
    stays a list)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _amount(value: Any) -> str:
    return "" if value is None else str(value)


def _date(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        value = timezone.localdate(value)
    return value.isoformat()


def company() -> dict:
    profile = CompanyProfile.objects.first() or CompanyProfile()
    logo = ""
    if profile.logo:
        with profile.logo.open("rb") as handle:
            data = handle.read()
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        logo = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {"name": profile.name, "address": [line for line in profile.address.splitlines() if line.strip()],
            "email": profile.email, "phone": profile.phone, "website": profile.website, "tax_id": profile.tax_id,
            "payment_instructions": paragraphs(profile.payment_instructions), "logo": logo}


def _customer(deal: Opportunity, contact: Contact | None) -> dict:
    return {"name": deal.account.name, "contact": contact.name if contact else "",
            "email": contact.email if contact else "", "title": contact.title if contact else ""}


def _deal(deal: Opportunity) -> dict:
    owner = deal.owner
    return {"name": deal.name, "owner": owner.get_full_name() or owner.username, "owner_email": owner.email}


def _signature(name: str = "", title: str = "", date: str = "") -> dict:
    return {"name": name, "title": title, "date": date}


# --- ROM summary (step 2) ---------------------------------------------------------------------------------------


def _rom(rom: Rom) -> dict:
    version = rom.approved_version or rom.current
    spec = ROM_TEMPLATES.get(rom.template)
    lines = version.lines if version else []
    return {
        "reference": f"ROM-{rom.pk}" + (f" v{version.number}" if version else ""),
        "date": _date(version.created_at if version else rom.created_at),
        "currency": version.currency if version else "USD",
        "customer": _customer(rom.opportunity, None), "deal": _deal(rom.opportunity),
        "rom": {"template": spec.title if spec else rom.template, "status": rom.get_status_display(),
                "approved": rom.approved_version_id is not None and version is not None
                and rom.approved_version_id == version.pk,
                "low": _amount(version.low if version else None), "high": _amount(version.high if version else None),
                "lines": [{"code": str(line.get("code", "")), "description": str(line.get("description", "")),
                           "quantity": line.get("quantity", 1), "low": _amount(line.get("low")),
                           "high": _amount(line.get("high"))} for line in lines],
                "assumptions": paragraphs(version.assumptions if version else ""),
                "flags": [str(flag.get("message", "")) for flag in (version.flags if version else [])]},
    }


# --- Quote (step 8) ---------------------------------------------------------------------------------------------


def _quote(quote: Quote) -> dict:
    deal = quote.ps_opportunity.parent
    accepted = quote.state == Quote.State.ACCEPTED
    return {
        "reference": str(quote), "date": _date(quote.sent_at or quote.created_at), "currency": quote.currency,
        "customer": _customer(deal, quote.sent_to), "deal": _deal(deal),
        "quote": {"engagement": quote.ps_opportunity.name, "valid_until": _date(quote.valid_until),
                  "billing_terms": quote.get_billing_terms_display(), "investment": quote.investment,
                  "discount_percent": _amount(quote.discount_percent), "subtotal": _amount(quote.subtotal),
                  "discount": _amount(quote.discount_amount), "total": _amount(quote.total),
                  "terms": paragraphs(quote.terms), "rom": str(quote.rom_version),
                  "lines": [{"code": line.code, "description": line.description, "quantity": line.quantity,
                             "unit_price": _amount(line.unit_price), "amount": _amount(line.amount)}
                            for line in quote.lines.all()],
                  "acceptance": _signature(quote.sent_to.name if accepted and quote.sent_to else "", "",
                                           _date(quote.answered_at) if accepted else "")},
    }


# --- SOW (step 9) -----------------------------------------------------------------------------------------------


def _sow(sow: Sow) -> dict:
    deal = sow.ps_opportunity.parent
    signature = getattr(sow, "signature", None) if sow.state == Sow.State.SIGNED else None
    return {
        "reference": f"SOW-{sow.pk:05d}", "date": _date(sow.sent_at or sow.created_at), "currency": sow.currency,
        "customer": _customer(deal, sow.sent_to), "deal": _deal(deal),
        "sow": {"title": sow.title, "version": sow.version, "quote": str(sow.quote), "engagement":
                sow.ps_opportunity.name, "author": sow.author.get_full_name() or sow.author.username,
                "scope": paragraphs(sow.scope), "deliverables": paragraphs(sow.deliverables),
                "assumptions": paragraphs(sow.assumptions), "out_of_scope": paragraphs(sow.out_of_scope),
                "acceptance_terms": paragraphs(sow.acceptance_terms), "price": _amount(sow.price),
                "billing_terms": sow.get_billing_terms_display(), "net_days": sow.net_days,
                "hourly_rate": _amount(sow.hourly_rate),
                "milestones": [{"name": m.name, "amount": _amount(m.amount), "due_date": _date(m.due_date)}
                               for m in sow.milestones.all()],
                "signature": _signature(signature.signed_name, signature.signed_title, _date(signature.signed_at))
                if signature else _signature()},
    }


# --- Invoice and credit note (step 12) --------------------------------------------------------------------------


def _invoice_facts(invoice: Invoice) -> dict:
    project = invoice.project
    return {"number": invoice.number or "DRAFT", "state": invoice.get_state_display(),
            "issue_date": _date(invoice.issue_date), "due_date": _date(invoice.due_date),
            "net_days": invoice.net_days, "description": invoice.description, "amount": _amount(invoice.amount),
            "paid_to_date": _amount(invoice.paid_to_date), "open_balance": _amount(invoice.open_balance),
            "project": project.name, "sow": f"SOW-{project.sow_id:05d}"}


def _invoice(invoice: Invoice) -> dict:
    deal = invoice.project.ps_opportunity.parent
    return {
        "reference": invoice.number or f"DRAFT-{invoice.pk}", "date": _date(invoice.issue_date or invoice.created_at),
        "currency": invoice.currency, "customer": _customer(deal, invoice.project.sow.sent_to), "deal": _deal(deal),
        "invoice": {**_invoice_facts(invoice),
                    "lines": [{"description": invoice.description, "quantity": 1, "unit_price": _amount(invoice.amount),
                               "amount": _amount(invoice.amount)}],
                    "credits": [{"number": c.number, "amount": _amount(c.amount), "reason": c.reason}
                                for c in invoice.credit_notes.all()]},
    }


def _credit_note(note: CreditNote) -> dict:
    invoice = note.invoice
    deal = invoice.project.ps_opportunity.parent
    return {
        "reference": note.number, "date": _date(note.created_at), "currency": invoice.currency,
        "customer": _customer(deal, invoice.project.sow.sent_to), "deal": _deal(deal),
        "credit_note": {"number": note.number, "amount": _amount(note.amount), "reason": note.reason,
                        "invoice": _invoice_facts(invoice)},
    }


# --- Sign-off (step 15) -----------------------------------------------------------------------------------------


def _sign_off(project: Project) -> dict:
    deal = project.ps_opportunity.parent
    sow = project.sow
    request = (project.acceptance_requests.filter(kind=AcceptanceRequest.Kind.SIGN_OFF)
               .select_related("contact").order_by("-sent_at", "-id").first())
    signed = request if request is not None and request.state == AcceptanceRequest.State.ACCEPTED else None
    return {
        "reference": f"PRJ-{project.pk:05d}", "date": _date(request.sent_at if request else timezone.now()),
        "currency": project.currency, "customer": _customer(deal, request.contact if request else sow.sent_to),
        "deal": _deal(deal),
        "sign_off": {"project": project.name, "sow": f"SOW-{sow.pk:05d}", "sow_title": sow.title,
                     "sow_version": sow.version, "deliverables": paragraphs(sow.deliverables),
                     "kickoff_date": _date(project.kickoff_date), "go_live_date": _date(project.go_live_date),
                     "completed_date": _date(project.completed_date), "price": _amount(sow.price),
                     "acceptance": project.get_acceptance_display() if project.acceptance else "",
                     "signature": _signature(signed.signed_name, signed.signed_title, _date(signed.answered_at))
                     if signed else _signature()},
    }


SOURCES: dict[str, Source] = {s.kind: s for s in [
    Source(Kind.ROM_SUMMARY, Rom, _rom, lambda r: r.opportunity, lambda r: f"ROM-{r.pk}"),
    Source(Kind.QUOTE, Quote, _quote, lambda q: q.ps_opportunity.parent, str),
    Source(Kind.SOW, Sow, _sow, lambda s: s.ps_opportunity.parent, lambda s: f"SOW-{s.pk:05d}",
           formats=(Format.PDF, Format.DOCX)),
    Source(Kind.INVOICE, Invoice, _invoice, lambda i: i.project.ps_opportunity.parent,
           lambda i: i.number or f"DRAFT-{i.pk}"),
    Source(Kind.CREDIT_NOTE, CreditNote, _credit_note, lambda c: c.invoice.project.ps_opportunity.parent,
           lambda c: c.number),
    Source(Kind.SIGN_OFF, Project, _sign_off, lambda p: p.ps_opportunity.parent, lambda p: f"PRJ-{p.pk:05d}"),
]}


def sources_for(record: models.Model) -> list[Source]:
    return [s for s in SOURCES.values() if isinstance(record, s.model)]


def fingerprint(facts: dict) -> str:
    """SHA-256 of a record's facts (without the company's logo and the document block): the content fingerprint."""
    core = {k: v for k, v in facts.items() if k not in ("company", "document")}
    return hashlib.sha256(json.dumps(core, sort_keys=True, default=str).encode()).hexdigest()


def with_document(facts: dict, *, kind: str, version: int, generated_at: str) -> dict:
    """The facts as a template reads them: with the company block and the document's own line."""
    return {**facts, "company": company(),
            "document": {"kind": Kind(kind).label, "version": version, "generated_at": generated_at,
                         "content_sha256": fingerprint(facts)}}


# --- Samples: one made-up record of each kind, with every field its real facts have ---------------------------------

_CUSTOMER = {"name": "Zürich Größe AG", "contact": "Jürgen Groß", "email": "juergen@example.ch",
             "title": "Head of Platform"}
_DEAL = {"name": "Platform migration", "owner": "Sam Sales", "owner_email": "sam@example.com"}
_LINES = [{"code": "SRV-MIGR-SM", "description": "Self-managed to SaaS migration", "quantity": 1,
           "unit_price": "30000.00", "amount": "30000.00"},
          {"code": "SRV-TRAIN-R", "description": "Remote training session (up to 12 attendees)", "quantity": 2,
           "unit_price": "5000.00", "amount": "10000.00"}]
_INVOICE = {"number": "INV-2026-00042", "state": "Issued", "issue_date": "2026-11-02", "due_date": "2026-12-02",
            "net_days": 30, "description": "100% on SOW signature: SOW-00007", "amount": "38000.00",
            "paid_to_date": "0.00", "open_balance": "37000.00", "project": "株式会社 platform migration",
            "sow": "SOW-00007"}
_SCOPE = ["Migrate 250 users and 1,200 projects from the self-managed instance to SaaS.",
          "Plan, dry-run and cut over in agreed maintenance windows."]

SAMPLES: dict[str, dict] = {
    Kind.ROM_SUMMARY: {
        "reference": "ROM-7 v2", "date": "2026-10-01", "currency": "USD", "customer": _CUSTOMER, "deal": _DEAL,
        "rom": {"template": "Self-managed to SaaS migration", "status": "Approved", "approved": True,
                "low": "30000.00", "high": "45000.00",
                "lines": [{"code": "MIGR", "description": "Migration, 250 users x 1,200 projects", "quantity": 1,
                           "low": "30000.00", "high": "45000.00"}],
                "assumptions": ["Remote delivery."], "flags": []}},
    Kind.QUOTE: {
        "reference": "Q-00007", "date": "2026-10-05", "currency": "EUR", "customer": _CUSTOMER, "deal": _DEAL,
        "quote": {"engagement": "Platform migration (PS)", "valid_until": "2026-12-31",
                  "billing_terms": "100% on SOW signature (standard)", "investment": False,
                  "discount_percent": "5.00", "subtotal": "40000.00", "discount": "2000.00", "total": "38000.00",
                  "terms": ["Prices exclude taxes."], "rom": "ROM-7 v2", "lines": _LINES,
                  "acceptance": _signature()}},
    Kind.SOW: {
        "reference": "SOW-00007", "date": "2026-10-12", "currency": "EUR", "customer": _CUSTOMER, "deal": _DEAL,
        "sow": {"title": "Platform migration to SaaS", "version": 2, "quote": "Q-00007",
                "engagement": "Platform migration (PS)", "author": "Pat Engineer", "scope": _SCOPE,
                "deliverables": ["Migrated instance.", "Runbook."], "assumptions": ["Remote delivery."],
                "out_of_scope": ["Custom integrations."], "acceptance_terms": ["Accepted on completion."],
                "price": "38000.00", "billing_terms": "100% on SOW signature (standard)", "net_days": 30,
                "hourly_rate": "", "milestones": [{"name": "Cut-over", "amount": "38000.00",
                                                   "due_date": "2026-12-15"}],
                "signature": _signature()}},
    Kind.INVOICE: {
        "reference": "INV-2026-00042", "date": "2026-11-02", "currency": "EUR", "customer": _CUSTOMER, "deal": _DEAL,
        "invoice": {**_INVOICE, "lines": [{"description": _INVOICE["description"], "quantity": 1,
                                           "unit_price": "38000.00", "amount": "38000.00"}],
                    "credits": [{"number": "CN-2026-00003", "amount": "1000.00", "reason": "Late delivery"}]}},
    Kind.CREDIT_NOTE: {
        "reference": "CN-2026-00003", "date": "2026-11-20", "currency": "EUR", "customer": _CUSTOMER, "deal": _DEAL,
        "credit_note": {"number": "CN-2026-00003", "amount": "1000.00", "reason": "Late delivery",
                        "invoice": _INVOICE}},
    Kind.SIGN_OFF: {
        "reference": "PRJ-00007", "date": "2026-11-25", "currency": "EUR", "customer": _CUSTOMER, "deal": _DEAL,
        "sign_off": {"project": "株式会社 platform migration", "sow": "SOW-00007",
                     "sow_title": "Platform migration to SaaS", "sow_version": 2,
                     "deliverables": ["Migrated instance.", "Runbook."], "kickoff_date": "2026-10-20",
                     "go_live_date": "2026-11-20", "completed_date": "", "price": "38000.00", "acceptance": "",
                     "signature": _signature()}},
}
