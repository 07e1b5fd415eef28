"""The rubric language's reference page (`docs/rubric.md`), written from the rubric's models.

Everything the page states about sections, keys, operators and fields is read from
`Rubric.model_json_schema()`, the same schema `GET /v1/rubric/schema` publishes, and the worked
example is parsed and scored by the real `Rubric`: the page cannot describe a language the code
does not accept. A test holds the committed page equal to `rubric_reference()`.
"""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from services.scoring.conditions import (
    ACTIVITY_FIELDS,
    ACTIVITY_PREFIXES,
    PROFILE_FIELDS,
    PROFILE_PREFIXES,
    ProfileCondition,
)
from services.scoring.evaluation import Activity, Profile
from services.scoring.rubric import Rubric

Schema = dict[str, Any]

# The section each top-level key holds, in the order a rubric is usually read.
_SECTIONS = ("stages", "fit", "negative", "engagement", "grades", "qualification", "sla")

# How sections combine: the rules the rubric's validators and `CompiledRubric` enforce, which a
# JSON Schema cannot express.
_SECTION_RULES = {
    "fit": "A lead's fit score is the sum of the points of every fit and negative rule it matches.",
    "negative": "A matching rule with `disqualify: true` bars the lead from qualifying, whatever its score.",
    "engagement": "Rule ids are unique across `fit`, `negative` and `engagement`.",
    "grades": (
        "Bands are listed best first with strictly decreasing `min_fit`; the last has no `min_fit`"
        " and catches every lead. A lead's grade is the first band whose `min_fit` its fit score reaches."
    ),
    "qualification": (
        "A lead that is not disqualified qualifies as a hand-raiser when it submits one of"
        " `hand_raiser_forms`; otherwise by threshold, when its grade is at least `grade_at_least` and"
        " its engagement reaches `min_engagement` for some `mql` criterion, or its total score reaches"
        " `min_total`. At least one of the three must be given, and every grade named must be a band."
    ),
    "sla": "Every grade has exactly one tier.",
}

EXAMPLE_RUBRIC = """\
version: "2026.12-example"
name: Example rubric
stages:
  - {id: mql, name: Marketing qualified lead, definition: Meets the qualification rule.}
fit:
  - id: title-executive
    description: Executive or vice-president title
    when: {field: job_title, op: regex, value: '\\b(chief|vp|vice president|founder)\\b'}
    points: 25
  - id: company-size-mid-market
    description: Company of 200 to 4,999 employees
    when: {field: company_size, op: range, min: 200, max: 4999}
    points: 20
  - id: software-in-europe
    description: A software company in a country where we sell directly
    when:
      - {field: industry, op: in, value: [software, saas]}
      - {field: country, op: in, value: [GB, IE, DE, FR, NL]}
    points: 10
negative:
  - id: free-mail
    description: Personal free-mail address
    when: {field: email_domain, op: in, value: [gmail.com, yahoo.com, outlook.com]}
    points: -20
  - id: competitor
    description: Works for a competitor
    when: {field: email_domain, op: contains, value: rival}
    points: -100
    disqualify: true
engagement:
  - id: pricing-page
    description: Viewed the pricing page
    activity: page_view
    when: {field: page_path, op: contains, value: /pricing}
    points: 5
    cap: 15
    half_life_days: 14
  - id: demo-request
    description: Asked for a demo
    activity: form_submission
    when: {field: form_id, op: in, value: [demo-request]}
    points: 30
grades:
  - {grade: A, min_fit: 40}
  - {grade: B, min_fit: 20}
  - {grade: C}
qualification:
  mql:
    - {grade_at_least: A, min_engagement: 0}
    - {grade_at_least: B, min_engagement: 20}
  min_total: 80
  hand_raiser_forms: [contact-sales]
sla:
  - {grade: A, tier: hot, minutes: 15}
  - {grade: B, tier: warm, minutes: 240}
  - {grade: C, tier: standard, minutes: 1440}
"""

# Noon UTC on a fixed day: the example's decayed points must not change with the day it is built.
_EXAMPLE_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def rubric_reference() -> str:
    """The markdown reference page of the rubric language."""
    schema = Rubric.model_json_schema()
    defs: dict[str, Schema] = schema["$defs"]
    parts = [_introduction(), _document(schema, defs), _sections(schema, defs)]
    parts += [_conditions(defs), _fields(defs), _worked_example()]
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


