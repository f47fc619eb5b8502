"""What each record page shows and which acts it offers. Every act calls exactly one service."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django import forms
from django.db.models import Prefetch
from django.utils import timezone

from psops.accounts import roles
from psops.approvals import services as approvals
from psops.approvals.models import ApprovalRequest
from psops.billing import services as billing
from psops.billing.models import CollectionAction, CollectionCase, Invoice, WriteOff
from psops.core.errors import ApplicationError
from psops.core.formfields import MoneyFormField, QuantityFormField, QuickSelect, WholeNumberFormField
from psops.core.money import parse_amount
from psops.core.quantities import HOURS, HOURS_IN_A_DAY, NET_DAYS, PERCENT
from psops.core.quantities import parse as parse_quantity
from psops.crm import services as crm
from psops.crm.choices import LossReason, PSStage, Stage
from psops.crm.models import Contact, Opportunity, PSOpportunity
from psops.delivery import services as delivery
from psops.delivery.models import AcceptanceRequest, Project, WrapUp
from psops.delivery.services import OPEN_STATES, WRAP_UP_ITEMS
from psops.documents import services as documents
from psops.documents.models import Kind as DocumentKind
from psops.estimating import services as estimating
from psops.estimating.models import Rom
from psops.sales import services as sales
from psops.sales.choices import BillingTerms
from psops.sales.models import Quote, Sow
from psops.web.templatetags.psops import role_names
from psops.workflow import services as workflow

from .acts import Act, register
from .forms import PersonField
from .records import Kind
from .records import register as register_kind

DATE = forms.DateInput(attrs={"type": "date"})


def _contacts(record_account_id):
    return Contact.objects.filter(account_id=record_account_id)


class ContactForm(forms.Form):
    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), label="Customer contact", widget=QuickSelect)

    def __init__(self, *args, account_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = _contacts(account_id)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=300)


class CommentForm(forms.Form):
    comment = forms.CharField(label="Comment", required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RequiredCommentForm(forms.Form):
    comment = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 2}))


# --- Opportunity ---------------------------------------------------------------------------------------------


class StageForm(forms.Form):
    stage = forms.ChoiceField(label="Move to", choices=Stage.choices)
    reason = forms.CharField(label="Reason (required to move back)", required=False, max_length=300)

    def __init__(self, *args, user, deal, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the stages this person may move the deal to are offered (the service's own rule, asked per stage), so
        # an owner is never offered a move back that an administrator alone may make. Any stage still validates: a
        # forged move is refused by the service, with the rule's own words.
        allowed = [(value, label) for value, label in Stage.choices
                   if crm.opportunity_move_stage_allowed(user=user, opportunity=deal, stage=value)]
        self.fields["stage"].widget.choices = allowed
        if not any(crm.opportunity_move_is_back(deal, value) for value, _ in allowed):
            del self.fields["reason"]


register_kind(Kind("opportunity", "opportunities",
                   lambda pk: Opportunity.objects.select_related("account", "owner", "solutions_architect",
                                                                 "tam").get(pk=pk),
                   lambda o: o, "web/facts/opportunity.html", lambda o: f"{o.account.name}: {o.name}"))
class DealTeamForm(forms.Form):
    solutions_architect = PersonField(roles.SOLUTIONS_ARCHITECT, label="Solutions architect", required=False,
                                      empty_label="None")
    tam = PersonField(roles.TAM, label="TAM", required=False, empty_label="None")

    def __init__(self, *args, deal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["solutions_architect"].initial = deal.solutions_architect_id
        self.fields["tam"].initial = deal.tam_id


class ContactNewForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    email = forms.EmailField(label="E-mail")
    title = forms.CharField(label="Title", required=False, max_length=120)


register(
    "opportunity",
    Act("stage", "Move stage", form=StageForm, style="secondary",
        check=lambda user, o: crm.opportunity_move_stage_check(user=user, opportunity=o),
        form_kwargs=lambda user, o: {"user": user, "deal": o},
        run=lambda user, o, d: crm.opportunity_move_stage(user=user, opportunity=o, stage=d["stage"],
                                                          reason=d.get("reason", "")),
        success="Stage changed."),
    Act("contact", "Add a contact", form=ContactNewForm, style="secondary",
        check=lambda user, o: crm.contact_create_check(user=user, account=o.account),
        run=lambda user, o, d: crm.contact_create(user=user, account=o.account, name=d["name"], email=d["email"],
                                                  title=d["title"]),
        success="Contact added."),
    Act("team", "Name the deal team", form=DealTeamForm, style="secondary",
        form_kwargs=lambda user, o: {"deal": o},
        check=lambda user, o: crm.deal_team_set_check(user=user, opportunity=o),
        run=lambda user, o, d: crm.deal_team_set(user=user, opportunity=o,
                                                 solutions_architect=d["solutions_architect"], tam=d["tam"]),
        success="Deal team saved; the people named see the deal's work in their queue."),
)


# --- PS opportunity ------------------------------------------------------------------------------------------


class AmountForm(forms.Form):
    ps_amount = MoneyFormField(label="PS amount")
    reason = forms.CharField(label="Why", required=False, max_length=200)


class LostForm(forms.Form):
    reason = forms.ChoiceField(label="Loss reason", choices=LossReason.choices)
    note = forms.CharField(label="Note", required=False, max_length=500)


class QuoteForm(forms.Form):
    valid_until = forms.DateField(label="Valid until", widget=DATE)
    discount_percent = QuantityFormField(bound=PERCENT, label="Discount (%)", initial=0)
    billing_terms = forms.ChoiceField(label="Billing terms", choices=BillingTerms.choices)
    investment = forms.BooleanField(label="Investment (free services)", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["valid_until"].initial = timezone.localdate() + dt.timedelta(days=30)


register_kind(Kind("psopportunity", "ps-opportunities",
                   lambda pk: PSOpportunity.objects.select_related("parent__account", "owner").get(pk=pk),
                   lambda p: p.parent, "web/facts/psopportunity.html"))
register(
    "psopportunity",
    Act("quote", "Build the quote", form=QuoteForm,
        when=lambda p: p.stage in (PSStage.APPROVED, PSStage.QUOTED),
        check=lambda user, p: sales.quote_create_check(user=user, ps_opportunity=p),
        run=lambda user, p, d: sales.quote_create(user=user, ps_opportunity=p, valid_until=d["valid_until"],
                                                  discount_percent=d["discount_percent"],
                                                  billing_terms=d["billing_terms"], investment=d["investment"]),
        success="Quote built from the approved ROM.", opens_result=True),
    Act("close-won", "Mark Closed Won", when=lambda p: p.stage == PSStage.SOW_SIGNED,
        check=lambda user, p: workflow.ps_opportunity_close_won_check(user=user, ps_opportunity=p),
        run=lambda user, p, d: workflow.ps_opportunity_close_won(user=user, ps_opportunity=p),
        success="Closed Won: the SOW project is created and the first invoice drafted.", opens_result=True),
    Act("amount", "Set PS amount", form=AmountForm, style="secondary",
        when=lambda p: p.stage in crm.AMOUNT_EDITABLE_STAGES,
        check=lambda user, p: crm.ps_opportunity_set_amount_check(user=user, ps_opportunity=p),
        run=lambda user, p, d: crm.ps_opportunity_set_amount(user=user, ps_opportunity=p, ps_amount=d["ps_amount"],
                                                             reason=d["reason"]),
        success="PS amount updated."),
    Act("lost", "Close as lost", form=LostForm, style="danger", when=lambda p: p.is_open,
        check=lambda user, p: crm.ps_opportunity_close_lost_check(user=user, ps_opportunity=p),
        run=lambda user, p, d: crm.ps_opportunity_close_lost(user=user, ps_opportunity=p, reason=d["reason"],
                                                             note=d["note"]),
        success="PS opportunity closed as lost."),
)


# --- ROM -----------------------------------------------------------------------------------------------------


class OpenPsForm(forms.Form):
    name = forms.CharField(label="Name", required=False, max_length=200)


class EstimateForm(forms.Form):
    low = MoneyFormField(label="Low (USD)")
    high = MoneyFormField(label="High (USD)")
    note = forms.CharField(label="How it was estimated", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


register_kind(Kind("rom", "roms",
                   lambda pk: Rom.objects.select_related("opportunity__account", "opportunity__owner", "current",
                                                         "approved_version", "ps_opportunity").get(pk=pk),
                   lambda r: r.opportunity, "web/facts/rom.html"))
register(
    "rom",
    Act("submit", "Send for approval", when=lambda r: r.status == Rom.Status.DRAFT,
        check=lambda user, r: approvals.rom_submit_check(user=user, rom=r),
        run=lambda user, r, d: approvals.rom_submit(user=user, rom=r), success="Sent for approval."),
    Act("open-ps", "Create the PS opportunity", form=OpenPsForm, when=lambda r: r.ps_opportunity_id is None,
        check=lambda user, r: estimating.rom_open_ps_opportunity_check(user=user, rom=r),
        run=lambda user, r, d: estimating.rom_open_ps_opportunity(user=user, rom=r, name=d["name"]),
        success="PS opportunity created with the ROM's value as its PS amount.", opens_result=True),
    Act("estimate", "Enter the engagement manager's estimate", form=EstimateForm,
        when=lambda r: r.current is not None and r.current.high is None and r.status != Rom.Status.SUBMITTED,
        check=lambda user, r: estimating.rom_estimate_manual_check(user=user, rom=r),
        run=lambda user, r, d: estimating.rom_estimate_manual(user=user, rom=r, low=d["low"], high=d["high"],
                                                              note=d["note"]),
        success="Estimate saved as a new ROM version; the rep sends it for approval."),
)


# --- Approval request ----------------------------------------------------------------------------------------


class DiscoveryForm(forms.Form):
    questions = forms.CharField(label="Questions to answer", widget=forms.Textarea(attrs={"rows": 3}))


def _request_deal(request: ApprovalRequest):
    subject = request.subject
    if subject is None:
        raise ApprovalRequest.DoesNotExist("the request's subject is gone")
    return subject.rom.opportunity if request.kind == "rom" else subject.ps_opportunity.parent


def _decide(outcome):
    def run(user, request, data):
        if request.kind == "rom":
            return approvals.rom_decide(user=user, request=request, outcome=outcome, comment=data.get("comment", ""),
                                        questions=data.get("questions", ""))
        return sales.quote_decide(user=user, request=request, outcome=outcome,
                                  comment=data.get("comment", "") or data.get("questions", ""))
    return run


def _decide_check(user, request):
    return approvals.request_decide_check(user=user, request=request)


register_kind(Kind("approvalrequest", "approvals",
                   lambda pk: ApprovalRequest.objects.select_related("policy", "submitted_by", "author")
                   .prefetch_related("requirements", "decisions__approver").get(pk=pk),
                   _request_deal, "web/facts/approvalrequest.html", lambda r: r.title))
register(
    "approvalrequest",
    Act("approve", "Approve", form=CommentForm, check=_decide_check, run=_decide("approve"),
        when=lambda r: r.state == ApprovalRequest.State.PENDING, success="Approved."),
    Act("discovery", "Needs discovery", form=DiscoveryForm, style="secondary", check=_decide_check,
        when=lambda r: r.kind == "rom" and r.state == ApprovalRequest.State.PENDING, run=_decide("needs-discovery"),
        success="Sent back with your questions; they are in the engagement's thread."),
    Act("reject", "Reject", form=RequiredCommentForm, style="danger", check=_decide_check,
        when=lambda r: r.state == ApprovalRequest.State.PENDING, run=_decide("reject"), success="Rejected."),
)


# --- Quote ---------------------------------------------------------------------------------------------------


def _account_of_quote(user, quote):
    return {"account_id": quote.ps_opportunity.parent.account_id}


register_kind(Kind("quote", "quotes",
                   lambda pk: Quote.objects.select_related("ps_opportunity__parent__account", "sent_to")
                   .prefetch_related("lines").get(pk=pk),
                   lambda q: q.ps_opportunity.parent, "web/facts/quote.html"))
def _submitted(request) -> str:
    """What "Submit" did: approved at once, or whose approvals it now waits for."""
    if request is None:
        return "Approved at once: the approval policy asks for no approval for this quote. Send it to the customer."
    needed = "; ".join(f"{r.label} (the {role_names(r.approvers)})" for r in request.requirements.all()
                       if not r.satisfied)
    return f"Sent for approval: {needed}. The approvers are notified."


register(
    "quote",
    Act("submit", "Submit", when=lambda q: q.state == Quote.State.DRAFT,
        check=lambda user, q: sales.quote_submit_check(user=user, quote=q),
        run=lambda user, q, d: sales.quote_submit(user=user, quote=q), success=_submitted),
    Act("send", "Send to the customer", form=ContactForm, form_kwargs=_account_of_quote,
        when=lambda q: q.state == Quote.State.APPROVED,
        check=lambda user, q: sales.quote_send_check(user=user, quote=q),
        run=lambda user, q, d: sales.quote_send(user=user, quote=q, contact=d["contact"]),
        success="Quote sent; the customer answers through their private link."),
    Act("withdraw", "Withdraw", form=ReasonForm, style="danger",
        when=lambda q: q.state in (Quote.State.DRAFT, Quote.State.PENDING_APPROVAL, Quote.State.APPROVED,
                                   Quote.State.SENT),
        check=lambda user, q: sales.quote_withdraw_check(user=user, quote=q),
        run=lambda user, q, d: sales.quote_withdraw(user=user, quote=q, reason=d["reason"]),
        success="Quote withdrawn; any link the customer had no longer works."),
    Act("resend", "Send the link again", style="secondary", when=lambda q: q.state == Quote.State.SENT,
        check=lambda user, q: sales.quote_resend_check(user=user, quote=q),
        run=lambda user, q, d: sales.quote_resend(user=user, quote=q),
        success="A fresh link is on its way; the earlier one no longer works."),
    Act("sow", "Write the SOW",
        when=lambda q: q.state == Quote.State.ACCEPTED and not Sow.objects.filter(quote=q).exists(),
        check=lambda user, q: sales.sow_create_check(user=user, quote=q),
        run=lambda user, q, d: sales.sow_create(user=user, quote=q), success="SOW drafted from the PS SOW template.",
        opens_result=True),
)


# --- SOW -----------------------------------------------------------------------------------------------------


class SowForm(forms.ModelForm):
    class Meta:
        model = Sow
        fields = ["title", "scope", "deliverables", "assumptions", "out_of_scope", "acceptance_terms",
                  "billing_terms", "net_days", "hourly_rate"]
        widgets = {f: forms.Textarea(attrs={"rows": 3}) for f in
                   ["scope", "deliverables", "assumptions", "out_of_scope", "acceptance_terms"]}

    def __init__(self, *args, instance=None, **kwargs):
        super().__init__(*args, instance=instance, **kwargs)
        self.fields["net_days"] = WholeNumberFormField(bound=NET_DAYS, label="Net days")


GROUPED_DIGITS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?%?")


class MilestonesForm(forms.Form):
    """Milestones as lines of text, "name | amount or percent | due date", which must add up to the SOW price."""

    milestones = forms.CharField(
        label="Milestones", widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: name | amount or percent of the price | due date (YYYY-MM-DD, optional). "
                  "Example: Design signed off | 40% | 2027-02-15. Together they must add up to the price.")

    def __init__(self, *args, sow=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sow = sow
        if sow is not None and not self.is_bound:
            self.fields["milestones"].initial = "\n".join(
                f"{m.name} | {m.amount} | {m.due_date or ''}".rstrip(" |") for m in sow.milestones.all())

    def clean_milestones(self):
        rows = []
        for number, line in enumerate(self.cleaned_data["milestones"].splitlines(), 1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) not in (2, 3) or not parts[0]:
                raise forms.ValidationError(f"Line {number}: write name | amount or percent | due date.")
            amount = parts[1]
            if GROUPED_DIGITS.fullmatch(amount):  # 12,500.00: thousands grouped; "1," or "1,2" is no number
                amount = amount.replace(",", "")
            try:
                if amount.endswith("%"):
                    percent = parse_quantity(amount[:-1], PERCENT, field=f"Line {number}: the percent")
                    if percent <= 0:
                        raise ApplicationError(code="invalid-milestone",
                                               message=f"Line {number}: a milestone is above 0% of the price.")
                    value = (self.sow.price * percent / 100).quantize(Decimal("0.01"))
                else:
                    value = parse_amount(amount, self.sow.currency, field=f"Line {number}: the amount")
                    if value <= 0:
                        raise ApplicationError(code="invalid-milestone",
                                               message=f"Line {number}: a milestone's amount is above zero.")
            except ApplicationError as refused:
                raise forms.ValidationError(refused.message) from refused
            due = None
            if len(parts) == 3 and parts[2]:
                try:
                    due = dt.date.fromisoformat(parts[2])
                except ValueError as exc:
                    raise forms.ValidationError(f"Line {number}: '{parts[2]}' is not a date (YYYY-MM-DD).") from exc
            rows.append((parts[0][:200], value, due))
        if not rows:
            raise forms.ValidationError("Enter at least one milestone.")
        # Percentages round to cents: the last milestone takes the remainder so that they add up exactly.
        total = sum(value for _, value, _ in rows)
        if all("%" in line for line in self.cleaned_data["milestones"].splitlines() if line.strip()) \
                and abs(total - self.sow.price) < Decimal("0.05") * len(rows):
            name, value, due = rows[-1]
            rows[-1] = (name, value + self.sow.price - total, due)
        return rows


def _sow_update(user, sow, data):
    return sales.sow_update(user=user, sow=sow, **{k: v for k, v in data.items() if k in sales.SOW_EDITABLE})


register_kind(Kind("sow", "sows",
                   lambda pk: Sow.objects.select_related("ps_opportunity__parent__account", "author", "quote")
                   .prefetch_related("milestones").get(pk=pk),
                   lambda s: s.ps_opportunity.parent, "web/facts/sow.html"))
register(
    "sow",
    Act("edit", "Edit", form=SowForm, style="secondary",
        form_kwargs=lambda user, s: {"instance": Sow.objects.get(pk=s.pk)},
        when=lambda s: s.state == Sow.State.DRAFT, check=lambda user, s: sales.sow_edit_check(user=user, sow=s),
        run=_sow_update, success="SOW saved."),
    Act("milestones", "Milestones", form=MilestonesForm, style="secondary",
        form_kwargs=lambda user, s: {"sow": s},
        when=lambda s: s.state == Sow.State.DRAFT, check=lambda user, s: sales.sow_edit_check(user=user, sow=s),
        run=lambda user, s, d: sales.sow_update(user=user, sow=s, milestones=d["milestones"]),
        success="Milestones saved."),
    Act("review", "Send to review", when=lambda s: s.state == Sow.State.DRAFT,
        check=lambda user, s: sales.sow_submit_review_check(user=user, sow=s),
        run=lambda user, s, d: sales.sow_submit_review(user=user, sow=s), success="Sent to internal review."),
    Act("approve", "Approve", when=lambda s: s.state == Sow.State.IN_REVIEW,
        check=lambda user, s: sales.sow_review_check(user=user, sow=s, approve=True),
        run=lambda user, s, d: sales.sow_review(user=user, sow=s, approve=True), success="SOW approved."),
    Act("return", "Return with comments", form=RequiredCommentForm, style="secondary",
        when=lambda s: s.state == Sow.State.IN_REVIEW,
        check=lambda user, s: sales.sow_review_check(user=user, sow=s, approve=False),
        run=lambda user, s, d: sales.sow_review(user=user, sow=s, approve=False, comment=d["comment"]),
        success="SOW returned to its author."),
    Act("send", "Send for signature", form=ContactForm,
        form_kwargs=lambda user, s: {"account_id": s.ps_opportunity.parent.account_id},
        when=lambda s: s.state == Sow.State.APPROVED,
        check=lambda user, s: sales.sow_send_check(user=user, sow=s),
        run=lambda user, s, d: sales.sow_send(user=user, sow=s, contact=d["contact"]),
        success="SOW sent; the customer signs through their private link."),
    Act("resend", "Send the link again", style="secondary", when=lambda s: s.state == Sow.State.SENT,
        check=lambda user, s: sales.sow_resend_check(user=user, sow=s),
        run=lambda user, s, d: sales.sow_resend(user=user, sow=s),
        success="A fresh link is on its way; the earlier one no longer works."),
)


# --- Project -------------------------------------------------------------------------------------------------


def latest_collection_actions(path: str) -> Prefetch:
    """The five latest reminders, promises and disputes of the engagement's collection case, as `latest_actions`."""
    return Prefetch(path, to_attr="latest_actions",
                    queryset=CollectionAction.objects.select_related("by").order_by("-created_at", "-id")[:5])



