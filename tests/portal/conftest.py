"""Customer-link fixtures: an engagement brought to a stage with the real services, with the e-mails those services
send after commit delivered to Django's test outbox, and the customer's link taken from the e-mail."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail

from tests.factories import reach

IP, AGENT = "198.51.100.23", "Mozilla/5.0 (portal test)"
LINK = re.compile(re.escape(settings.PSOPS["BASE_URL"].rstrip("/")) + r"(/c/[^/\s]+/)")


def link_path(contact, *, nth_last: int = 1) -> str:
    """The path of the latest customer link e-mailed to `contact` (or the one before with nth_last=2)."""
    paths = [LINK.search(m.body).group(1) for m in mail.outbox if contact.email in m.to and LINK.search(m.body)]
    assert len(paths) >= nth_last, f"no customer link was e-mailed to {contact.email}"
    return paths[-nth_last]


def token_of(path: str) -> str:
    return urlsplit(path).path.strip("/").split("/")[-1]


@pytest.fixture
def sent(people, django_capture_on_commit_callbacks):
    """`sent(stage)` -> (engagement, path of the customer's link); the send services' e-mails really go out."""

    def _sent(stage: str, **options):
        with django_capture_on_commit_callbacks(execute=True):
            engagement = reach(people, stage, **options)
        return engagement, link_path(engagement.contact)

    return _sent


def shown_fields(client, path: str) -> dict:
    """The hidden fields of the link's page (the fingerprints of what it shows), as a browser sends them back."""
    page = client.get(path).content.decode()
    return dict(re.findall(r'type="hidden" name="(content_hash|document_sha256)" value="([0-9a-f]*)"', page)
                + re.findall(r'name="(content_hash|document_sha256)" value="([0-9a-f]*)"', page))


@pytest.fixture
def customer_post(client):
    """POST as the customer's browser, from a known address. As a browser would, it sends back the fingerprint of
    the document the page offered (its hidden field), unless the test gives one."""

    def _post(path: str, data: dict):
        if "document_sha256" not in data:
            shown = re.search(r'name="document_sha256" value="([0-9a-f]*)"', client.get(path).content.decode())
            data = {**data, "document_sha256": shown.group(1) if shown else ""}
        return client.post(path, data, REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)

    return _post
