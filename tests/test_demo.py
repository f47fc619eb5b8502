import pytest
from django.core.management import call_command

from psops.activity.models import TimelineEvent
from psops.billing.models import CollectionCase, Invoice
from psops.crm.models import Opportunity, PSOpportunity
from psops.delivery.models import Project
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow

pytestmark = pytest.mark.django_db


def counts():
    return {m.__name__: m.objects.count() for m in (Opportunity, PSOpportunity, Rom, Quote, Sow, Project, Invoice,
                                                     CollectionCase, TimelineEvent)}


def test_demo_covers_the_process_and_loads_once(capsys):
    call_command("demo")
    out = capsys.readouterr().out
    for username in ("sal", "sa", "tam", "psmanager", "dircs", "pse", "finance", "admin"):
        assert f"  {username} " in out
    first = counts()
    # Deals stand at different steps, from fresh scoping to collections.
    assert Opportunity.objects.filter(stage="2-scoping", ps_opportunities__isnull=True).exists()
    assert set(Rom.objects.values_list("status", flat=True)) >= {"submitted", "needs-discovery", "approved"}
    assert Quote.objects.filter(state="sent").exists()
    assert Sow.objects.filter(state="sent").exists()
    assert Project.objects.filter(state="in-delivery").exists()
    assert CollectionCase.objects.filter(state="open").exists()
    call_command("demo")
    assert "nothing added" in capsys.readouterr().out
    assert counts() == first


def test_the_demo_engagements_have_every_document_their_step_calls_for(capsys):
    from psops.documents.models import Document

    call_command("demo")
    assert "wait for the worker" in capsys.readouterr().out
    call_command("documents", "render")
    assert "Made" in capsys.readouterr().out
    assert not Document.objects.exclude(state="ready").exists()
    made = {(d.opportunity.account.name, d.kind, d.format)
            for d in Document.objects.select_related("opportunity__account")}
    wanted = {
        ("Umbrella Health", "rom-summary", "pdf"), ("Umbrella Health", "quote", "pdf"),
        ("Stark Industries", "quote", "pdf"), ("Stark Industries", "sow", "pdf"), ("Stark Industries", "sow", "docx"),
        ("Wayne Enterprises", "sow", "pdf"), ("Wayne Enterprises", "invoice", "pdf"),
        ("Acme Corp", "quote", "pdf"), ("Acme Corp", "sow", "pdf"), ("Acme Corp", "invoice", "pdf"),
        ("Acme Corp", "sign-off", "pdf"), ("Acme Corp", "rom-summary", "pdf"),
    }
    assert wanted <= made, wanted - made
    # Nothing is made before its step: no quote where the ROM still waits for approval.
    assert not {k for a, k, _ in made if a in ("Northwind Traders", "Globex Corporation", "Initech")}
    # The customers' answers in the demo name the very files they were shown.
    for quote in Quote.objects.filter(state="accepted"):
        assert quote.accepted_sha256 == quote.accepted_document.sha256
    for sow in Sow.objects.filter(state="signed").select_related("signature__document"):
        assert sow.signature.document_sha256 == sow.signature.document.sha256
