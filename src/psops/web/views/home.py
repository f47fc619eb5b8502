from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from psops.workflow.selectors import work_queue


@login_required
def home(request):
    return render(request, "web/home.html", {"queues": work_queue(request.user)})
