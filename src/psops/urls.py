from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from psops.api.v1 import api
from psops.web.views.auth import ThrottledLoginView

admin.site.site_header = "psops set-up"
admin.site.site_title = "psops"

urlpatterns = [
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # psops's own pages (the administration's, of the same name, would otherwise be found first).
    path("accounts/password_change/",
         auth_views.PasswordChangeView.as_view(template_name="web/password_change_form.html"),
         name="password_change"),
    path("accounts/password_change/done/",
         auth_views.PasswordChangeDoneView.as_view(template_name="web/password_change_done.html"),
         name="password_change_done"),
    # The administration's own login form would check passwords without the throttle: it uses ours instead.
    path("admin/login/", ThrottledLoginView.as_view(redirect_authenticated_user=False)),
    path("admin/", admin.site.urls),
    path("c/", include("psops.portal.urls")),
    path("api/v1/", api.urls),
    path("", include("psops.web.urls")),
]