class EngineerForm(forms.Form):
    engineer = PersonField(roles.PS_ENGINEER, label="Engineer")


class KickOffForm(forms.Form):
    kickoff_date = forms.DateField(label="Kick-off", widget=DATE)
    go_live_date = forms.DateField(label="Go-live", widget=DATE, required=False)
    budget_hours = QuantityFormField(bound=HOURS, label="Budget hours", required=False)


class ProgressForm(forms.Form):
    percent = WholeNumberFormField(bound=PERCENT, label="Percent complete", maximum=98)


class ChangeOrderForm(forms.Form):
    description = forms.CharField(label="Description", max_length=300)
    amount = MoneyFormField(label="Amount")


class TimeForm(forms.Form):
    date = forms.DateField(label="Date", widget=DATE)
    hours = QuantityFormField(bound=HOURS_IN_A_DAY, label="Hours")
    note = forms.CharField(label="Note", required=False, max_length=300)


class WrapUpItemForm(forms.Form):
    code = forms.ChoiceField(label="Item", choices=[(c, label) for c, label in WRAP_UP_ITEMS
                                                   if c not in delivery.AUTOMATIC_ITEMS])
    note = forms.CharField(label="Note", required=False, max_length=300)
    actual_hours = QuantityFormField(bound=HOURS, label="Actual hours (for hours and cost)", required=False)
    actual_cost = MoneyFormField(label="Actual cost (for hours and cost)", required=False)


