"""Shared fixtures: real users in real roles, and the default data the migrations load."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def people(db):
    from tests.factories import make_staff

    return make_staff()


@pytest.fixture
def deal(people):
    from tests.factories import make_deal

    return make_deal(people)
