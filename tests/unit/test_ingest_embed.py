"""The embed snippet: what docs/embed.md shows is what ingest serves, and what a form's
configuration puts in it is escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.ingest.embed import embed_snippet
from services.ingest.schemas import FormRead

DOC = Path(__file__).parents[2] / "docs" / "embed.md"
POST_URL = "https://ingest.example.com/v1/forms/demo-request/submissions"


def form(**config: Any) -> FormRead:
    now = datetime.now(UTC)
    return FormRead.model_validate(
        {"id": "demo-request", "name": "Demo", "created_at": now, "updated_at": now, **config}
    )


def test_the_documented_snippet_is_the_one_served() -> None:
    snippet = embed_snippet(form(allowed_origins=["https://www.example.com"]), post_url=POST_URL)
    assert f"```html\n{snippet}```" in DOC.read_text(), "docs/embed.md shows an old snippet"


def test_the_inputs_are_the_fields_the_form_maps() -> None:
    snippet = embed_snippet(form(field_map={"work_email": "email", "org": "company"}), post_url=POST_URL)
    assert '<label>Email <input name="work_email" type="email" required></label>' in snippet
    assert '<label>Company <input name="org" type="text"></label>' in snippet
    assert 'name="first_name"' not in snippet
    assert "any origin (set allowed_origins)" in snippet


def test_configuration_cannot_inject_markup() -> None:
    snippet = embed_snippet(
        form(field_map={'"><script>alert(1)</script>': "company"}, honeypot_field="<b>"),
        post_url=POST_URL + '"><img src=x>',
    )
    assert "<script>alert(1)" not in snippet
    assert "<img src=x>" not in snippet
    assert 'name="&lt;b&gt;"' in snippet
