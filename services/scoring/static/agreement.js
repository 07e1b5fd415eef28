// The signing page: reads a draft agreement, its diff, backtest and feedback's evidence with the
// signer's token, and approves or activates it through scoring's API. Every figure carries
// `data-metric`, so the browser test can hold it to the API.
"use strict";

const TOKEN_KEY = "baton-token";
const tokenBox = document.getElementById("token");
const picker = document.getElementById("version");
const dashboardUrl = document.body.dataset.dashboardUrl;

// A token handed over in the address (`#token=…`) moves to this tab's sessionStorage and out
// of the address bar, so it is not bookmarked or shared by accident.
(function takeTokenFromAddress() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const given = hash.get("token");
  if (!given) return;
  sessionStorage.setItem(TOKEN_KEY, given);
  history.replaceState(null, "", location.pathname + location.search);
})();
tokenBox.value = sessionStorage.getItem(TOKEN_KEY) || "";
if (dashboardUrl) {
  const link = document.getElementById("dashboard-link");
  link.href = dashboardUrl + "/";
  link.hidden = false;
}

const esc = (v) => String(v ?? "–").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const count = (n) => n == null ? "–" : Number(n).toLocaleString("en-US");
const pct = (x) => x == null ? "–" : (100 * x).toFixed(1) + " %";
const mins = (m) => m == null ? "–" : m < 120 ? m.toFixed(0) + " min" : (m / 60).toFixed(1) + " h";
const cell = (metric, text, cls) => ({ metric, text, cls });
const say = (text) => { document.getElementById("status").textContent = text; };

function table(id, head, rows, empty) {
  const td = (c) => typeof c === "object" && c !== null
    ? `<td data-metric="${esc(c.metric)}"${c.cls ? ` class="${c.cls}"` : ""}>${esc(c.text)}</td>`
    : `<td>${esc(c)}</td>`;
  document.getElementById(id).innerHTML = "<tr>" + head.map((h) => `<th>${esc(h)}</th>`).join("") + "</tr>" +
    (rows.length ? rows.map((r) => "<tr>" + r.map(td).join("") + "</tr>").join("")
                 : `<tr><td class="empty" colspan="${head.length}">${esc(empty)}</td></tr>`);
}

class HttpError extends Error {
  constructor(path, status, problem) {
    super(`${path}: ${status}${problem && problem.detail ? " " + problem.detail : problem && problem.title ? " " + problem.title : ""}`);
    this.status = status;
  }
}