def _introduction() -> str:
    return """\
# The rubric language

<!-- Generated from the rubric's models by services/scoring/rubric_reference.py; edit those, not this page. -->

A rubric is the versioned definition of a qualified lead that marketing and sales both sign. It is
a YAML (or JSON) document; scoring validates it against the models this page is generated from,
and reports every error with its path at once, so a rubric that loads means what it says.

- `GET /v1/rubric/schema` (scoring) returns the rubric's JSON Schema: point your editor at it.
- `GET /v1/rubric` returns the active rubric; `services/scoring/rubrics/starter.yaml` is the
  starter rubric, a fuller example than the one at the end of this page.
- A rubric is proposed as a draft, compared with the active one (diff and backtest), approved by
  both teams and then activated: see the README."""


def _document(schema: Schema, defs: dict[str, Schema]) -> str:
    lines = ["## The document", "", _describe(Rubric), "", *_key_table(schema, defs)]
    return "\n".join(lines)


def _sections(schema: Schema, defs: dict[str, Schema]) -> str:
    out = ["## Sections"]
    for key in _SECTIONS:
        prop = schema["properties"][key]
        model = _ref_name(prop.get("items", prop))
        if model is None:
            continue
        definition = defs[model]
        out += ["", f"### `{key}`", ""]
        if definition.get("description"):
            out += [_one_paragraph(definition["description"]), ""]
        out += _key_table(definition, defs)
        if key in _SECTION_RULES:
            out += ["", _SECTION_RULES[key]]
        for nested_key, nested in definition["properties"].items():
            nested_model = _ref_name(nested.get("items", nested))
            if nested_model is not None and "properties" in defs[nested_model]:
                nested_def = defs[nested_model]
                out += ["", f"#### `{key}.{nested_key}`", ""]
                if nested_def.get("description"):
                    out += [_one_paragraph(nested_def["description"]), ""]
                out += _key_table(nested_def, defs)
    return "\n".join(out)


def _conditions(defs: dict[str, Schema]) -> str:
    out = [
        "## Conditions",
        "",
        "A rule's `when` is a list of conditions that must all hold; a rule with one condition may",
        "give it as a mapping instead of a one-item list. Every condition names a `field`, an `op`",
        "and the operator's arguments. Text is compared case-insensitively after trimming; a field",
        "with no value matches no operator but `exists: false`.",
        "",
        "| `op` | arguments | matches when |",
        "| --- | --- | --- |",
    ]
    for condition in get_args(get_args(ProfileCondition)[0]):
        definition = defs[condition.__name__]
        op = definition["properties"]["op"]["const"]
        arguments = [
            f"`{key}`: {_type(prop, defs)}{'' if key in definition.get('required', []) else ' (optional)'}"
            for key, prop in definition["properties"].items()
            if key not in {"field", "op"}
        ]
        # The concrete classes only bind the field type; the operator's docstring is on its base.
        meaning = _one_paragraph(inspect.getdoc(condition) or "")
        out.append(f"| `{op}` | {'; '.join(arguments)} | {meaning} |")
    return "\n".join(out)


def _fields(defs: dict[str, Schema]) -> str:
    activity_types = defs["EngagementRule"]["properties"]["activity"]["enum"]
    out = [
        "## Fields",
        "",
        "### Lead fields (in `fit` and `negative` rules)",
        "",
        ", ".join(f"`{f}`" for f in sorted(PROFILE_FIELDS))
        + ", and "
        + ", ".join(f"`{p}<name>`" for p in PROFILE_PREFIXES)
        + " for a form's extra attributes and the lead's UTM tags. `email_domain` is the part of the"
        " email after the `@`.",
        "",
        "### Activity fields (in `engagement` rules)",
        "",
        ", ".join(f"`{f}`" for f in sorted(ACTIVITY_FIELDS))
        + ", and "
        + ", ".join(f"`{p}<name>`" for p in ACTIVITY_PREFIXES)
        + " for the activity's UTM tags and other properties.",
        "",
        "### Activity types (an engagement rule's `activity`)",
        "",
        ", ".join(f"`{t}`" for t in activity_types) + ".",
        "",
        "A field name outside these lists is rejected when the rubric is loaded, so a misspelt field",
        "fails loudly instead of never matching.",
    ]
    return "\n".join(out)


