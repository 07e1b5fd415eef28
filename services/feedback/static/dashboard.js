// The shared dashboard: reads feedback's JSON reports with the reader's token and polls them.
// Every number shown carries `data-metric`, so the browser test can hold it to the API.
"use strict";

const TOKEN_KEY = "baton-token";
const GOAL_KEY = "baton-revenue-goal";
const tokenBox = document.getElementById("token");
const refreshSeconds = Number(document.body.dataset.refreshSeconds) || 15;

// A token handed over in the address (`#token=…`, or the older `?token=…`) moves to this tab's
// sessionStorage and out of the address bar, so it is not bookmarked or shared by accident.
(function takeTokenFromAddress() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const given = hash.get("token") || query.get("token");
  if (!given) return;
  sessionStorage.setItem(TOKEN_KEY, given);
  query.delete("token");
  history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
})();
tokenBox.value = sessionStorage.getItem(TOKEN_KEY) || "";

const count = (n) => n == null ? "–" : Number(n).toLocaleString("en-US");
const pct = (x) => x == null ? "–" : (100 * x).toFixed(1) + " %";
const money = (x) => x == null ? "–" : Number(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const secs = (s) => s == null ? "–" : s < 120 ? s.toFixed(1) + " s" : s < 7200 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h";
const esc = (v) => String(v ?? "(none)").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const cell = (metric, text, cls) => ({ metric, text, cls });
const { barChart } = window.BatonCharts;

function tableRows(head, rows, empty) {
  const td = (c) => typeof c === "object" && c !== null
    ? `<td data-metric="${esc(c.metric)}"${c.cls ? ` class="${c.cls}"` : ""}>${esc(c.text)}</td>`
    : `<td>${esc(c)}</td>`;
  return "<tr>" + head.map((h) => `<th>${esc(h)}</th>`).join("") + "</tr>" +
    (rows.length ? rows.map((r) => "<tr>" + r.map(td).join("") + "</tr>").join("")
                 : `<tr><td class="empty" colspan="${head.length}">${esc(empty)}</td></tr>`);
}

function table(id, head, rows, empty) {
  document.getElementById(id).innerHTML = tableRows(head, rows, empty);
}

const utc = (iso) => new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC";
const points = (p) => p == null ? "–" : String(p);

function say(text) { document.getElementById("status").textContent = text; }

class HttpError extends Error {
  constructor(path, status, problem) {
    super(`${path}: ${status}${problem && problem.title ? " " + problem.title : ""}`);
    this.status = status;
    this.problem = problem;
  }
}

async function get(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + tokenBox.value.trim() } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new HttpError(path, response.status, body);
  return body;
}

function showFunnel(funnel) {
  const stages = funnel.stages;
  barChart(document.getElementById("funnel-chart"),
    stages.map((s) => ({ label: s.stage, values: [s.count] })), { format: count, title: "leads per stage" });
  const into = Object.fromEntries(funnel.conversions.map((c) => [c.to, c]));
  table("funnel", ["stage", "leads", "conversion", "median time"], stages.map((s) => [
    s.stage,
    cell(`funnel.${s.stage}.count`, count(s.count)),
    cell(`funnel.${s.stage}.rate`, pct(into[s.stage] ? into[s.stage].rate : null)),
    cell(`funnel.${s.stage}.median`, secs(into[s.stage] ? into[s.stage].median_seconds : null)),
  ]), "");
}

function showRubricVersions(groups) {
  table("versions", ["rubric version", "leads", "MQLs", "SQLs", "won", "MQL→SQL"], groups.groups.map((g) => {
    const n = Object.fromEntries(g.stages.map((s) => [s.stage, s.count]));
    const k = g.key ?? "none";
    return [g.key, cell(`versions.${k}.ingested`, count(n.ingested)), cell(`versions.${k}.mql`, count(n.mql)),
      cell(`versions.${k}.sql`, count(n.sql)), cell(`versions.${k}.won`, count(n.won)),
      cell(`versions.${k}.mql_to_sql`, pct(n.mql ? n.sql / n.mql : null))];
  }), "No lead yet.");
}

function showSpeed(speed) {
  barChart(document.getElementById("speed-chart"),
    speed.rows.map((r) => ({ label: r.key ?? "(none)", values: [r.system.p50_s, r.human.p50_s] })),
    { series: ["form → assigned (p50)", "assigned → first touch (p50)"], format: secs });
  table("speed", ["tier", "assigned", "form → assigned", "touched", "assigned → first touch"], speed.rows.map((r) => {
    const k = r.key ?? "none";
    return [r.key, cell(`speed.${k}.system.n`, count(r.system.n)),
      cell(`speed.${k}.system`, `${secs(r.system.p50_s)} / ${secs(r.system.p95_s)}`),
      cell(`speed.${k}.human.n`, count(r.human.n)),
      cell(`speed.${k}.human`, `${secs(r.human.p50_s)} / ${secs(r.human.p95_s)}`)];
  }), "No lead has been assigned yet: speed to lead starts when routing assigns an MQL.");
}

