"""Personal API tokens: each person makes, lists and revokes their own; an administrator sees and revokes anyone's.
A new token is shown once, on the page that answers its making, and never stored in the clear."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from psops.api.models import ApiToken
from psops.api.services import (
    MAX_LIFETIME_DAYS,
    may_manage_every_token,
    token_create,
    token_create_check,
    token_revoke,
)

from .common import allows, attempt, paginate, role_required


class TokenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="What will use it: \"nightly ERP sync\".")
    expires_on = forms.DateField(label="Expires after (optional)", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=f"The last day it works; at most {MAX_LIFETIME_DAYS} days from today. "
                                           "Leave empty for a token that works until revoked.")


def _page(request, *, form=None, made=None, status=200):
    user = request.user
    every = may_manage_every_token(user)
    rows = ApiToken.objects.select_related("user", "revoked_by").order_by("-created_at", "-pk")
    if not every:
        rows = rows.filter(user=user)
    page = paginate(request, rows)
    return render(request, "web/tokens.html", {
        "form": form or TokenForm(), "page": page, "tokens": list(page.object_list), "every": every, "made": made,
        "can_make": allows(token_create_check, user=user)}, status=status)


@never_cache
@login_required
@role_required
def tokens(request):
    return _page(request)


@require_POST
@never_cache
@login_required
@role_required
def token_new(request):
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    made = attempt(request, lambda: token_create(user=request.user, **form.cleaned_data),
                   success="Token made. Copy it now: psops keeps only its fingerprint and cannot show it again.",
                   form=form)
    if made is None:
        return _page(request, form=form, status=400)
    row, secret = made
    return _page(request, made={"token": row, "secret": secret}, status=201)


@require_POST
@login_required
@role_required
def token_revoke_view(request, pk: int):
    row = ApiToken.objects.filter(pk=pk).first()
    if row is None or (row.user_id != request.user.pk and not may_manage_every_token(request.user)):
        raise Http404
    attempt(request, lambda: token_revoke(user=request.user, token=row),
            success=f"Revoked '{row.name}': it no longer opens the API.")
    return redirect("web:tokens")
