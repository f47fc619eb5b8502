"""Every act offered on every record page, for every role, either succeeds or is refused with its reason in the page:
never a bare 403, never a server error. Each act is posted as the browser would send its form (the values the page
filled in), then once with the form left empty, each inside a savepoint rolled back, so one act's outcome does not
change what the next page offers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from psops.approvals.models import ApprovalRequest
from psops.billing.models import Invoice
from psops.crm.models import Opportunity, PSOpportunity
from psops.delivery.models import Project
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow
from psops.workflow.demo import DEMO_USERS

pytestmark = pytest.mark.django_db

MODELS = [Opportunity, PSOpportunity, Rom, ApprovalRequest, Quote, Sow, Project, Invoice]
ACT = re.compile(r"^/r/(?P<model>\w+)/(?P<pk>\d+)/act/(?P<code>[\w-]+)/$")


class ActForms(HTMLParser):
    """The act forms of a page: their address and the values the browser would send (text as filled in, the chosen
    or first option of each select, ticked boxes)."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and ACT.match(a.get("action") or ""):
            self._fields = {}
            self.forms.append((a["action"], self._fields))
        if self._fields is None:
            return
        name = a.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self._fields[name] = a.get("value") or "on"
            elif a.get("type") != "file":
                self._fields[name] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            value = a.get("value") or ""
            if "selected" in a or (self._select not in self._fields and value):
                self._fields[self._select] = value

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._fields = None


def said_why(page: str) -> bool:
    """A refusal shown in the page: a message, or an error beside a field."""
    return 'class="msg error"' in page or re.search(r'id="id_[\w-]+_error"', page) is not None


@pytest.fixture
def demo():
    call_command("demo")


@pytest.mark.parametrize("username", [u[0] for u in DEMO_USERS])
def test_every_offered_act_succeeds_or_says_why_in_the_page(client, demo, username):
    client.login(username=username, password="demo")
    tried = 0
    for model in MODELS:
        for pk in model.objects.values_list("pk", flat=True):
            url = reverse(f"web:{model._meta.model_name}", args=[pk])
            page = client.get(url)
            if page.status_code == 404:
                continue  # not a deal this person sees
            assert page.status_code == 200, url
            parser = ActForms()
            parser.feed(page.content.decode())
            for action, filled in parser.forms:
                for data in (filled, {}):
                    with transaction.atomic():
                        response = client.post(action, data)
                        transaction.set_rollback(True)
                    tried += 1
                    where = f"{username} {action} {data}"
                    assert response.status_code in (302, 400, 403, 404, 409), where
                    if response.status_code != 302:
                        body = response.content.decode()
                        assert said_why(body), where
                        assert "What you can do now" in body, where  # the record page itself, not a bare error
    # Those who act on the demo's records were offered (and tried) their acts; the others oversee it.
    if username not in ("controller", "vpsales", "vpgs", "ta", "dirps", "dircs"):
        assert tried >= 4, f"{username} tried only {tried} acts"