def _worked_example() -> str:
    rubric = Rubric.from_yaml(EXAMPLE_RUBRIC)
    profile = Profile(
        email="ada@analytical.example",
        job_title="VP Engineering",
        company_size=250,
        industry="Software",
        country="GB",
    )
    activities = [
        Activity(
            type="page_view", occurred_at=_EXAMPLE_NOW - timedelta(days=14), properties=_page("/pricing")
        ),
        Activity(
            type="page_view", occurred_at=_EXAMPLE_NOW - timedelta(hours=1), properties=_page("/pricing")
        ),
    ]
    result = rubric.evaluate(profile, activities, now=_EXAMPLE_NOW)
    fired = ["| rule | kind | points |", "| --- | --- | --- |"]
    fired += [f"| `{r.rule_id}` | {r.kind} | {r.points:g} |" for r in result.fired_rules]
    lead = profile.model_dump(exclude_none=True, exclude_defaults=True)
    return "\n".join(
        [
            "## A worked example",
            "",
            "```yaml",
            EXAMPLE_RUBRIC.rstrip("\n"),
            "```",
            "",
            f"A lead `{json.dumps(lead)}` who viewed `/pricing` 14 days and one hour before",
            f"{_EXAMPLE_NOW:%Y-%m-%d %H:%M} UTC scores like this:",
            "",
            *fired,
            "",
            f"Fit {result.fit_score:g} (so grade {result.grade}, SLA tier {result.sla_tier},"
            f" {result.sla_minutes} minutes), engagement {result.engagement_score:g} (the older view"
            f" counts half: its half-life is 14 days), total {result.score:g}:"
            f" {'an MQL' if result.is_mql else 'not an MQL'}"
            + (f" ({result.qualification_reason})." if result.qualification_reason else "."),
        ]
    )


def _page(path: str) -> dict[str, str]:
    return {"page_path": path}


def _key_table(definition: Schema, defs: dict[str, Schema]) -> list[str]:
    required = set(definition.get("required", []))
    rows = ["| key | type | required | meaning |", "| --- | --- | --- | --- |"]
    for key, prop in definition["properties"].items():
        meaning = prop.get("description") or _ref_description(prop, defs)
        if "default" in prop and key not in required and prop["default"] not in (None, [], ""):
            meaning = f"{meaning} Default: `{json.dumps(prop['default'])}`.".strip()
        rows.append(f"| `{key}` | {_type(prop, defs)} | {'yes' if key in required else 'no'} | {meaning} |")
    return rows


def _type(prop: Schema, defs: dict[str, Schema]) -> str:
    """A short human reading of a JSON Schema type, with its constraints."""
    if "$ref" in prop:
        name = _ref_name(prop)
        return "condition" if name and name in _all_conditions(defs) else f"{name} (see below)"
    if "oneOf" in prop or "discriminator" in prop:
        return "condition"
    if "anyOf" in prop:
        kinds = [_type(option, defs) for option in prop["anyOf"] if option.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    kind: str = prop.get("type", "any")
    if kind == "array":
        text = f"list of {_type(prop.get('items', {}), defs)}"
        if "minItems" in prop:
            text += f" (at least {prop['minItems']})"
        return text
    names = {"string": "text", "number": "number", "integer": "whole number", "boolean": "true/false"}
    text = names.get(kind, kind)
    bounds = [
        f"{symbol} {prop[key]:g}"
        for key, symbol in (
            ("exclusiveMinimum", ">"),
            ("minimum", "≥"),
            ("exclusiveMaximum", "<"),
            ("maximum", "≤"),
        )
        if key in prop
    ]
    if "maxLength" in prop:
        bounds.append(f"at most {prop['maxLength']} characters")
    if "pattern" in prop:
        bounds.append(f"matching `{prop['pattern']}`")
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _ref_name(prop: Schema) -> str | None:
    ref = prop.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _ref_description(prop: Schema, defs: dict[str, Schema]) -> str:
    name = _ref_name(prop.get("items", prop))
    return _one_paragraph(defs[name].get("description", "")) if name else ""


def _condition_names(defs: dict[str, Schema], kind: str) -> list[str]:
    # The union's members, in the order the models declare them.
    return [name for name in defs if name.startswith(kind) and "op" in defs[name].get("properties", {})]


def _all_conditions(defs: dict[str, Schema]) -> set[str]:
    return set(_condition_names(defs, "Profile")) | set(_condition_names(defs, "Activity"))


def _describe(model: type[Rubric]) -> str:
    return _one_paragraph(inspect.getdoc(model) or "")


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())
