from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from psops.workflow.selectors import work_queue

from .common import role_required


@login_required
@role_required
def home(request):
    return render(request, "web/home.html", {"queues": work_queue(request.user)})