class ReplyForm(forms.Form):
    reply = forms.CharField(label="The customer's reply", max_length=500)


def _project_contacts(user, p):
    return {"account_id": p.ps_opportunity.parent.account_id}


def _pending(project, kind):
    return project.acceptance_requests.filter(kind=kind, state=AcceptanceRequest.State.PENDING).first()


def _wrap(project):
    """The project's wrap-up with its items, read once per page (the wrap-up acts all ask for it)."""
    if not hasattr(project, "_wrap_up"):
        project._wrap_up = WrapUp.objects.filter(project=project).prefetch_related("items").first()
    return project._wrap_up


def _on_wrap(check, user, project):
    """Ask `check` about the project's wrap-up."""
    wrap = _wrap(project)
    if wrap is None:
        raise ApplicationError(code="wrap-up-not-started", message="The financial wrap-up has not started.")
    check(user=user, wrap=wrap)


def _on_pending(check, user, project, kind):
    """Ask `check` about the request of this kind still waiting for the customer's answer."""
    request = _pending(project, kind)
    if request is None:
        raise ApplicationError(code="nothing-pending", message="Nothing is waiting for the customer's answer.")
    check(user=user, request=request)


register_kind(Kind("project", "projects",
                   lambda pk: Project.objects.select_related("ps_opportunity__parent__account", "sow",
                                                             "engagement_manager", "collection")
                   .prefetch_related("assignments__engineer", "change_orders", "acceptance_requests__contact",
                                     "invoices", latest_collection_actions("collection__actions")).get(pk=pk),
                   lambda p: p.ps_opportunity.parent, "web/facts/project.html"))
