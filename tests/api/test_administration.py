"""The administrator's pages through the API: webhook subscriptions and their logs, and imports, with the pages'
services and refusals."""

from __future__ import annotations

import pytest

from psops.api.models import WebhookDelivery, WebhookSubscription
from psops.api.webhooks import read_timeline, send_due
from psops.crm import import_runs
from psops.crm.models import ImportRun, Opportunity
from tests.api.test_webhooks import later, receiver  # noqa: F401  (the fixture: a real local HTTP receiver)
from tests.factories import reach
from tests.test_imports import as_csv, good

pytestmark = pytest.mark.django_db


def test_an_administrator_subscribes_reads_the_log_and_resends(api, people, receiver):  # noqa: F811
    admin = api("admin")
    names = {e["name"] for e in admin.get("/webhooks/events").json()}
    assert {"quote.sent", "invoice.issued"} <= names
    r = receiver([500])
    made = admin.ok("/webhooks", {"url": r.url, "events": ["quote.sent"], "description": "ERP"}, status=201)
    assert len(made["secret"]) == 64 and made["secret"] == WebhookSubscription.objects.get().secret
    (listed,) = admin.get("/webhooks").json()
    assert listed["url"] == r.url and "secret" not in listed and listed["created_by"] == "admin"
    reach(people, "quote-sent")
    read_timeline(now=later())
    send_due(now=later())
    (delivery,) = admin.get(f"/webhooks/{made['id']}/deliveries").json()
    assert (delivery["event"], delivery["state"], delivery["last_status"]) == ("quote.sent", "pending", 500)
    refused = admin.post(f"/webhooks/deliveries/{delivery['id']}/resend")
    assert refused.status_code == 409 and refused.json()["message"] == "This delivery is already waiting to be sent."
    send_due(now=later(minutes=2))
    assert admin.ok(f"/webhooks/deliveries/{delivery['id']}/resend")["message"].startswith("Queued again")
    assert WebhookDelivery.objects.get().state == "pending"
    assert admin.ok(f"/webhooks/{made['id']}/active", {"active": False})["message"].startswith("Turned off")
    again = admin.post(f"/webhooks/{made['id']}/active", {"active": False})
    assert again.status_code == 409 and again.json()["code"] == "unchanged"


def test_webhooks_are_the_administrators_and_bad_subscriptions_change_nothing(api, settings):
    settings.PSOPS_WEBHOOKS_PRIVATE = False
    for path in ("/webhooks", "/webhooks/events", "/webhooks/1/deliveries"):
        response = api("finance").get(path)
        assert response.status_code == 403 and response.json()["code"] == "forbidden", path
    assert api("finance").post("/webhooks", {"url": "https://erp.example/h", "events": ["quote.sent"]}
                               ).status_code == 403
    admin = api("admin")
    for body, field in (({"url": "https://10.0.0.8/h", "events": ["quote.sent"]}, "url"),
                        ({"url": "ftp://erp.example/h", "events": ["quote.sent"]}, "url"),
                        ({"url": "https://erp.example/h", "events": ["quote.exploded"]}, "events"),
                        ({"url": "https://erp.example/h", "events": []}, "events"),
                        ({"url": "https://erp.example/h", "events": ["quote.sent"], "secret": "mine"}, "secret")):
        response = admin.post("/webhooks", body)
        assert response.status_code == 422 and response.json()["field"] == field, body
    assert admin.get("/webhooks/999/deliveries").status_code == 404
    assert not WebhookSubscription.objects.exists()


def _upload(api_of, upload, **headers):
    return api_of.client.post("/api/v1/imports/", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {api_of.token}",
                              **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def test_a_file_is_uploaded_mapped_checked_and_imported_through_the_api(api, people):
    admin = api("admin")
    response = _upload(admin, as_csv([good(n) for n in range(5)]))
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["state"] == "mapping" and "Opportunity Name" in run["columns"]
    assert run["mapping"]["deal"] == "Opportunity Name"  # proposed from Salesforce's names
    mapped = admin.ok(f"/imports/{run['id']}/map", {"mapping": run["mapping"], "preset_name": "Salesforce"})
    assert mapped["state"] == "checking"
    early = admin.post(f"/imports/{run['id']}/commit")
    assert early.status_code == 409 and early.json()["code"] == "not-now"
    assert import_runs.imports_work() == 1
    checked = admin.get(f"/imports/{run['id']}").json()
    assert (checked["state"], checked["error_count"], checked["summary"]["deals_new"]) == ("ready", 0, 5)
    assert admin.ok(f"/imports/{run['id']}/commit")["state"] == "importing"
    assert import_runs.imports_work() == 1
    done = admin.get(f"/imports/{run['id']}").json()
    assert done["state"] == "done" and done["summary"]["made"]["deals"] == 5
    assert Opportunity.objects.filter(name__startswith="Deal ").count() == 5
    assert [r["id"] for r in admin.get("/imports/").json()] == [run["id"]]


def test_import_refusals_and_a_replayed_upload(api, people):
    admin = api("admin")
    for who in ("sal", "finance"):
        assert _upload(api(who), as_csv([good(1)])).status_code == 403
        assert api(who).get("/imports/").status_code == 403
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = _upload(admin, SimpleUploadedFile("notes.txt", b"hello"))
    assert bad.status_code == 422 and bad.json()["field"] == "file"
    missing = admin.client.post("/api/v1/imports/", {}, HTTP_AUTHORIZATION=f"Bearer {admin.token}")
    assert missing.status_code == 422 and missing.json()["field"] == "file"
    first = _upload(admin, as_csv([good(1)]), **{"Idempotency-Key": "upload-1"}).json()
    replay = _upload(admin, as_csv([good(1)]), **{"Idempotency-Key": "upload-1"})
    assert replay.status_code == 201 and replay.json()["id"] == first["id"] and ImportRun.objects.count() == 1
    other = _upload(admin, as_csv([good(2)]), **{"Idempotency-Key": "upload-1"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"
    for mapping, field in (({"colour": "Stage"}, None), ({"deal": "Opportunity Name"}, "account"),
                           ({**first["mapping"], "deal": "No such column"}, None)):
        response = admin.post(f"/imports/{first['id']}/map", {"mapping": mapping})
        assert response.status_code == 422 and response.json()["code"] == "invalid-mapping", mapping
        assert field is None or response.json()["field"] == field
    assert admin.post(f"/imports/{first['id']}/map", {"mapping": first["mapping"], "default_segment": "huge"}
                      ).status_code == 422
    assert admin.get("/imports/99999").status_code == 404
    assert ImportRun.objects.get().state == "mapping"


def test_the_integrity_report_says_which_promise_a_hand_edit_broke(api, people):
    from psops.crm.models import PSOpportunity

    e = reach(people, "rom-approved")
    admin = api("admin")
    kept = {row["name"]: row for row in admin.get("/integrity").json()}
    assert "parent-alive" in kept and all(row["count"] == 0 for row in kept.values())
    PSOpportunity.objects.filter(pk=e.ps.pk).update(stage="quoted")
    type(e.opp).objects.filter(pk=e.opp.pk).update(stage="8-closed-lost")
    broken = {row["name"]: row for row in admin.get("/integrity").json()}["parent-alive"]
    assert broken["count"] == 1 and broken["violations"][0].startswith(f"PS opportunity {e.ps.pk}: ")
    refused = api("finance").get("/integrity")
    assert refused.status_code == 403
    assert refused.json()["message"] == "The integrity check is the administrator's page."
