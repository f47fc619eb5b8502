from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render

from psops.crm.models import Account, Contact
from psops.crm.selectors import opportunity_list


@login_required
def search(request):
    q = (request.GET.get("q") or "").strip()[:100]
    results = {"accounts": [], "contacts": [], "deals": []}
    if len(q) >= 2:
        deals = opportunity_list(user=request.user, filters={"q": q})[:25]
        results = {
            "accounts": list(Account.objects.filter(name__icontains=q).order_by("name")[:25]),
            "contacts": list(Contact.objects.filter(Q(name__icontains=q) | Q(email__icontains=q))
                             .select_related("account").order_by("name")[:25]),
            "deals": list(deals),
        }
    return render(request, "web/search.html", {"q": q, **results})
