"""The API's one error shape, and which status a refusal answers with.

- 400 the request itself is malformed (a body that is not JSON, a bad header);
- 401 no token, or an unknown, revoked or expired one;
- 403 the act or list is not the caller's (the domain's "forbidden", segregation of duties, a missing approver);
- 404 no such record, or one the caller does not see (the same answer, so ids cannot be probed);
- 409 the act is not possible in the record's state now, or raced another (the domain's other refusals);
- 422 a field is wrong (the schema's or the form's check, or a refusal that names its field), or an
  `Idempotency-Key` is reused with another request.
"""

from __future__ import annotations

from django.http import JsonResponse
from ninja import Schema

from psops.core.errors import ApplicationError


class Error(Schema):
    code: str
    message: str
    field: str | None = None


ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error}

UNPROCESSABLE = frozenset({"invalid", "idempotency-key-reused"})


def status_of_refusal(refusal: ApplicationError) -> int:
    status = refusal.http_status
    if status in (403, 404):
        return status
    if refusal.code == "bad-request":
        return 400
    if refusal.code in UNPROCESSABLE or refusal.field:
        return 422
    return 409


def error_response(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "field": field or None}, status=status)