async function call(method, path) {
  const response = await fetch(path, { method, headers: { Authorization: "Bearer " + tokenBox.value.trim() } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new HttpError(path, response.status, body);
  return body;
}

function showDraft(draft) {
  const rows = [
    ["version", draft.version], ["status", draft.status], ["written by", draft.created_by],
    ["shadow", draft.shadow ? "scoring live traffic alongside" : "no"],
  ];
  document.getElementById("draft").innerHTML = rows.map(([k, v]) =>
    `<dt>${esc(k)}</dt><dd data-metric="draft.${esc(k.replace(/ /g, "_"))}">${esc(v)}</dd>`).join("");
  const signed = draft.approvals.map((a) => `${a.team}: ${a.approver}`);
  const missing = draft.missing_approvals.length ? "waiting for " + draft.missing_approvals.join(" and ") : "both teams signed";
  document.getElementById("approvals").innerHTML =
    `<span data-metric="approvals">${esc(signed.join(", ") || "no approval yet")}</span> · ` +
    `<span data-metric="missing">${esc(draft.status === "draft" ? missing : draft.status)}</span>`;
  document.getElementById("approve").disabled = draft.status !== "draft";
  document.getElementById("activate").disabled = draft.status !== "draft" || draft.missing_approvals.length > 0;
}

function showPlan(plan) {
  if (!plan) { table("plan", ["", ""], [], "This version carries no revenue goal."); return; }
  const goal = `${Number(plan.revenue_goal.amount).toLocaleString("en-US")} ${plan.revenue_goal.currency}`;
  table("plan", ["", ""], [
    ["period", `${plan.period_start} → ${plan.period_end}`],
    ["sales' revenue goal", cell("plan.revenue_goal", goal)],
    ["won deals needed", cell("plan.won_deals_needed", count(plan.won_deals_needed))],
    ["SQLs needed", cell("plan.sqls_needed", count(plan.sqls_needed))],
    ["marketing's MQL commitment", cell("plan.mql_commitment", count(plan.mql_commitment))],
    ["quality: share sales accepts", cell("plan.acceptance_commitment", pct(plan.acceptance_commitment))],
    ["leads needed", cell("plan.leads_needed", count(plan.leads_needed))],
  ], "");
}

function showDiff(diff) {
  const rows = diff.changed_sections.map((s) => [`section ${s}`, cell(`diff.section.${s}`, "changed")]);
  for (const r of diff.rules) rows.push([`${r.section} ${r.rule_id}`, cell(`diff.rule.${r.rule_id}`, r.change)]);
  table("diff", [`against ${diff.from_version}`, "change"], rows, "No difference.");
}

function showBacktest(report) {
  table("backtest", ["", "active", "draft"], [
    ["MQLs", cell("backtest.active.mqls", count(report.active.mqls)), cell("backtest.draft.mqls", count(report.draft.mqls))],
    ["MQL→SQL", cell("backtest.active.sql_rate", pct(report.active.mql_to_sql_rate)), cell("backtest.draft.sql_rate", pct(report.draft.mql_to_sql_rate))],
    ["precision", pct(report.active.precision), pct(report.draft.precision)],
    ["recall", pct(report.active.recall), pct(report.draft.recall)],
    ["newly qualified / dropped", "", cell("backtest.moved", `+${report.newly_qualified} / −${report.dropped_out}`)],
  ], "");
}

function planned(document, name) {
  const rates = (document && document.plan && document.plan.rates) || {};
  return rates[name] ? rates[name].rate : null;
}

function showEvidence(evidence, draftDocument) {
  if (!evidence.dashboard_configured) {
    table("rates", ["rate"], [], "Feedback is not configured (BATON_DASHBOARD_URL).");
    return;
  }
  const rates = evidence.planning_rates;
  const rows = rates.rates.map((r) => {
    const plan = planned(draftDocument, r.name);
    const outside = plan != null && r.low != null && (plan < r.low || plan > r.high);
    return [r.name, cell(`rates.${r.name}.measured`, `${pct(r.rate)} (${r.reached}/${r.started})`),
      cell(`rates.${r.name}.interval`, r.low == null ? "–" : `${pct(r.low)} – ${pct(r.high)}`),
      cell(`rates.${r.name}.planned`, pct(plan), outside ? "bad" : "")];
  });
  rows.push(["average deal", cell("rates.average_deal", rates.average_deal == null ? "–" :
    `${rates.average_deal.toLocaleString("en-US")} ${rates.currency} (${rates.deals_with_amount} deals)`), "", ""]);
  table("rates", ["rate", "measured", "95 % interval", "this draft plans"], rows, "");
  showScorecards(evidence.scorecards);
  showDrift(evidence.proposals.proposals.find((p) => p.status === "open"));
}

// Scoring opens every proposal as a draft by itself (`revision.proposed`), named after
// the proposal: the panel links to it once it is there.
let listedVersions = [];

function driftVersion(proposal) {
  return `${proposal.agreement_version}`.slice(0, 46) + "-drift-" + proposal.id.replaceAll("-", "").slice(0, 8);
}

function showDrift(proposal) {
  const draft = proposal && listedVersions.find((v) => v.version === driftVersion(proposal) && v.status === "draft");
  const line = document.getElementById("drift-draft-line");
  line.hidden = !draft;
  if (draft) {
    const link = document.getElementById("drift-draft");
    link.textContent = draft.version;
    link.href = "?version=" + encodeURIComponent(draft.version);
  }
  if (!proposal) { table("drift", ["", ""], [], "The measured rates are within the intervals the agreement was planned with."); return; }
  const rows = proposal.drifted.map((d) => [
    d.name,
    cell(`drift.${d.name}.planned`, `${pct(d.planned)}` + (d.planned_low == null ? "" : ` (${pct(d.planned_low)} – ${pct(d.planned_high)})`)),
    cell(`drift.${d.name}.measured`, `${pct(d.measured)} (${pct(d.low)} – ${pct(d.high)}, ${d.reached}/${d.started})`, "bad"),
  ]);
  rows.push(["MQL commitment", cell("drift.mql_commitment_before", count(proposal.mql_commitment_before)),
    cell("drift.mql_commitment_after", count(proposal.mql_commitment_after))]);
  table("drift", [`agreement ${proposal.agreement_version}`, "planned", "measured"], rows, "");
}

function showScorecards(cards) {
  document.getElementById("scorecards-version").innerHTML =
    `agreement <b data-metric="scorecards.version">${esc(cards.agreement_version || "none signed")}</b>, ` +
    `${esc(cards.period_start)} → ${esc(cards.period_end)}`;
  const m = cards.marketing;
  table("marketing-card", ["marketing", "delivered", "committed", "expected so far", "forecast", "pace", "accepted", "quality commitment"], [[
    "MQLs",
    cell("marketing.delivered", count(m.delivered)),
    cell("marketing.commitment", count(m.commitment)),
    cell("marketing.expected", count(m.expected_to_date)),
    cell("marketing.forecast", count(m.forecast)),
    cell("marketing.pace", m.pace ? m.pace.replace("_", " ") : "–", m.pace === "on_track" ? "ok" : m.pace ? "bad" : ""),
    cell("marketing.acceptance", pct(m.acceptance_rate)),
    cell("marketing.acceptance_commitment", pct(m.acceptance_commitment)),
  ]], "");
  const within = (x, unit) => x.commitment == null ? "–" : `${pct(x.share_within)} within ${x.commitment}${unit}`;
  table("sales-card", ["sales tier", "leads", "accept or reject", "p50", "first real contact", "p50", "attempts", "p50"],
    cards.sales.map((t) => [
      t.tier, cell(`sales.${t.tier}.leads`, count(t.leads)),
      cell(`sales.${t.tier}.accept`, within(t.accept, " min")), mins(t.accept.p50),
      cell(`sales.${t.tier}.contact`, within(t.contact, " min")), mins(t.contact.p50),
      cell(`sales.${t.tier}.attempts`, within(t.attempts, "+")), t.attempts.p50 == null ? "–" : String(t.attempts.p50),
    ]), "No tier in the agreement yet.");
  const contact = (week) => {
    const measured = week.sales.reduce((n, t) => n + t.contact.measured, 0);
    const within = week.sales.reduce((n, t) => n + t.contact.within, 0);
    return measured ? pct(within / measured) : "–";
  };
  table("weeks", ["ISO week", "MQLs", "committed", "pace", "accepted", "first contact in time"], cards.weeks.map((w) => [
    w.week,
    cell(`weeks.${w.week}.delivered`, count(w.marketing.delivered)),
    cell(`weeks.${w.week}.commitment`, count(w.marketing.commitment)),
    cell(`weeks.${w.week}.pace`, w.marketing.pace ? w.marketing.pace.replace("_", " ") : "–",
      w.marketing.pace === "on_track" ? "ok" : w.marketing.pace ? "bad" : ""),
    pct(w.marketing.acceptance_rate),
    contact(w),
  ]), "");
}

async function loadVersions() {
  const versions = listedVersions = await call("GET", "/v1/rubrics");
  const wanted = picker.value || new URLSearchParams(location.search).get("version");
  const shown = versions.filter((v) => v.status === "draft" || v.status === "active");
  picker.innerHTML = shown.map((v) => `<option value="${esc(v.version)}">${esc(v.version)} (${esc(v.status)})</option>`).join("");
  if (shown.some((v) => v.version === wanted)) picker.value = wanted;
  return picker.value;
}

async function load() {
  if (!tokenBox.value.trim()) { say("enter a token to load the drafts"); return; }
  say("loading…");
  try {
    const version = await loadVersions();
    if (!version) { say("no draft to sign"); return; }
    const path = `/v1/rubrics/${encodeURIComponent(version)}`;
    const draft = await call("GET", path);
    showDraft(draft);
    showPlan(draft.plan);
    if (draft.status === "draft") {
      showDiff(await call("GET", path + "/diff"));
      showBacktest(await call("POST", path + "/backtest"));
    }
    showEvidence(await call("GET", "/v1/agreement/evidence"), draft.document);
    say(`loaded ${version} at ${new Date().toISOString().slice(11, 19)} UTC`);
  } catch (error) {
    say(error.message);
  }
}

async function act(suffix, done) {
  try {
    await call("POST", `/v1/rubrics/${encodeURIComponent(picker.value)}/${suffix}`);
    await load();
    say(done);
  } catch (error) {
    say(error.message);
  }
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenBox.value.trim());
  load();
});
picker.addEventListener("change", load);
document.getElementById("approve").addEventListener("click", () => act("approvals", "approved for your team"));
document.getElementById("activate").addEventListener("click", () => act("activate", `${picker.value} is active`));
// The scorecards follow the agreement feedback learns from the activation event: re-read them.
setInterval(() => { if (tokenBox.value.trim()) call("GET", "/v1/agreement/evidence").then((e) => e.scorecards && showScorecards(e.scorecards)).catch(() => {}); }, 3000);
load();