register(
    "project",
    Act("assign", "Assign engineer", form=EngineerForm,
        check=lambda user, p: delivery.project_assign_check(user=user, project=p),
        when=lambda p: p.state in OPEN_STATES,
        run=lambda user, p, d: delivery.project_assign_engineer(user=user, project=p, engineer=d["engineer"]),
        success="Engineer assigned."),
    Act("kick-off", "Kick off", form=KickOffForm,
        check=lambda user, p: delivery.project_kick_off_check(user=user, project=p),
        when=lambda p: p.state == Project.State.STAFFED,
        run=lambda user, p, d: delivery.project_kick_off(user=user, project=p, kickoff_date=d["kickoff_date"],
                                                         go_live_date=d["go_live_date"],
                                                         budget_hours=d["budget_hours"]),
        success="Project kicked off."),
    Act("deliver", "Start delivery",
        check=lambda user, p: delivery.project_start_delivery_check(user=user, project=p),
        when=lambda p: p.state == Project.State.KICKED_OFF,
        run=lambda user, p, d: delivery.project_start_delivery(user=user, project=p), success="In delivery."),
    Act("progress", "Report progress", form=ProgressForm, style="secondary",
        check=lambda user, p: delivery.project_set_progress_check(user=user, project=p),
        when=lambda p: p.state == Project.State.IN_DELIVERY,
        run=lambda user, p, d: delivery.project_set_progress(user=user, project=p, percent=d["percent"]),
        success="Progress recorded."),
    Act("time", "Log time", form=TimeForm, style="secondary",
        check=lambda user, p: delivery.time_log_check(user=user, project=p),
        when=lambda p: p.state in (Project.State.KICKED_OFF, Project.State.IN_DELIVERY, Project.State.CLOSURE),
        run=lambda user, p, d: delivery.time_log(user=user, project=p, date=d["date"], hours=d["hours"],
                                                 note=d["note"]),
        success="Time logged."),
    Act("ask-acceptance", "Ask the customer to accept completion",
        check=lambda user, p: delivery.completion_request_check(user=user, project=p),
        form=ContactForm, form_kwargs=_project_contacts, when=lambda p: p.state == Project.State.IN_DELIVERY,
        run=lambda user, p, d: delivery.completion_request(user=user, project=p, contact=d["contact"]),
        success="Acceptance asked; without an answer in 5 business days the work is accepted."),
    Act("change-order", "Add change order", form=ChangeOrderForm,
        check=lambda user, p: delivery.change_order_add_check(user=user, project=p),
        style="secondary", when=lambda p: p.state not in (Project.State.WRAPPED_UP, Project.State.CLOSED,
                                                          Project.State.CANCELLED),
        run=lambda user, p, d: workflow.change_order_add(user=user, project=p, description=d["description"],
                                                         amount=d["amount"]),
        success="Change order added and billed."),
    Act("wrap-up", "Start the financial wrap-up",
        check=lambda user, p: delivery.wrap_up_start_check(user=user, project=p),
        when=lambda p: p.state == Project.State.COMPLETED and _wrap(p) is None,
        run=lambda user, p, d: workflow.wrap_up_start(user=user, project=p), success="Wrap-up started."),
    Act("wrap-item", "Tick a wrap-up item", form=WrapUpItemForm, style="secondary",
        check=lambda user, p: _on_wrap(delivery.wrap_up_tick_check, user, p),
        when=lambda p: (w := _wrap(p)) is not None and w.completed_at is None,
        run=lambda user, p, d: delivery.wrap_up_tick(user=user, wrap=_wrap(p), code=d["code"], note=d["note"],
                                                     actual_hours=d["actual_hours"], actual_cost=d["actual_cost"]),
        success="Wrap-up item ticked."),
    Act("wrap-finish", "Finish the wrap-up",
        check=lambda user, p: _on_wrap(delivery.wrap_up_finish_check, user, p),
        when=lambda p: (w := _wrap(p)) is not None and w.completed_at is None,
        run=lambda user, p, d: workflow.wrap_up_finish(user=user, wrap=_wrap(p)),
        success="Wrapped up: Finance now owns any open balance."),
    Act("sign-off", "Send the sign-off document", form=ContactForm,
        check=lambda user, p: delivery.sign_off_send_check(user=user, project=p),
        form_kwargs=_project_contacts,
        when=lambda p: p.state in (Project.State.COMPLETED, Project.State.WRAPPED_UP)
        and not p.acceptance_requests.filter(kind=AcceptanceRequest.Kind.SIGN_OFF).exists(),
        run=lambda user, p, d: delivery.sign_off_send(user=user, project=p, contact=d["contact"]),
        success="Sign-off document sent."),
    Act("sign-off-reply", "Record the customer's 'accepted' reply", perm="delivery.send_sign_off",
        form=ReplyForm, style="secondary",
        check=lambda user, p: _on_pending(delivery.sign_off_record_reply_check, user, p,
                                          AcceptanceRequest.Kind.SIGN_OFF),
        when=lambda p: _pending(p, AcceptanceRequest.Kind.SIGN_OFF) is not None,
        run=lambda user, p, d: delivery.sign_off_record_reply(
            user=user, request=_pending(p, AcceptanceRequest.Kind.SIGN_OFF), reply=d["reply"]),
        success="Reply recorded as the customer's sign-off."),
    Act("resend-acceptance", "Send the acceptance link again", perm="delivery.deliver_project", style="secondary",
        check=lambda user, p: _on_pending(delivery.acceptance_resend_check, user, p,
                                          AcceptanceRequest.Kind.COMPLETION),
        when=lambda p: _pending(p, AcceptanceRequest.Kind.COMPLETION) is not None,
        run=lambda user, p, d: delivery.acceptance_resend(
            user=user, request=_pending(p, AcceptanceRequest.Kind.COMPLETION)),
        success="A fresh link is on its way; the passive-acceptance date is unchanged."),
    Act("resend-sign-off", "Send the sign-off link again", perm="delivery.send_sign_off", style="secondary",
        check=lambda user, p: _on_pending(delivery.acceptance_resend_check, user, p,
                                          AcceptanceRequest.Kind.SIGN_OFF),
        when=lambda p: _pending(p, AcceptanceRequest.Kind.SIGN_OFF) is not None,
        run=lambda user, p, d: delivery.acceptance_resend(
            user=user, request=_pending(p, AcceptanceRequest.Kind.SIGN_OFF)),
        success="A fresh link is on its way."),
    Act("hold", "Put on hold", form=ReasonForm, style="secondary",
        check=lambda user, p: delivery.project_hold_check(user=user, project=p),
        when=lambda p: p.state in OPEN_STATES,
        run=lambda user, p, d: delivery.project_hold(user=user, project=p, reason=d["reason"]), success="On hold."),
    Act("resume", "Resume", check=lambda user, p: delivery.project_resume_check(user=user, project=p),
        when=lambda p: p.state == Project.State.ON_HOLD,
        run=lambda user, p, d: delivery.project_resume(user=user, project=p), success="Resumed."),
    Act("cancel", "Cancel project", form=ReasonForm, style="danger",
        check=lambda user, p: delivery.project_cancel_check(user=user, project=p),
        when=lambda p: p.state in (*OPEN_STATES, Project.State.ON_HOLD),
        run=lambda user, p, d: delivery.project_cancel(user=user, project=p, reason=d["reason"]),
        success="Project cancelled."),
    Act("close", "Close project", check=lambda user, p: delivery.project_close_check(user=user, project=p),
        when=lambda p: p.state == Project.State.WRAPPED_UP,
        run=lambda user, p, d: delivery.project_close(user=user, project=p), success="Project closed."),
)


