"""Error pages are the app's own, say what happened and what to do next, and give nothing away: 400, 403 (with the
refusal's own message), CSRF failure, 404 and 500 (which needs neither the database nor a request)."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import include, path
from django.views.defaults import server_error


def _boom(request: HttpRequest):
    raise RuntimeError("secret internals: database password is hunter2")


# Used by the 500 test through @pytest.mark.urls: the real URLs plus one view that fails.
urlpatterns = [path("boom/", _boom), path("", include("psops.urls"))]


def _assert_app_page(page: str) -> None:
    assert "psops.css" in page and 'class="brand"' in page  # the app's look
    assert "Traceback" not in page and "Django" not in page and "URLconf" not in page  # nothing of the machinery


@pytest.fixture
def sal_client(client, people):
    client.force_login(people["sal"])
    return client


@pytest.mark.django_db
def test_404_is_the_apps_page_with_the_way_back(sal_client):
    response = sal_client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    _assert_app_page(page)
    assert "Page not found" in page and "use the search" in page and "Log out" in page  # the site's layout
    assert "default-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_404_for_a_visitor_without_an_account_points_at_the_e_mail(client):
    response = client.get("/c-typo/")
    page = response.content.decode()
    assert response.status_code == 404
    _assert_app_page(page)
    assert "ask the person who sent it" in page and "Log out" not in page


@pytest.mark.django_db
def test_403_shows_the_refusals_own_message(sal_client):
    response = sal_client.get("/invoices/")
    page = response.content.decode()
    assert response.status_code == 403
    _assert_app_page(page)
    assert "You may not do this" in page and "Invoices are for Finance and the controller." in page
    assert "Nothing was changed" in page


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_gets_the_expired_form_page(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["sal"])
    response = client.post("/deals/new/", {"name": "Forged"})
    page = response.content.decode()
    assert response.status_code == 403
    _assert_app_page(page)
    assert "This form has expired" in page and "reload the page" in page


@pytest.mark.django_db
def test_a_host_the_server_does_not_answer_for_gets_400(client):
    response = client.get("/", HTTP_HOST="attacker.example")
    page = response.content.decode()
    assert response.status_code == 400
    _assert_app_page(page)
    assert "could not be understood" in page and "attacker.example" not in page


@pytest.mark.django_db
@pytest.mark.urls("tests.web.test_error_pages")
def test_500_says_what_to_do_and_hides_the_error(people):
    client = Client(raise_request_exception=False)
    client.force_login(people["sal"])
    response = client.get("/boom/")
    page = response.content.decode()
    assert response.status_code == 500
    _assert_app_page(page)
    assert "Something went wrong on our side" in page and "hunter2" not in page and "RuntimeError" not in page


def test_the_500_page_needs_no_database():
    """No django_db mark: any query here would fail the test. The 500 page must render when the database is the
    thing that broke."""
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    _assert_app_page(page)
    assert "Something went wrong on our side" in page
