"""Login with throttling (psops.accounts.throttle): too many recent failures for a username at the client's address,
or from the address, and the form asks to wait, without checking the password."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS

from psops.accounts.throttle import (
    LoginAttempt,
    LoginThrottled,
    login_attempt_begin,
    login_attempt_succeeded,
    login_attempt_unchecked,
)
from psops.core.client import client_address


class ThrottledLoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    attempt: LoginAttempt | None = None

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username") or ""
        try:
            self.attempt = login_attempt_begin(username=username, address=client_address(request))
        except LoginThrottled as refusal:
            # An unbound form: binding it would check the password, which is exactly what is being refused.
            form = AuthenticationForm(request, initial={"username": username[:150]})
            response = self.render_to_response(self.get_context_data(form=form, refusal=refusal.message))
            response.status_code = 429
            response["Retry-After"] = str(refusal.wait_seconds)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if self.attempt is not None and not form.has_error(NON_FIELD_ERRORS, "invalid_login"):
            login_attempt_unchecked(self.attempt)  # a field was missing: no password was checked
        return super().form_invalid(form)

    def form_valid(self, form):
        if self.attempt is not None:
            login_attempt_succeeded(self.attempt)
        return super().form_valid(form)