function showSla(sla) {
  barChart(document.getElementById("sla-chart"),
    sla.rows.map((r) => ({ label: r.key ?? "(none)", values: [r.share_met == null ? null : 100 * r.share_met] })),
    { format: (v) => v == null ? "–" : v.toFixed(1) + " %", target: 100 });
  table("sla", ["tier", "met", "missed", "pending", "share met"], sla.rows.map((r) => {
    const k = r.key ?? "none";
    return [r.key, cell(`sla.${k}.met`, count(r.met)), cell(`sla.${k}.missed`, count(r.missed)),
      cell(`sla.${k}.pending`, count(r.pending)),
      cell(`sla.${k}.share`, pct(r.share_met), r.share_met >= 0.9 ? "ok" : "bad")];
  }), "No SLA clock has run yet: a clock starts when a lead is assigned to a rep.");
}

function showDelivery(delivery) {
  barChart(document.getElementById("delivery-chart"),
    delivery.months.map((m) => ({ label: m.month, values: [m.mqls] })),
    { format: count, target: delivery.monthly_target || 0 });
  table("delivery", ["month (UTC)", "MQLs", "target", "of target"], delivery.months.map((m) => [
    m.month, cell(`delivery.${m.month}.mqls`, count(m.mqls)), count(m.target),
    cell(`delivery.${m.month}.share`, pct(m.share_of_target))]),
    "No MQL yet: marketing's count starts with the first lead the rubric qualifies.");
  if (!delivery.monthly_target) {
    document.getElementById("delivery").insertAdjacentHTML("beforeend",
      `<tr><td class="empty" colspan="4">No monthly target agreed (set BATON_MQL_MONTHLY_TARGET).</td></tr>`);
  }
}

function showReasons(reasons) {
  barChart(document.getElementById("rejected-chart"),
    reasons.rejected.map((r) => ({ label: r.reason, values: [r.count] })), { format: count });
  const pareto = (kind) => (r) => [r.reason, cell(`${kind}.${r.reason}.count`, count(r.count)),
    cell(`${kind}.${r.reason}.share`, pct(r.share)), pct(r.cumulative_share)];
  table("rejected", ["rejected because", "leads", "share", "cumulative"], reasons.rejected.map(pareto("rejected")),
    "No lead rejected yet.");
  table("lost", ["lost because", "deals", "share", "cumulative"], reasons.lost.map(pareto("lost")),
    "No deal lost yet.");
}

function showRevenue(revenue) {
  barChart(document.getElementById("revenue-chart"),
    revenue.rows.map((r) => ({ label: r.key ?? "(none)", values: [r.first_touch, r.last_touch, r.linear] })),
    { series: ["first touch", "last touch", "linear"], format: money });
  const rows = revenue.rows.map((r) => {
    const k = r.key ?? "none";
    return [r.key, cell(`revenue.${k}.deals`, count(r.deals)), cell(`revenue.${k}.first`, money(r.first_touch)),
      cell(`revenue.${k}.last`, money(r.last_touch)), cell(`revenue.${k}.linear`, money(r.linear))];
  });
  if (rows.length) rows.push(["all sources", cell("revenue.total.deals", count(revenue.deals)), money(revenue.revenue),
    money(revenue.revenue), cell("revenue.total", money(revenue.revenue))]);
  table("revenue", ["source", "deals", "first touch", "last touch", "linear"], rows,
    "No deal won yet: revenue appears when a rep marks a lead won with an amount.");
}