# --- Invoice -------------------------------------------------------------------------------------------------


class PaymentForm(forms.Form):
    amount = MoneyFormField(label="Amount")
    received_on = forms.DateField(label="Received on", widget=DATE)
    reference = forms.CharField(label="Reference", required=False, max_length=100)


class MoneyReasonForm(forms.Form):
    amount = MoneyFormField(label="Amount")
    reason = forms.CharField(label="Reason", max_length=300)


class PromiseForm(forms.Form):
    amount = MoneyFormField(label="Amount promised")
    promised_for = forms.DateField(label="Promised for", widget=DATE)
    note = forms.CharField(label="Note", required=False, max_length=500)


class NoteForm(forms.Form):
    note = forms.CharField(label="Note", max_length=500)


def _case(invoice):
    """The engagement's open collection case (the invoice page reads it with the invoice, and every act asks)."""
    try:
        case = invoice.project.collection
    except CollectionCase.DoesNotExist:
        return None
    return case if case.state == CollectionCase.State.OPEN else None


def _on_case(check, user, invoice):
    """Ask `check` about the engagement's open collection case."""
    case = _case(invoice)
    if case is None:
        raise ApplicationError(code="collection-closed", message="No collection is open for this engagement.")
    check(user=user, case=case)


def _write_off(invoice, user=None):
    """The proposed write-off waiting for a decision: one `user` did not propose when there is such a one (from the
    page's prefetched write-offs)."""
    waiting = [w for w in invoice.write_offs.all() if w.state == WriteOff.State.REQUESTED]
    return next((w for w in waiting if user is None or w.requested_by_id != user.pk), waiting[0] if waiting else None)


