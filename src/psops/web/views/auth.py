"""Login with throttling: after a few failures per username or per address, the form refuses for a while."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache


def _keys(request) -> list[str]:
    username = (request.POST.get("username") or "").strip().lower()
    address = request.META.get("REMOTE_ADDR", "")
    return [f"login-fail:user:{username}", f"login-fail:addr:{address}"]


class ThrottledLoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        limit = settings.LOGIN_THROTTLE["ATTEMPTS"]
        if any((cache.get(k) or 0) >= limit for k in _keys(request)):
            form = self.get_form()
            form.is_valid()
            form.errors.clear()
            form.add_error(None, "Too many failed attempts. Wait 15 minutes, then try again.")
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        window = settings.LOGIN_THROTTLE["WINDOW_SECONDS"]
        for key in _keys(self.request):
            cache.add(key, 0, window)
            cache.incr(key)
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete_many(_keys(self.request))
        return super().form_valid(form)
