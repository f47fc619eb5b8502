from django.conf import settings

from .client import reset_current_request, set_current_request


class SecurityHeadersMiddleware:
    """Adds the content security policy (Django 5.2 has no built-in CSP) and a permissions policy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class CurrentRequestMiddleware:
    """Makes the request being served known to code that has no request argument (building a customer link inside
    a service), for the length of the request only. After CommonMiddleware, which refuses a Host not allowed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_current_request(request)
        try:
            return self.get_response(request)
        finally:
            reset_current_request(token)
