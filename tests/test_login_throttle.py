"""Login throttling slows guessing without handing attackers a lock: failures for a username at one address never
keep the right person out at theirs, a success does not reset the budget for other usernames, waits grow with each
failure, and the count lives in the database, so every process sees it."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from psops.accounts.models import LoginFailure
from psops.accounts.throttle import login_failures_prune

pytestmark = pytest.mark.django_db

ATTACKER, DIRECTOR, OFFICE = "203.0.113.66", "198.51.100.10", "198.51.100.20"
PSOPS = str(Path(sys.executable).parent / "psops")


def post_login(client: Client, username: str, password: str, address: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address,
                       **extra)


def logged_in_as(client: Client) -> str | None:
    from django.contrib.auth import get_user_model

    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id).username if user_id else None


def age_failures(seconds: float) -> None:
    """Let time pass for the throttle: every recorded failure happened `seconds` earlier."""
    for failure in LoginFailure.objects.all():
        failure.at -= dt.timedelta(seconds=seconds)
        failure.save(update_fields=["at"])


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Each checked password costs a full-strength hash otherwise; what is counted does not depend on the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(people):
    for user in (people["dircs"], people["sal"]):
        user.set_password("right-password-123")
        user.save(update_fields=["password"])
    return people


def test_failures_from_another_address_do_not_lock_the_director_out(staff):
    attacker = Client()
    for _ in range(settings.LOGIN_THROTTLE["ATTEMPTS"]):
        assert post_login(attacker, "dircs", "guess", ATTACKER).status_code == 200
    refused = post_login(attacker, "dircs", "right-password-123", ATTACKER)
    assert refused.status_code == 429
    assert "Too many failed attempts. Try again in 15 seconds." in refused.content.decode()
    assert refused["Retry-After"] == "15" and logged_in_as(attacker) is None  # refused even with the right password

    director = Client()
    response = post_login(director, "dircs", "right-password-123", DIRECTOR)
    assert response.status_code == 302 and logged_in_as(director) == "dircs"
    # The director's success leaves the attacker's failures counting against the attacker.
    assert post_login(attacker, "dircs", "guess", ATTACKER).status_code == 429


def test_case_and_spaces_do_not_make_a_fresh_username(staff):
    client = Client()
    for name in ["dircs", "DIRCS", " Dircs", "dirCS ", "dircs"]:
        assert post_login(client, name, "guess", ATTACKER).status_code == 200
    assert post_login(client, "DiRcS", "guess", ATTACKER).status_code == 429


def test_waits_double_with_each_further_failure_and_end(staff):
    client = Client()
    for _ in range(5):
        post_login(client, "sal", "guess", OFFICE)
    waits = []
    for _ in range(4):
        refused = post_login(client, "sal", "guess", OFFICE)
        assert refused.status_code == 429
        waits.append(int(refused["Retry-After"]))
        age_failures(waits[-1] + 1)  # the wait has passed: one more guess is checked, and fails
        assert post_login(client, "sal", "guess", OFFICE).status_code == 200
    assert waits == [15, 30, 60, 120]
    # Whatever the number of failures, the wait never exceeds the maximum.
    for _ in range(10):
        LoginFailure.objects.create(username="sal", address=OFFICE)
    assert int(post_login(client, "sal", "guess", OFFICE)["Retry-After"]) == settings.LOGIN_THROTTLE[
        "MAX_DELAY_SECONDS"]
    # Once the failures are older than the window they no longer count, and they are deleted.
    age_failures(settings.LOGIN_THROTTLE["WINDOW_SECONDS"] + 1)
    response = post_login(client, "sal", "right-password-123", OFFICE)
    assert response.status_code == 302 and logged_in_as(client) == "sal"
    assert not LoginFailure.objects.exists()


def test_spraying_many_usernames_from_one_address_is_bounded_even_with_a_known_password(staff):
    """The attacker owns `sal` and logs in as sal between guesses at other usernames, which used to reset the
    address's count."""
    attacker = Client()
    checked = 0
    for i in range(60):
        if i % 4 == 0:
            post_login(attacker, "sal", "right-password-123", ATTACKER)
            attacker.logout()
        if post_login(attacker, f"user{i}", "Winter2026!", ATTACKER).status_code == 200:
            checked += 1
    assert checked == settings.LOGIN_THROTTLE["ADDRESS_ATTEMPTS"]
    # Another address is not affected.
    office = Client()
    assert post_login(office, "sal", "right-password-123", OFFICE).status_code == 302


