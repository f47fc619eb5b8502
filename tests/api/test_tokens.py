"""Personal API tokens: made on the page and shown once, kept only as a fingerprint, listed and revoked by their
owner (and by an administrator), refused by the API once revoked or expired or when their owner is deactivated."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.api.models import ApiToken
from psops.api.services import digest_of, token_create, token_revoke
from tests.factories import assert_refused

pytestmark = pytest.mark.django_db


def me(client, token):
    return client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_made_on_the_page_is_shown_once_and_kept_as_a_fingerprint(client, people):
    client.force_login(people["sal"])
    response = client.post("/tokens/new/", {"name": "nightly ERP sync",
                                            "expires_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat()})
    assert response.status_code == 201 and "no-store" in response["Cache-Control"]
    secret = re.search(r'<code id="new-token">(psops_[\w-]+)</code>', response.content.decode()).group(1)
    row = ApiToken.objects.get()
    assert row.digest == digest_of(secret) and secret not in str(row.__dict__)
    assert TimelineEvent.objects.filter(verb="api_token.created", subject_id=row.pk).exists()
    page = client.get("/tokens/").content.decode()
    assert "nightly ERP sync" in page and secret not in page and f"psops_{row.prefix}" in page
    assert me(client, secret).json()["username"] == "sal"


def test_bad_token_forms_change_nothing(client, people):
    client.force_login(people["sal"])
    today = timezone.localdate()
    for data in ({"name": ""}, {"name": "x" * 101}, {"name": "ok", "expires_on": today.isoformat()},
                 {"name": "ok", "expires_on": (today + dt.timedelta(days=800)).isoformat()},
                 {"name": "ok", "expires_on": "not a date"}):
        response = client.post("/tokens/new/", data)
        assert response.status_code == 400, data
        assert 'id="new-token"' not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoked_expired_and_deactivated_tokens_are_refused(client, people):
    _, revoked = token_create(user=people["sal"], name="a")
    _, expiring = token_create(user=people["sal"], name="b", expires_on=timezone.localdate() + dt.timedelta(days=1))
    _, owner_leaves = token_create(user=people["pse"], name="c")
    for token in (revoked, expiring, owner_leaves):
        assert me(client, token).status_code == 200
    token_revoke(user=people["sal"], token=ApiToken.objects.get(name="a"))
    ApiToken.objects.filter(name="b").update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    people["pse"].is_active = False
    people["pse"].save(update_fields=["is_active"])
    for token in (revoked, expiring, owner_leaves, "psops_nothing_here", "x" * 5000, ""):
        response = me(client, token)
        assert response.status_code == 401, token[:20]
        assert response.json()["code"] == "unauthorized"
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION="Basic c2FsOmRlbW8=").status_code == 401


def test_only_the_owner_or_an_administrator_revokes(client, people):
    row, _ = token_create(user=people["sal"], name="mine")
    assert_refused(lambda: token_revoke(user=people["sal2"], token=row), "forbidden")
    client.force_login(people["sal2"])
    assert client.post(f"/tokens/{row.pk}/revoke/").status_code == 404  # not even told it exists
    assert "mine" not in client.get("/tokens/").content.decode()
    client.force_login(people["admin"])
    assert "mine" in client.get("/tokens/").content.decode()
    assert client.post(f"/tokens/{row.pk}/revoke/").status_code == 302
    row.refresh_from_db()
    assert row.state == "revoked" and row.revoked_by == people["admin"]
    assert TimelineEvent.objects.filter(verb="api_token.revoked", subject_id=row.pk).exists()
    assert_refused(lambda: token_revoke(user=people["admin"], token=row), "not-now")


def test_someone_without_a_role_makes_no_token(client, people):
    from psops.accounts.services import user_ensure

    nobody = user_ensure(username="nobody", roles=[])
    client.force_login(nobody)
    assert client.get("/tokens/").status_code == 403
    assert client.post("/tokens/new/", {"name": "x"}).status_code == 403
    assert_refused(lambda: token_create(user=nobody, name="x"), "forbidden")
