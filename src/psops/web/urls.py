from django.urls import path

from .views import home, inbox, search

app_name = "web"

urlpatterns = [
    path("", home.home, name="home"),
    path("search/", search.search, name="search"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read/", inbox.inbox_read, name="inbox_read"),
]
