from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from psops.crm.selectors import account_search, contact_search, opportunity_list

from .common import role_required


@login_required
@role_required
def search(request):
    """Accounts, contacts and deals matching the words typed, only among those the user sees (decision 0008)."""
    q = (request.GET.get("q") or "").strip()[:100]
    results = {"accounts": [], "contacts": [], "deals": []}
    if len(q) >= 2:
        user = request.user
        results = {
            "accounts": account_search(user=user, q=q),
            "contacts": contact_search(user=user, q=q),
            "deals": list(opportunity_list(user=user, filters={"q": q})[:25]),
        }
    return render(request, "web/search.html", {"q": q, **results})
