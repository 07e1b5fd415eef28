"""Pure normalization: incoming fields, whatever their names, into the `lead.ingested` payload."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import phonenumbers

from services.ingest.identity import company_domain, normalize_email
from services.ingest.schemas import FormSubmissionCreate, ValueTransform
from shared.contracts import LeadIngestedPayload, Touch

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Where a page's address may arrive, if the page did not send its UTM tags separately.
PAGE_URL_FIELDS = ("page_url", "pageUri", "page_uri", "landing_page", "url")
VISITOR_FIELDS = ("visitor_id", "hutk", "baton_vid")
# Ad platforms' click ids, as landing-page query parameters or hidden form fields.
CLICK_ID_FIELDS = ("gclid", "gbraid", "wbraid", "fbclid", "msclkid", "li_fat_id", "ttclid", "twclid")

COUNTRY_NAMES = {
    "united states": "US", "united states of america": "US", "usa": "US", "u.s.": "US",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
    "ireland": "IE", "germany": "DE", "deutschland": "DE", "france": "FR", "netherlands": "NL",
    "the netherlands": "NL", "canada": "CA", "australia": "AU", "spain": "ES", "italy": "IT",
    "sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI", "switzerland": "CH",
    "austria": "AT", "belgium": "BE", "portugal": "PT", "poland": "PL", "india": "IN",
    "japan": "JP", "brazil": "BR", "mexico": "MX", "singapore": "SG", "new zealand": "NZ",
}  # fmt: skip
ISO3_TO_ISO2 = {
    "USA": "US", "GBR": "GB", "IRL": "IE", "DEU": "DE", "FRA": "FR", "NLD": "NL", "CAN": "CA",
    "AUS": "AU", "ESP": "ES", "ITA": "IT", "SWE": "SE", "CHE": "CH", "IND": "IN", "JPN": "JP",
}  # fmt: skip


def normalize_country(country: str | None) -> str | None:
    """ISO 3166-1 alpha-2 where the name or code is known; otherwise the value, title-cased."""
    if country is None:
        return None
    value = country.strip()
    if len(value) == 2:
        return value.upper()
    if value.upper() in ISO3_TO_ISO2:
        return ISO3_TO_ISO2[value.upper()]
    return COUNTRY_NAMES.get(value.lower(), value.title())


def normalize_language(language: str | None) -> str | None:
    """The primary subtag of a language tag, lower-cased (`pt-BR` -> `pt`), so it compares with a
    rep's language skills; a name stays as written, lower-cased."""
    if language is None:
        return None
    value = language.strip().lower().replace("_", "-")
    primary = value.split("-", 1)[0]
    return primary if len(primary) in (2, 3) and primary.isalpha() else value


def normalize_phone(phone: str | None, country: str | None = None) -> str | None:
    """E.164 when the number parses (a national number takes the lead's ISO country as its
    region); otherwise the digits, with `+` kept for international numbers (`00` becomes `+`),
    so a number is never thrown away for being unusual."""
    if phone is None:
        return None
    region = country if country and len(country) == 2 else None
    try:
        parsed = phonenumbers.parse(phone, region)
        if phonenumbers.is_possible_number(parsed):
            return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"[^\d+]", "", phone)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    digits = digits[0] + digits[1:].replace("+", "") if digits else digits
    return digits or None


def split_name(full_name: str) -> tuple[str | None, str | None]:
    """`Ada Lovelace` -> (Ada, Lovelace); `Lovelace, Ada` -> (Ada, Lovelace); one word is a first name."""
    name = " ".join(full_name.split())
    if not name:
        return None, None
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip() or None, last.strip() or None
    first, _, last = name.partition(" ")
    return first, last or None


def utm_from_url(url: str) -> dict[str, str]:
    """The `utm_*` query parameters of a page address, without their prefix."""
    try:
        query = parse_qs(urlparse(url).query)
    except ValueError:
        return {}
    return {k.removeprefix("utm_"): v[0] for k, v in query.items() if k in UTM_FIELDS and v and v[0]}


def click_ids_from_url(url: str) -> dict[str, str]:
    try:
        query = parse_qs(urlparse(url).query)
    except ValueError:
        return {}
    return {k: v[0] for k, v in query.items() if k in CLICK_ID_FIELDS and v and v[0]}


def touch_of(
    utm: Mapping[str, str],
    fields: Mapping[str, str],
    *,
    page_url: str | None,
    channel: str,
    form_id: str | None,
    occurred_at: datetime,
) -> Touch:
    """This submission's own touch: its UTM tags and the click ids in its fields or page address."""
    click_ids = click_ids_from_url(page_url) if page_url else {}
    click_ids.update({k: fields[k] for k in CLICK_ID_FIELDS if fields.get(k)})
    return Touch(
        source=utm.get("source"),
        medium=utm.get("medium"),
        campaign=utm.get("campaign"),
        term=utm.get("term"),
        content=utm.get("content"),
        click_ids=click_ids,
        channel=channel,
        form_id=form_id,
        occurred_at=occurred_at,
    )


TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "checked"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "unchecked"})
_RANGE = re.compile(r"^\s*(\d[\d,]*)\s*(?:-|\u2013|to)\s*(\d[\d,]*)\s*$")
_AT_LEAST = re.compile(r"^\s*(\d[\d,]*)\s*\+\s*$")


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def range_number(value: str, pick: str) -> int | None:
    """`50-200` -> 125 (midpoint) or 50 (lower); `1000+` -> 1000; a plain number -> itself."""
    if match := _RANGE.match(value):
        low, high = (int(g.replace(",", "")) for g in match.groups())
        return low if pick == "lower" else (low + high) // 2
    if match := _AT_LEAST.match(value):
        return int(match.group(1).replace(",", ""))
    digits = value.strip().replace(",", "")
    return int(digits) if digits.isdigit() else None


def transform_value(value: Any, transform: ValueTransform) -> Any:
    """A value read as `transform` says: its value table, then an inversion, then a range. A
    value a step cannot read passes on unchanged (and is validated as it stands)."""
    if str(value) in transform.values:
        value = transform.values[str(value)]
    if transform.invert and (truth := as_bool(value)) is not None:
        value = not truth
    if transform.number_range and isinstance(value, str):
        number = range_number(value, transform.number_range)
        value = number if number is not None else value
    return value


def map_fields(
    raw: Mapping[str, Any],
    field_map: Mapping[str, str],
    utm_fields: Mapping[str, str],
    transforms: Mapping[str, ValueTransform] | None = None,
) -> dict[str, Any]:
    """Rename incoming fields to Baton's (`field_map`: incoming -> canonical), hidden UTM fields
    to `utm_<key>`, and split a full name when first and last were not given separately. A field
    with a transform (by its incoming name) is read through it first."""
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if transforms and key in transforms:
            value = transform_value(value, transforms[key])
        if key in utm_fields:
            fields[f"utm_{utm_fields[key].removeprefix('utm_')}"] = value
        else:
            fields[field_map.get(key, key)] = value
    full_name = fields.pop("full_name", None) or fields.pop("name", None)
    if isinstance(full_name, str) and not fields.get("first_name") and not fields.get("last_name"):
        first, last = split_name(full_name)
        fields["first_name"], fields["last_name"] = first, last
    return fields


def request_hash(form_id: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"form_id": form_id, "fields": fields}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def to_ingested_payload(
    form_id: str | None,
    submission: FormSubmissionCreate,
    *,
    submitted_at: datetime,
    source: str = "form",
    is_hand_raiser: bool = False,
    utm: Mapping[str, str] | None = None,
    attributes: Mapping[str, str] | None = None,
    is_test: bool = False,
    external_id: str | None = None,
) -> LeadIngestedPayload:
    """The one normalized event every source maps into: UTM tags from the fields, the page
    address or the platform (in that order of precedence), the rest kept as attributes."""
    extras = submission.extra_fields()
    visitor_id = next((extras.pop(k) for k in VISITOR_FIELDS if k in extras), None)
    tags = {key.removeprefix("utm_"): extras.pop(key) for key in UTM_FIELDS if key in extras}
    page_url = next((extras[k] for k in PAGE_URL_FIELDS if k in extras), None)
    from_page = utm_from_url(page_url) if page_url else {}
    email = normalize_email(submission.email) if submission.email else None
    extra_attributes = dict(attributes or {})
    domain = company_domain(email) if email else None
    if domain:
        extra_attributes.setdefault("company_domain", domain)
    merged_utm = {**dict(utm or {}), **from_page, **tags}
    touch = touch_of(
        merged_utm, extras, page_url=page_url, channel=source, form_id=form_id, occurred_at=submitted_at
    )
    return LeadIngestedPayload(
        source=source,
        form_id=form_id,
        email=email,
        first_name=submission.first_name,
        last_name=submission.last_name,
        company=submission.company,
        job_title=submission.job_title,
        phone=normalize_phone(submission.phone, normalize_country(submission.country)),
        country=normalize_country(submission.country),
        company_size=submission.company_size,
        industry=submission.industry,
        state=submission.state,
        language=normalize_language(submission.language),
        product_interest=submission.product_interest,
        consent=submission.consent,
        is_hand_raiser=is_hand_raiser,
        utm=merged_utm,
        attributes={**extras, **extra_attributes},
        submitted_at=submitted_at,
        is_test=is_test,
        external_id=external_id,
        visitor_id=visitor_id,
        latest_touch=touch,
    )
