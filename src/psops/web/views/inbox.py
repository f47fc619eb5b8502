from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from psops.activity.models import Notification
from psops.activity.services import notifications_mark_read

from .common import paginate, role_required


@login_required
@role_required
def inbox(request):
    rows = Notification.objects.filter(recipient=request.user).select_related("subject_type")
    return render(request, "web/inbox.html", {"page": paginate(request, rows)})


@require_POST
@login_required
def inbox_read(request):
    notifications_mark_read(user=request.user)
    return redirect("web:inbox")
