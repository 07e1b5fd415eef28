// The rep's inbox: reads the caller's queue (a manager: the team's) with their token, shows each
// lead's brief, and acts through routing's API. No data is rendered by the server.
"use strict";

const TOKEN_KEY = "baton-token";
const CHOICES = JSON.parse(document.body.dataset.choices);
// The statuses a rep still works on: new, accepted, and sales-qualified until won or lost.
const WORKING = ["open", "accepted", "sql"];
const tokenBox = document.getElementById("token");

// A token handed over in the address (`#token=…`) moves to this tab's sessionStorage and out of
// the address bar, so it is not bookmarked or shared by accident.
(function takeTokenFromAddress() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const given = hash.get("token");
  if (!given) return;
  sessionStorage.setItem(TOKEN_KEY, given);
  history.replaceState(null, "", location.pathname + location.search);
})();
tokenBox.value = sessionStorage.getItem(TOKEN_KEY) || "";

function say(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

class HttpError extends Error {
  constructor(path, status, problem) {
    super((problem && (problem.detail || problem.title)) || `${path}: ${status}`);
    this.status = status;
  }
}

async function call(method, path, body) {
  const headers = { Authorization: "Bearer " + tokenBox.value.trim() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new HttpError(path, response.status, answer);
  return answer;
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const minutes = (iso) => new Date(iso).toISOString().slice(0, 16).replace("T", " ");
const signed = (points) => (points > 0 ? "+" : "") + points;

function who(lead) {
  const name = [lead.first_name, lead.last_name].filter(Boolean).join(" ") || lead.email || "a lead";
  const title = lead.job_title ? ", " + lead.job_title : "";
  return name + title + (lead.company ? " at " + lead.company : "");
}

function briefOf(brief) {
  const parts = [];
  if (!brief) return parts;
  if (brief.why.length) {
    parts.push(el("h3", {}, "Why it qualified"),
      el("ul", { class: "why" }, ...brief.why.map((r) => el("li", {}, `${r.reason} (${signed(r.points)})`))));
  }
  const answers = Object.entries(brief.form_answers);
  if (answers.length) {
    parts.push(el("h3", {}, "Form answers"),
      el("dl", { class: "answers" }, ...answers.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])));
  }
  if (brief.timeline.length) {
    parts.push(el("h3", {}, "What it did"), el("ul", { class: "timeline" }, ...brief.timeline.map((a) =>
      el("li", {}, `${minutes(a.occurred_at)} ${a.activity_type}${a.subject ? " " + a.subject : ""}` +
        (a.campaign ? ` (campaign ${a.campaign})` : "")))));
  }
  return parts;
}

function option(value, label) { return el("option", { value }, label || value); }

function actionsFor(item) {
  const path = `/v1/assignments/${item.id}`;
  const forms = [];
  if (item.status === "open") {
    const accept = el("button", { type: "button", "data-action": "accept" }, "Accept");
    accept.addEventListener("click", () => act(() => call("POST", `${path}/accept`)));
    const decline = el("form", { class: "act", "data-action": "decline" },
      el("input", { name: "reason", placeholder: "why you cannot take it", required: "" }),
      el("button", { type: "submit" }, "Decline"));
    decline.addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => call("POST", `${path}/decline`, { reason: decline.elements.reason.value }));
    });
    forms.push(el("div", { class: "act" }, accept), decline);
  }
  const touch = el("form", { class: "act", "data-action": "touch" },
    el("select", { name: "channel" }, ...CHOICES.channels.map((c) => option(c))),
    el("input", { name: "note", placeholder: "note (optional)" }),
    el("button", { type: "submit" }, "Log a touch"));
  touch.addEventListener("submit", (event) => {
    event.preventDefault();
    const note = touch.elements.note.value.trim();
    act(() => call("POST", `${path}/touches`, { channel: touch.elements.channel.value, note: note || null }));
  });
  forms.push(touch);
  const outcomes = (CHOICES.next[item.status] || []).filter((o) => o !== "accepted");
  if (outcomes.length) {
    const reason = el("select", { name: "reason_code" });
    const disposition = el("form", { class: "act", "data-action": "disposition" },
      el("select", { name: "outcome" }, ...outcomes.map((o) => option(o))), reason,
      el("input", { name: "note", placeholder: "note" }),
      el("input", { name: "amount", type: "number", min: "0", step: "any", placeholder: "amount (won)" }),
      el("button", { type: "submit" }, "Record outcome"));
    const reasons = () => {
      const codes = CHOICES[disposition.elements.outcome.value] || {};
      reason.replaceChildren(option("", "reason…"), ...Object.entries(codes).map(([c, label]) => option(c, label)));
      reason.hidden = !Object.keys(codes).length;
    };
    disposition.elements.outcome.addEventListener("change", reasons);
    reasons();
    disposition.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = disposition.elements;
      const body = { outcome: f.outcome.value };
      if (f.reason_code.value) body.reason_code = f.reason_code.value;
      if (f.note.value.trim()) body.note = f.note.value.trim();
      if (f.outcome.value === "won" && f.amount.value) body.amount = f.amount.value;
      act(() => call("POST", `${path}/disposition`, body));
    });
    forms.push(disposition);
  }
  return forms;
}

function card(item, reps) {
  const brief = item.brief;
  const overdue = !item.first_touch_at && new Date(item.sla_due_at) < new Date();
  const facts = [
    el("span", { class: "status", "data-field": "status" }, item.status),
    ` · tier ${item.sla_tier}`,
    brief && brief.grade ? ` · grade ${brief.grade}` : null,
    brief && brief.score !== null ? ` · score ${brief.score}` : null,
    ` · first touch due ${new Date(item.sla_due_at).toLocaleString()}`,
    item.first_touch_at ? " (touched)" : null,
    reps[item.rep_id] ? ` · ${reps[item.rep_id]}` : null,
  ];
  return el("article", { "data-lead": item.lead_id, "data-assignment": item.id, class: overdue ? "overdue" : "" },
    el("h2", {}, who(item.lead)), el("p", { class: "meta" }, ...facts), ...briefOf(brief), ...actionsFor(item));
}

async function act(request) {
  try {
    await request();
    await refresh();
  } catch (error) {
    say(String(error.message || error), true);
  }
}

async function refresh() {
  if (!tokenBox.value.trim()) {
    say("enter a token to load your leads");
    return;
  }
  try {
    const query = WORKING.map((s) => "status=" + s).join("&");
    const [queue, team] = await Promise.all([call("GET", "/v1/reps/me/queue?" + query), call("GET", "/v1/reps")]);
    const reps = Object.fromEntries(team.map((r) => [r.id, r.name]));
    const main = document.getElementById("leads");
    main.replaceChildren(...(queue.length ? queue.map((item) => card(item, reps))
      : [el("p", { class: "empty" }, "No open leads: nothing waits for you.")]));
    say(`${queue.length} open lead(s), updated ${new Date().toISOString().slice(11, 19)} UTC`);
  } catch (error) {
    say(error instanceof HttpError && [401, 403].includes(error.status)
      ? "this token may not read a queue (a rep's or a manager's)" : String(error.message || error), true);
  }
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenBox.value.trim());
  refresh();
});
refresh();
setInterval(() => { if (!document.hidden && !document.activeElement.closest("form.act")) refresh(); }, 15000);
