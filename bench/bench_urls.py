"""The app's URLs plus one hello-world page: the floor every page is measured against (same Client, same
middleware, same logged-in session; the view itself does nothing)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path


@login_required
def hello(request):
    return HttpResponse("hello")


urlpatterns = [
    path("bench-hello/", hello),
    path("", include("psops.urls")),
]
