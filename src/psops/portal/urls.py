from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("<str:token>/", views.link_page, name="open"),
    path("<str:token>/documents/<int:pk>/", views.link_document, name="document"),
]
