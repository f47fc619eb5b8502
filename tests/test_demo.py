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
