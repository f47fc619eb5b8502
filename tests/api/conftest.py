"""The API as a script meets it: a personal token per person, JSON in and out, through Django's test client."""

from __future__ import annotations

import json

import pytest

from psops.api.services import token_create


class Api:
    """Calls `/api/v1` as `user`, with a token made for them the way the tokens page makes one."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        _, self.token = token_create(user=user, name="tests")

    def _headers(self, headers: dict | None) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}",
                **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}}

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", params, **self._headers(None))

    def post(self, path: str, body=None, *, headers: dict | None = None, raw: str | None = None):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(f"/api/v1{path}", data, content_type="application/json", **self._headers(headers))

    def ok(self, path: str, body=None, *, status: int | tuple = (200, 201), headers: dict | None = None) -> dict:
        """POST that must succeed; its JSON answer."""
        response = self.post(path, body, headers=headers)
        wanted = status if isinstance(status, tuple) else (status,)
        assert response.status_code in wanted, (path, response.status_code, response.content[:500])
        return response.json()


@pytest.fixture
def api(client, people):
    """`api("sal")` -> an Api for that person of tests.factories.STAFF."""
    made: dict[str, Api] = {}

    def _api(username: str) -> Api:
        if username not in made:
            made[username] = Api(client, people[username])
        return made[username]

    return _api
