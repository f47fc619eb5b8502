"""`psops rom`: success paths through call_command (test database), refusals through a real subprocess."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from .conftest import run_psops


def rom(*args):
    out = StringIO()
    call_command("rom", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_json_migration():
    data = json.loads(rom("sm-to-saas", "users=500", "projects=1000", "large_repos=11", "--json"))
    assert data["template"] == "sm-to-saas"
    assert data["currency"] == "USD"
    assert (data["low"], data["high"]) == ("54000.00", "64000.00")
    assert data["lines"] == [
        {"code": "SM-SAAS-MIGRATION", "description": "Self-managed to SaaS migration, up to 500 users and 1,000 "
                                                     "projects", "quantity": 1, "low": "30000.00", "high": "40000.00"},
        {"code": "SM-SAAS-LARGE-REPOS", "description": "Repositories over 5 GB: 11 in blocks of 10", "quantity": 2,
         "low": "24000.00", "high": "24000.00"},
    ]
    assert [flag["code"] for flag in data["flags"]] == ["technical-architect-review"]
    assert all(set(flag) == {"code", "message"} for flag in data["flags"])
    assert data["table_versions"] == {"migration_matrix": 1}


@pytest.mark.django_db
def test_json_beyond_the_matrix_has_null_totals():
    data = json.loads(rom("sm-to-saas", "users=5000", "projects=1", "--json"))
    assert data["low"] is None and data["high"] is None
    assert data["lines"] == []
    assert [flag["code"] for flag in data["flags"]] == ["engagement-manager-estimate"]


@pytest.mark.django_db
def test_json_price_book_with_seats():
    data = json.loads(rom("price-book", "GL-CICD-R=2", "attendees=15", "--json"))
    assert [(line["code"], line["quantity"], line["low"]) for line in data["lines"]] == [
        ("GL-CICD-R", 2, "10000.00"), ("SRV-PERSEAT-R", 6, "3000.00")]
    assert data["low"] == data["high"] == "13000.00"


@pytest.mark.django_db
def test_readable_table():
    text = rom("implementation", "ha_geo=1")
    assert "IMPL-HA-GEO" in text and "IMPL-PM" in text
    assert "TOTAL" in text and "55,000.00" in text and "75,900.00" in text
    assert "technical-architect-review" in text
    assert "Assumptions:" in text


@pytest.mark.django_db
def test_call_command_refusal_is_a_command_error_with_status_2():
    with pytest.raises(CommandError, match=r"\[unknown-sku\]") as raised:
        rom("price-book", "GL-NOPE=1")
    assert raised.value.returncode == 2


def test_subprocess_success(cli_env):
    result = run_psops(cli_env, "rom", "price-book", "GL-CICD=1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["low"] == data["high"] == "7000.00"
    assert [flag["code"] for flag in data["flags"]] == ["travel-billed-separately"]
    assert data["table_versions"] == {"price_book": 1}


@pytest.mark.parametrize(("args", "expected"), [
    (["nope"], "unknown-template"),
    (["price-book", "GL-NOPE=1"], "unknown-sku"),
    (["implementation", "nodes=1"], "unknown-question"),
    (["price-book", "GL-CICD-R=1.5"], "not-a-whole-number"),
    (["price-book", "GL-CICD-R=abc", "--json"], "not-a-whole-number"),
    (["price-book", "GL-CICD-R=-1"], "negative-number"),
    (["sm-to-saas", "users=-5", "projects=1"], "negative-number"),
    (["price-book", "GL-CICD-R"], "not-name-value"),
    (["price-book", "=3"], "not-name-value"),
    (["price-book", "GL-CICD-R=1", "GL-CICD-R=2"], "duplicate-answer"),
    (["price-book"], "empty-rom"),
    (["sm-to-saas", "users=5"], "missing-answer"),
    (["implementation", "ha_geo=2"], "number-too-large"),
    ([], "required"),
    (["price-book", "GL-CICD-R=1", "--bogus"], "unrecognized arguments"),
])
def test_subprocess_refusals_exit_2_with_one_line(cli_env, args, expected):
    result = run_psops(cli_env, "rom", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert lines[0].startswith("rom: ")
    assert result.stdout == ""