function showProposals(reviews) {
  const el = document.getElementById("proposals");
  if (reviews.error) {
    const problem = reviews.error.problem;
    el.innerHTML = `<p class="empty">The drafts cannot be shown right now: ${esc((problem && problem.detail) || reviews.error.message)}.</p>`;
    return;
  }
  if (!reviews.scoring_configured) {
    el.innerHTML = `<p class="empty">Scoring's address is not configured (BATON_SCORING_URL), so its drafts cannot be shown here.</p>`;
    return;
  }
  if (!reviews.drafts.length) {
    el.innerHTML = `<p class="empty">No rubric proposal awaits approval. Feedback proposes one from outcomes (POST /v1/proposals); scoring keeps it as a draft until marketing and sales both approve.</p>`;
    return;
  }
  el.innerHTML = reviews.drafts.map((d) => {
    const signed = d.approvals.map((a) => `${a.team} (${a.approver}, ${utc(a.approved_at)})`).join(", ") || "nobody yet";
    const rows = d.changes.map((c) => {
      const m = `proposal.${d.version}.${c.rule_id}`;
      const interval = c.interval ? `${pct(c.interval.low)} – ${pct(c.interval.high)}` : "–";
      return [c.rule_id, cell(`${m}.points`, `${points(c.points_before)} → ${points(c.points_after)}`),
        cell(`${m}.leads`, count(c.leads)), cell(`${m}.rate`, pct(c.rate)), interval,
        cell(`${m}.lift`, c.lift == null ? "–" : "×" + c.lift.toFixed(2))];
    });
    return `<h3>${esc(d.version)}</h3><p class="detail">Drafted by ${esc(d.created_by)} on ${utc(d.created_at)}. ` +
      `Approved by ${esc(signed)}; awaiting <strong>${esc(d.missing_approvals.join(" and "))}</strong>. ` +
      `Evidence: <span data-metric="proposal.${esc(d.version)}.outcomes">${count(d.outcomes)}</span> judged MQLs, ${count(d.sql)} of them SQLs.</p>` +
      `<table>${tableRows(["rule", "points", "judged MQLs", "MQL→SQL", "95 % interval", "lift"], rows,
        "The draft changes no rule's points (only grades, qualification or SLA tiers).")}</table>`;
  }).join("");
}

async function showReverseFunnel() {
  const goal = document.getElementById("revenue-goal").value;
  const months = document.getElementById("months").value;
  const detail = document.getElementById("reverse-detail");
  const query = new URLSearchParams({ revenue_goal: goal, months });
  try {
    const plan = await get("/v1/reports/reverse-funnel?" + query);
    const names = { won: "won deals", sql: "SQLs", mql: "MQLs", ingested: "leads" };
    barChart(document.getElementById("reverse-chart"),
      [...plan.needs].reverse().map((n) => ({ label: names[n.stage] + " a month", values: [n.per_month] })),
      { format: count, title: "needed each month" });
    table("reverse", ["needed", "per month", `over ${plan.months} months`], plan.needs.map((n) => [
      names[n.stage], cell(`reverse.${n.stage}.per_month`, count(n.per_month)),
      cell(`reverse.${n.stage}.over_period`, count(n.over_period))]), "");
    detail.textContent = `Measured: average deal ${money(plan.average_deal_size)} over ${count(plan.deals_measured)} won deals; ` +
      plan.rates.map((r) => `${r.from}→${r.to} ${pct(r.rate)} (${count(r.reached)}/${count(r.started)})`).join(", ") + ".";
  } catch (error) {
    if (!(error instanceof HttpError) || error.status !== 422) throw error;
    document.getElementById("reverse-chart").replaceChildren();
    table("reverse", ["needed"], [], (error.problem && error.problem.detail) || "Not enough history yet.");
    detail.textContent = "";
  }
}

let running = false, again = false;
async function refresh() {
  if (!tokenBox.value.trim()) {
    say("enter a token to load the numbers");
    return;
  }
  // A request made while the numbers are loading (a new goal, a new token) runs right after.
  if (running) { again = true; return; }
  running = true;
  try {
    // Scoring being down must not blank feedback's own numbers: its panel reports the problem.
    const drafts = get("/v1/reports/proposals").catch((error) => ({ error }));
    const [funnel, versions, speed, sla, delivery, reasons, revenue, proposals] = await Promise.all([
      get("/v1/funnel"), get("/v1/funnel/groups?by=rubric_version"), get("/v1/speed-to-lead?by=sla_tier"),
      get("/v1/sla/first-touch?by=sla_tier"), get("/v1/sla/mql-delivery"), get("/v1/reasons"),
      get("/v1/reports/attribution?by=source"), drafts,
    ]);
    showFunnel(funnel);
    showRubricVersions(versions);
    showSpeed(speed);
    showSla(sla);
    showDelivery(delivery);
    showReasons(reasons);
    showRevenue(revenue);
    showProposals(proposals);
    await showReverseFunnel();
    say("updated " + new Date().toISOString().slice(0, 19).replace("T", " ") + " UTC");
  } catch (error) {
    say(error instanceof HttpError && [401, 403].includes(error.status)
      ? "this token may not read the reports (manager, marketing or sales)" : String(error.message || error));
  } finally {
    running = false;
    if (again) { again = false; refresh(); }
  }
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenBox.value.trim());
  refresh();
});
document.getElementById("goal").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(GOAL_KEY, document.getElementById("revenue-goal").value);
  refresh();
});
// A goal given in the address (rendered into the form by the server) wins over this tab's last one.
if (!new URLSearchParams(location.search).has("revenue_goal") && sessionStorage.getItem(GOAL_KEY)) {
  document.getElementById("revenue-goal").value = sessionStorage.getItem(GOAL_KEY);
}
refresh();
setInterval(() => { if (!document.hidden) refresh(); }, refreshSeconds * 1000);
