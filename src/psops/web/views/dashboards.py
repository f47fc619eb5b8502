"""Dashboards: the figures of the whole chain as server-rendered SVG charts, each with a table that says the same."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from psops.insights.panels import dashboard
from psops.insights.selectors import sees_finance

from .common import role_required


@login_required
@role_required
def dashboards(request):
    return render(request, "web/dashboards.html",
                  {"panels": dashboard(user=request.user), "sees_finance": sees_finance(request.user)})
