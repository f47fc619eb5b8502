"""A request body schema made from a Django form, so an act asks the API for exactly what its page form asks.

The form stays the one judge of its input: the schema only gives the body its shape and types for the OpenAPI
document (and refuses unknown fields); the form then cleans the values as it does for the page, with its own
messages. A file travels as `{"name": ..., "content_base64": ...}`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic import ValidationError as SchemaError

from psops.core.errors import ApplicationError

BIGGEST_ID = 2**63 - 1
LONGEST_TEXT = 20_000  # a text without a limit of its own in its form
LARGEST_FILE = 10 * 1024 * 1024
Id = Annotated[int, Field(ge=1, le=BIGGEST_ID)]


class FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="The file's name, with its extension.")
    content_base64: str = Field(max_length=(LARGEST_FILE * 4) // 3 + 4, description="The file's bytes, in base64.")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _choices(field: forms.ChoiceField) -> list[str]:
    choices: Any = field.choices
    return [str(value) for value, _ in choices if value not in ("", None)]


def _type_of(field: forms.Field) -> Any:
    if isinstance(field, forms.BooleanField):
        return bool
    if isinstance(field, forms.ModelChoiceField):
        return Id
    if isinstance(field, forms.TypedChoiceField | forms.ChoiceField):
        values = _choices(field)
        return Literal[tuple(values)] if values else str  # type: ignore[valid-type]
    if isinstance(field, forms.DateField):
        return dt.date
    if isinstance(field, forms.DecimalField):
        return Decimal
    if isinstance(field, forms.IntegerField):
        return Annotated[int, Field(ge=-BIGGEST_ID, le=BIGGEST_ID)]
    if isinstance(field, forms.FileField):
        return FileIn
    longest = getattr(field, "max_length", None) or LONGEST_TEXT
    return Annotated[str, Field(max_length=longest)]


def schema_of(form_class: type[forms.BaseForm] | None, name: str) -> type[BaseModel]:
    """The body schema for `form_class` (an empty object when the act asks nothing)."""
    fields: dict[str, Any] = {}
    declared: dict[str, forms.Field] = getattr(form_class, "base_fields", {})
    for field_name, field in declared.items():
        kind = _type_of(field)
        described = Field(description=str(field.help_text or field.label or field_name))
        if isinstance(field, forms.BooleanField):
            fields[field_name] = (bool, Field(default=False, description=described.description))
        elif field.required:
            fields[field_name] = (kind, described)
        else:
            fields[field_name] = (kind | None, Field(default=None, description=described.description))
    return create_model(name, __base__=Body, **fields)


def form_input(prefix: str, body: BaseModel) -> tuple[dict, dict]:
    """The (data, files) to bind the act's form with, its fields named with the form's prefix."""
    data: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for name, value in body.model_dump(exclude_none=True).items():
        key = f"{prefix}-{name}"
        if isinstance(value, dict) and "content_base64" in value:
            try:
                content = base64.b64decode(value["content_base64"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ApplicationError(code="invalid-file", message="The file's content is not valid base64.",
                                       field=name) from exc
            files[key] = SimpleUploadedFile(value["name"], content)
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        else:
            data[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return data, files


def body_of(request: Any, schema: type[BaseModel]) -> BaseModel:
    """The request's JSON body checked against `schema` (an empty body is an empty object): a body that is not JSON
    is a 400, one that does not fit the schema a 422 naming the first field at fault."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError(code="bad-request", message="The body is not JSON.") from exc
    try:
        return schema.model_validate(data)
    except SchemaError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = f"{field}: {first['msg']}" if field else str(first["msg"])
        raise ApplicationError(code="invalid", message=message, field=field or "") from None


def body_in_openapi(schema: type[BaseModel]) -> dict:
    """The OpenAPI request body for an operation that reads `schema` itself (after its own checks)."""
    found = schema.model_json_schema(ref_template="{model}")
    defs = found.pop("$defs", {})

    def inline(node: Any) -> Any:  # the few nested schemas (a file) are written in place: no references to resolve
        if isinstance(node, dict):
            if set(node) == {"$ref"}:
                return inline(defs[node["$ref"]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"requestBody": {"required": False, "content": {"application/json": {"schema": inline(found)}}}}