def _on_write_off(check, user, invoice):
    write_off = _write_off(invoice, user)
    if write_off is None:
        raise ApplicationError(code="nothing-to-decide", message="No write-off is waiting for a decision.")
    check(user=user, write_off=write_off)


register_kind(Kind("invoice", "invoices",
                   lambda pk: Invoice.objects.select_related("project__ps_opportunity__parent__account", "project__sow",
                                                             "project__collection")
                   .prefetch_related("payments", "credit_notes", "write_offs",
                                     latest_collection_actions("project__collection__actions"))
                   .get(pk=pk),
                   lambda i: i.project.ps_opportunity.parent, "web/facts/invoice.html"))
ISSUED = Invoice.State.ISSUED
register(
    "invoice",
    Act("issue", "Issue", check=lambda user, i: billing.invoice_issue_check(user=user, invoice=i),
        when=lambda i: i.state == Invoice.State.DRAFT,
        run=lambda user, i, d: billing.invoice_issue(user=user, invoice=i), success="Invoice issued."),
    Act("void", "Void draft", form=ReasonForm, style="danger",
        check=lambda user, i: billing.invoice_void_check(user=user, invoice=i),
        when=lambda i: i.state == Invoice.State.DRAFT,
        run=lambda user, i, d: billing.invoice_void(user=user, invoice=i, reason=d["reason"]), success="Voided."),
    Act("send", "Send to the customer", form=ContactForm, style="secondary", when=lambda i: i.state == ISSUED,
        form_kwargs=lambda user, i: {"account_id": i.project.ps_opportunity.parent.account_id},
        check=lambda user, i: billing.invoice_send_check(user=user, invoice=i),
        run=lambda user, i, d: billing.invoice_send(user=user, invoice=i, contact=d["contact"]),
        success="Invoice sent, its PDF attached."),
    Act("payment", "Record payment", form=PaymentForm, when=lambda i: i.state == ISSUED,
        check=lambda user, i: billing.payment_record_check(user=user, invoice=i),
        run=lambda user, i, d: billing.payment_record(user=user, invoice=i, amount=d["amount"],
                                                      received_on=d["received_on"], reference=d["reference"]),
        success="Payment recorded."),
    Act("credit", "Issue credit note", form=MoneyReasonForm, style="secondary",
        check=lambda user, i: billing.credit_note_issue_check(user=user, invoice=i),
        when=lambda i: i.state == ISSUED,
        run=lambda user, i, d: billing.credit_note_issue(user=user, invoice=i, amount=d["amount"],
                                                         reason=d["reason"]),
        success="Credit note issued."),
    Act("write-off", "Propose write-off", form=MoneyReasonForm, style="secondary",
        check=lambda user, i: billing.write_off_request_check(user=user, invoice=i),
        when=lambda i: i.state == ISSUED,
        run=lambda user, i, d: billing.write_off_request(user=user, invoice=i, amount=d["amount"],
                                                         reason=d["reason"]),
        success="Write-off proposed to the controller."),
    Act("approve-write-off", "Approve write-off",
        check=lambda user, i: _on_write_off(billing.write_off_decide_check, user, i),
        when=lambda i: _write_off(i) is not None,
        run=lambda user, i, d: billing.write_off_decide(user=user, write_off=_write_off(i, user), approve=True),
        success="Write-off approved."),
    Act("refuse-write-off", "Refuse write-off", style="secondary",
        check=lambda user, i: _on_write_off(billing.write_off_decide_check, user, i),
        when=lambda i: _write_off(i) is not None,
        run=lambda user, i, d: billing.write_off_decide(user=user, write_off=_write_off(i, user), approve=False),
        success="Write-off refused."),
    Act("remind", "Send reminder", perm="billing.manage_invoices",
        check=lambda user, i: _on_case(billing.collection_remind_check, user, i),
        when=lambda i: i.state == ISSUED and _case(i) is not None,
        run=lambda user, i, d: billing.collection_remind(user=user, case=_case(i)), success="Reminder sent."),
    Act("promise", "Record promise to pay", perm="billing.manage_invoices", form=PromiseForm, style="secondary",
        check=lambda user, i: _on_case(billing.collection_promise_check, user, i),
        when=lambda i: i.state == ISSUED and _case(i) is not None,
        run=lambda user, i, d: billing.collection_promise(user=user, case=_case(i), amount=d["amount"],
                                                          promised_for=d["promised_for"], note=d["note"]),
        success="Promise recorded."),
    Act("dispute", "Open or resolve dispute", perm="billing.manage_invoices", form=NoteForm, style="secondary",
        check=lambda user, i: _on_case(billing.collection_dispute_check, user, i),
        when=lambda i: i.state == ISSUED and _case(i) is not None,
        run=lambda user, i, d: billing.collection_dispute(user=user, case=_case(i), note=d["note"],
                                                          resolved=_case(i).disputed),
        success="Dispute recorded."),
)


