"""What the portal records and sends through a reverse proxy: the customer's own address on signatures and
acceptances (not the proxy's, and not one the customer made up), and customer links on the address the server
is actually reached at when PSOPS_BASE_URL is not set."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from psops.delivery.models import AcceptanceRequest
from psops.sales.models import SowSignature
from tests.portal.conftest import AGENT, IP, shown_fields

pytestmark = pytest.mark.django_db

PROXY, FORGED = "10.0.0.2", "192.0.2.99"


def behind_proxy(client, path, data):
    return client.post(path, data, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{FORGED}, {IP}", HTTP_USER_AGENT=AGENT)


def test_a_signature_behind_a_trusted_proxy_records_the_customers_address(sent, client, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    e, path = sent("sow-sent")
    response = behind_proxy(client, path, {"action": "sign", "name": "Casey Customer", "title": "VP Engineering",
                                           **shown_fields(client, path)})
    assert response.status_code == 200
    assert SowSignature.objects.get(sow=e.sow).ip_address == IP


def test_an_acceptance_behind_an_untrusted_proxy_records_the_peer(sent, client, settings):
    settings.TRUSTED_PROXIES = []
    e, path = sent("completion-asked")
    response = behind_proxy(client, path, {"action": "accept", "name": "Casey Customer", "title": "VP Engineering"})
    assert response.status_code == 200, response.content.decode()
    assert AcceptanceRequest.objects.get(pk=e.completion.pk).ip_address == PROXY


def _resend_link(client, people, quote, capture, **headers) -> str:
    """Send the quote's link again from its page; the start of the link in the e-mail."""
    client.force_login(people["sal"])
    mail.outbox.clear()
    with capture(execute=True):
        response = client.post(reverse("web:act", args=["quote", quote.pk, "resend"]), **headers)
    assert response.status_code == 302
    (message,) = mail.outbox
    return re.search(r"(https?://\S+?)/c/", message.body).group(1)


def test_a_link_made_while_serving_a_request_starts_with_the_address_it_reached(
        sent, client, people, settings, django_capture_on_commit_callbacks):
    e, _ = sent("quote-sent")
    settings.PSOPS = {**settings.PSOPS, "BASE_URL": "http://127.0.0.1:8000", "BASE_URL_SET": False}
    base = _resend_link(client, people, e.quote, django_capture_on_commit_callbacks, HTTP_HOST="127.0.0.1:9000")
    assert base == "http://127.0.0.1:9000"


def test_a_configured_base_url_wins_and_a_worker_uses_the_default(
        sent, client, people, settings, django_capture_on_commit_callbacks):
    e, _ = sent("quote-sent")
    settings.PSOPS = {**settings.PSOPS, "BASE_URL": "https://psops.example.com", "BASE_URL_SET": True}
    base = _resend_link(client, people, e.quote, django_capture_on_commit_callbacks, HTTP_HOST="127.0.0.1:9000")
    assert base == "https://psops.example.com"

    # Outside any request (a worker, a command) an unset base URL falls back to the configured default.
    from psops.links.services import link_url

    settings.PSOPS = {**settings.PSOPS, "BASE_URL": "http://127.0.0.1:9000", "BASE_URL_SET": False}
    assert link_url("token").startswith("http://127.0.0.1:9000/c/")
