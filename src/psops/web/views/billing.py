"""Finance's batch acts: a billing run over the drafts chosen on the invoice list, and payments from a bank file."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from psops.billing.imports import MAX_BYTES, import_summary, payments_import
from psops.billing.services import BATCH_MAX, invoices_issue, payment_record_check
from psops.core.errors import ApplicationError

from .common import attempt, refusal_status, role_required
from .lists import invoices


@require_POST
@login_required
@role_required
def invoices_issue_run(request):
    """Issue the drafts ticked on the invoice list, all or none. Done: back to the list, which says what was issued.
    Refused: the list again, with the reason and a 4xx status, nothing issued."""
    raw = request.POST.getlist("invoice")
    if all(value.isdigit() and len(value) < 12 for value in raw):
        done = attempt(request, lambda: invoices_issue(user=request.user, invoices=[int(v) for v in raw]),
                       success=lambda done: f"Issued {len(done)} invoice{'s' * (len(done) != 1)}: "
                                            f"{', '.join(str(i) for i in done[:10])}{' and more' * (len(done) > 10)}.")
        if done:
            return redirect(f"{reverse('web:invoices')}?{request.GET.urlencode()}")
    else:
        messages.error(request, "Tick the drafts to issue in the list; nothing was issued.")
    response = invoices(request)
    response.status_code = refusal_status(request)
    return response


class BankFileForm(forms.Form):
    file = forms.FileField(label="Bank file (CSV)", help_text=(
        f"Columns named on the first line: invoice, amount, received_on (YYYY-MM-DD) and optionally reference. At "
        f"most {BATCH_MAX:,} payments, {MAX_BYTES // 1000:,} kB."))


@login_required
@role_required
def payments_import_page(request):
    """Record a bank file's payments, all or none: a refusal names the line and nothing is recorded."""
    try:
        payment_record_check(user=request.user)
    except ApplicationError as refusal:
        raise PermissionDenied(refusal.message) from refusal
    form = BankFileForm(request.POST, request.FILES) if request.method == "POST" else BankFileForm()
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read(MAX_BYTES + 1)
            if attempt(request, lambda: payments_import(user=request.user, data=data), success=import_summary,
                       form=form):
                return redirect("web:payments_import")
        status = refusal_status(request)
    return render(request, "web/payments_import.html", {"form": form}, status=status)