# --- Documents (issue 9) ------------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    file = forms.FileField(label="The SOW as the customer returned it",
                           help_text="Word (.docx) or PDF, at most 10 MB. It is kept as the next version.")
    note = forms.CharField(label="Note", required=False, max_length=200)


def _read_upload(upload) -> bytes:
    # One byte more than the service takes, so that it can say the file is too large without reading it all.
    return upload.read(documents.MAX_UPLOAD_BYTES + 1)


def _document_act(model_name: str, kind: str, when=lambda record: True) -> None:
    label = DocumentKind(kind).label
    # "ROM summary" keeps its capitals; "Quote" reads "a new quote".
    said = label if label[:2].isupper() else label[0].lower() + label[1:]
    register(model_name, Act(
        "document", f"Make a new {said}" if kind != "sow" else "Make new SOW documents",
        style="secondary", when=when,
        check=lambda user, r: documents.document_generate_check(user=user, record=r, kind=kind),
        run=lambda user, r, d: documents.document_regenerate(user=user, record=r, kind=kind),
        success="Queued: the new version appears under Documents once the worker has made it (a few seconds)."))


_document_act("rom", DocumentKind.ROM_SUMMARY, when=lambda r: r.current_id is not None)
_document_act("quote", DocumentKind.QUOTE)
_document_act("sow", DocumentKind.SOW)
_document_act("invoice", DocumentKind.INVOICE, when=lambda i: i.state != Invoice.State.VOID)
_document_act("project", DocumentKind.SIGN_OFF, when=lambda p: p.state in (
    Project.State.COMPLETED, Project.State.WRAPPED_UP, Project.State.CLOSED))
register("sow", Act(
    "upload", "Upload the customer's version", form=UploadForm, style="secondary",
    check=lambda user, s: documents.document_upload_check(user=user, record=s),
    run=lambda user, s, d: documents.document_upload(user=user, record=s, data=_read_upload(d["file"]),
                                                     name=d["file"].name, note=d["note"]),
    success=lambda document: f"Kept as {document}."))
