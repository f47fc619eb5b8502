from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from psops.accounts import roles
from psops.accounts.roles import roles_of
from psops.workflow.selectors import work_queue

from ..guide import guides_for
from .common import role_required


def _held(user) -> frozenset[str]:
    return frozenset(roles.ROLES) if user.is_superuser else roles_of(user)


@login_required
@role_required
def home(request):
    queues = work_queue(request.user)
    return render(request, "web/home.html", {"queues": queues, "all_empty": not any(q.total for q in queues)})


@login_required
@role_required
def getting_started(request):
    """Where each of the reader's roles starts and how its work moves, with links to the pages named."""
    return render(request, "web/getting_started.html", {"guides": guides_for(_held(request.user))})
