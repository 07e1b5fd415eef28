"""Documents people author and sign (the rubric, the routing rules): YAML or JSON in, a validated
pydantic model out, or every error with its path, so a 422 can list them all at once."""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

YAML_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")

Model = TypeVar("Model", bound=BaseModel)


class DocumentInvalid(ValueError):
    """The document is not valid; `errors` lists every problem with its path (`loc`)."""

    kind: ClassVar[str] = "document"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} {self.kind} error(s): " + "; ".join(describe(e) for e in errors))
        self.errors = errors


def describe(error: dict[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "<document>"
    return f"{path}: {error['msg']}"


def load_yaml(text: str, invalid: type[DocumentInvalid]) -> object:
    """YAML (JSON is YAML too) to plain data, or `invalid` naming the syntax error."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise invalid([{"loc": [], "msg": f"not valid YAML: {exc}", "type": "yaml_invalid"}]) from exc


def parse_body(body: bytes, content_type: str | None, invalid: type[DocumentInvalid]) -> object:
    """An HTTP body to plain data by its media type (YAML when none is given)."""
    media_type = (content_type or "application/yaml").split(";")[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise invalid([{"loc": [], "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]) from exc
    if media_type in YAML_MEDIA_TYPES:
        return load_yaml(text, invalid)
    raise invalid([{"loc": [], "msg": f"send YAML or JSON, not {media_type!r}", "type": "media_type"}])


def validate_document(
    model: type[Model], document: object, invalid: type[DocumentInvalid], *, what: str
) -> Model:
    """Plain data to `model`, or `invalid` with every validation error and its path."""
    if not isinstance(document, dict):
        raise invalid([{"loc": [], "msg": f"{what} is a mapping", "type": "dict_type"}])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise invalid(
            [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
        ) from exc
