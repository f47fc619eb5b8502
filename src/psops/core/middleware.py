from django.conf import settings

from .client import from_trusted_proxy, reset_current_request, set_current_request


class ForwardedProtoMiddleware:
    """Believes X-Forwarded-Proto only from PSOPS_TRUSTED_PROXIES: from any other peer the header is dropped before
    Django reads it (SECURE_PROXY_SSL_HEADER), so a client talking plain HTTP cannot pass its request off as HTTPS.
    First in the middleware list."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "HTTP_X_FORWARDED_PROTO" in request.META and not from_trusted_proxy(request):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


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