def test_a_success_forgets_only_that_usernames_failures_at_that_address(staff):
    client = Client()
    for _ in range(4):
        post_login(client, "sal", "typo", OFFICE)
    LoginFailure.objects.create(username="someone-else", address=OFFICE)
    LoginFailure.objects.create(username="sal", address=ATTACKER)
    assert post_login(client, "sal", "right-password-123", OFFICE).status_code == 302
    left = sorted(LoginFailure.objects.values_list("username", "address"))
    assert left == [("sal", ATTACKER), ("someone-else", OFFICE)]
    client.logout()
    # A fresh budget for sal at the office.
    for _ in range(settings.LOGIN_THROTTLE["ATTEMPTS"]):
        assert post_login(client, "sal", "typo", OFFICE).status_code == 200


def test_a_form_without_a_password_is_not_a_failure(staff):
    client = Client()
    for _ in range(10):
        assert post_login(client, "sal", "", OFFICE).status_code == 200
    assert not LoginFailure.objects.exists()


def test_the_administrations_login_form_is_throttled_too(staff):
    client = Client()
    for _ in range(settings.LOGIN_THROTTLE["ATTEMPTS"]):
        client.post("/admin/login/?next=/admin/", {"username": "dircs", "password": "guess"}, REMOTE_ADDR=ATTACKER)
    refused = client.post("/admin/login/?next=/admin/", {"username": "dircs", "password": "right-password-123"},
                          REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 429 and logged_in_as(client) is None


def test_behind_a_trusted_proxy_each_client_is_counted_at_its_own_address(staff, settings):
    """Every request comes from the proxy: without reading X-Forwarded-For from it, one attacker would slow
    everyone."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = Client()
    for _ in range(settings.LOGIN_THROTTLE["ATTEMPTS"]):
        attacker.post("/accounts/login/", {"username": "dircs", "password": "guess"},
                      HTTP_X_FORWARDED_FOR=ATTACKER, **proxy)
    # The attacker cannot escape by writing another address in front: only the right-most untrusted one counts.
    forged = attacker.post("/accounts/login/", {"username": "dircs", "password": "guess"},
                           HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ATTACKER}", **proxy)
    assert forged.status_code == 429
    director = Client()
    response = director.post("/accounts/login/", {"username": "dircs", "password": "right-password-123"},
                             HTTP_X_FORWARDED_FOR=DIRECTOR, **proxy)
    assert response.status_code == 302 and logged_in_as(director) == "dircs"
    assert set(LoginFailure.objects.values_list("address", flat=True)) == {ATTACKER}


def test_two_clients_share_one_count_in_the_database(staff):
    first, second = Client(), Client()
    for _ in range(3):
        assert post_login(first, "dircs", "guess", ATTACKER).status_code == 200
    assert post_login(second, "dircs", "guess", ATTACKER).status_code == 200
    assert LoginFailure.objects.filter(username="dircs", address=ATTACKER).count() == 4
    assert post_login(second, "dircs", "guess", ATTACKER).status_code == 200
    assert post_login(first, "dircs", "guess", ATTACKER).status_code == 429


def test_old_failures_are_pruned():
    LoginFailure.objects.create(username="old", address=ATTACKER,
                                at=timezone.now() - dt.timedelta(seconds=settings.LOGIN_THROTTLE["WINDOW_SECONDS"] + 5))
    LoginFailure.objects.create(username="recent", address=ATTACKER)
    assert login_failures_prune() == 1
    assert list(LoginFailure.objects.values_list("username", flat=True)) == ["recent"]


# Runs in a separate Python process against the same database file: posts to the login form and prints the statuses.
GUESSER = """
import json, sys
import django
django.setup()
from django.test import Client
address, username, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = Client()
print(json.dumps([client.post("/accounts/login/", {"username": username, "password": "guess"},
                              REMOTE_ADDR=address).status_code for _ in range(count)]))
"""


@pytest.fixture
def database_file(tmp_path):
    """A migrated database file that separate processes share (the test database is not visible to them)."""
    db = tmp_path / "shared.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "PSOPS_DEBUG": "1", "PYTHONWARNINGS": "ignore",
           "DJANGO_SETTINGS_MODULE": "psops.settings"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run([PSOPS, "migrate", "--noinput", "--skip-checks", "-v", "0"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return db, env


def test_separate_processes_count_the_same_failures(database_file):
    db, env = database_file

    def guess(count: int) -> list[int]:
        result = subprocess.run([sys.executable, "-c", GUESSER, ATTACKER, "dircs", str(count)], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert guess(3) == [200, 200, 200]
    assert guess(3) == [200, 200, 429]  # another process (another gunicorn worker) knows the first one's failures
    with sqlite3.connect(db) as connection:
        rows = connection.execute("select username, address from accounts_loginfailure").fetchall()
    assert rows == [("dircs", ATTACKER)] * 5
