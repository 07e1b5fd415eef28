"""The snippet a website pastes to embed a form: a few lines of HTML and JavaScript, no build step.

It posts the form with `fetch()` as JSON (so the browser asks ingest first, and only a page on
one of the form's `allowed_origins` may send it and read the answer), then swaps the form for its
thank-you note, which keeps the `lead_id` in `data-lead-id`. The page address goes along as
`page_url`, so the UTM tags of the landing page reach the lead; a filled honeypot is a bot.
"""

from __future__ import annotations

import html
import json

from services.ingest.schemas import FormRead

# Shown when a form maps no fields of its own: the ones a demo request needs.
DEFAULT_INPUTS = ("email", "first_name", "last_name", "company", "job_title")
THANK_YOU = "Thank you! We will be in touch shortly."

_SCRIPT = """<script>
(function () {
  var form = document.getElementById(%(form)s);
  var thanks = document.getElementById(%(thanks)s);
  var error = document.getElementById(%(error)s);
  // One key per fill: a double click or a retry after an error makes one lead, not two.
  var key = self.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now() + "-" + Math.random();
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var fields = Object.fromEntries(new FormData(form));
    fields.page_url = location.href;
    error.hidden = true;
    fetch(form.action, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Idempotency-Key": key},
      body: JSON.stringify(fields)
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error(answer.detail || answer.title);
        thanks.dataset.leadId = answer.lead_id;
        form.hidden = true;
        thanks.hidden = false;
      });
    }).catch(function (problem) {
      error.textContent = "Sorry, the form could not be sent (" + problem.message + ").";
      error.hidden = false;
    });
  });
})();
</script>"""


def embed_snippet(form: FormRead, *, post_url: str) -> str:
    """The HTML to paste into a page on one of `form`'s allowed origins; `post_url` is the
    form's submission address as the browser reaches ingest."""
    ids = {name: f"baton-{name}-{form.id}" for name in ("form", "thanks", "error")}
    incoming = list(form.field_map) or list(DEFAULT_INPUTS)
    inputs = [_input(name, baton_field=form.field_map.get(name, name)) for name in incoming]
    if form.honeypot_field:
        # Hidden from people (and from screen readers); a bot filling every input fills it too.
        inputs.append(
            f'  <input name="{html.escape(form.honeypot_field)}" tabindex="-1" autocomplete="off" '
            'aria-hidden="true" style="position:absolute;left:-10000px">'
        )
    lines = [
        f"<!-- Baton form {html.escape(form.id)}: posts only from {_origins(form)} -->",
        f'<form id="{html.escape(ids["form"])}" action="{html.escape(post_url)}" method="post">',
        *inputs,
        '  <button type="submit">Send</button>',
        "</form>",
        f'<p id="{html.escape(ids["thanks"])}" hidden>{html.escape(THANK_YOU)}</p>',
        f'<p id="{html.escape(ids["error"])}" role="alert" hidden></p>',
        _SCRIPT % {name: json.dumps(value) for name, value in ids.items()},
    ]
    return "\n".join(lines) + "\n"


def _input(name: str, *, baton_field: str) -> str:
    label = baton_field.replace("_", " ").capitalize()
    kind, required = ("email", " required") if baton_field == "email" else ("text", "")
    escaped = html.escape(name)
    return f'  <label>{html.escape(label)} <input name="{escaped}" type="{kind}"{required}></label>'


def _origins(form: FormRead) -> str:
    return ", ".join(form.allowed_origins) if form.allowed_origins else "any origin (set allowed_origins)"
