"""Questions named by what they ask ("Email Address", "What is your first name?") matched to
Baton's fields, and any answer turned into a value Baton can keep. Pure: no I/O here.

Form builders (Webflow, Unbounce) name fields by their labels and Typeform by its questions'
titles; an admin's field map overrides whatever is guessed here.
"""

from __future__ import annotations

import json
from typing import Any

LABEL_FIELDS = {
    "email": "email",
    "email_address": "email",
    "work_email": "email",
    "name": "full_name",
    "full_name": "full_name",
    "your_name": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "surname": "last_name",
    "company": "company",
    "company_name": "company",
    "organization": "company",
    "job_title": "job_title",
    "title": "job_title",
    "phone": "phone",
    "phone_number": "phone",
    "mobile_number": "phone",
    "country": "country",
    "company_size": "company_size",
    "industry": "industry",
    "state": "state",
    "province": "state",
    "language": "language",
    "preferred_language": "language",
    "product": "product_interest",
    "product_interest": "product_interest",
}
# Longest first, so "company_name" wins over "name" as the end of "what_is_your_company_name".
_SUFFIXES = sorted(LABEL_FIELDS, key=len, reverse=True)


def label_key(label: str) -> str:
    """`Email Address` -> `email_address`; `What's your name?` -> `what_s_your_name`."""
    return "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def field_for_label(label: str) -> str | None:
    """The Baton field a label names: exactly (`Email Address`), or as the end of a question
    (`What is your first name?`). None when it names none."""
    key = label_key(label)
    if key in LABEL_FIELDS:
        return LABEL_FIELDS[key]
    return next((LABEL_FIELDS[s] for s in _SUFFIXES if key.endswith("_" + s)), None)


def as_text(value: Any) -> str | None:
    """An answer of any JSON type as text, so no answer is lost for its type: numbers as written,
    booleans as `true`/`false`, lists joined by commas, objects as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, sort_keys=True, default=str)
