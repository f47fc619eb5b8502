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


@pytest.fixture(autouse=True, scope="session")
def _test_settings(tmp_path_factory):
    """Documents and uploads go to a folder of the test run, never to var/media. Passwords are hashed with a fast
    hasher, as Django advises for tests: the demo's 13 users cost 4 s with the real one, at every test that loads it.
    (Hashing strength is Django's; nothing of psops depends on which hasher runs.)"""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()
