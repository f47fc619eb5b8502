"""Every answer under /api/ that is an error is the API's one JSON shape, even when it comes from outside the API's
own operations (an address that names no operation, a method an address does not take)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.middleware.common import CommonMiddleware as BaseCommonMiddleware

from .errors import error_response

WORDS = {404: ("not-found", "No such address in the API; see /api/v1/docs."),
         405: ("method-not-allowed", "This address does not take that method; see /api/v1/docs."),
         500: ("server-error", "psops failed to answer; the failure is logged.")}


class ApiErrorShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (request.path.startswith("/api/") and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            code, message = WORDS.get(response.status_code, ("error", "The request was refused."))
            shaped = error_response(response.status_code, code, message)
            if response.has_header("Allow"):
                shaped["Allow"] = response["Allow"]
            return shaped
        return response


class CommonMiddleware(BaseCommonMiddleware):
    """Django's, except that an API address is never redirected to add a slash: a script's POST would be lost in
    the redirect (and, with DEBUG on, Django raises instead). An address without its slash is simply not found."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return not request.path.startswith("/api/") and super().should_redirect_with_slash(request)
