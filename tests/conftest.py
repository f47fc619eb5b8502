"""Shared fixtures: real users in real roles, and the default data the migrations load."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
