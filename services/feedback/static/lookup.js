// "Look a lead up": turns an email, a phone or a lead id into links to the services that hold the
// lead. The page calls none of them: they are other origins, each checking the reader's token, so
// the reader opens the links (or runs the curl lines) with their own token.
"use strict";

(function lookup() {
  const bases = {
    ingest: document.body.dataset.ingestUrl,
    scoring: document.body.dataset.scoringUrl,
    routing: document.body.dataset.routingUrl,
  };
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const quote = (v) => String(v).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  function links(query) {
    const q = query.trim();
    if (UUID.test(q)) {
      const id = q.toLowerCase();
      return [
        ["lead view", "ingest", `/v1/leads/${id}`],
        ["score", "scoring", `/v1/leads/${id}/score`],
        ["assignment", "routing", `/v1/leads/${id}/assignment`],
        ["brief", "routing", `/v1/leads/${id}/brief`],
      ];
    }
    const by = q.includes("@") ? "email" : "phone";
    return [[`search by ${by}`, "ingest", `/v1/leads?${by}=${encodeURIComponent(q)}`]];
  }

  document.getElementById("lookup").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = document.getElementById("lookup-query").value;
    const el = document.getElementById("lookup-links");
    if (!query.trim()) {
      el.innerHTML = `<p class="empty">Type an email, a phone number or a lead id.</p>`;
      return;
    }
    el.innerHTML = "<ul>" + links(query).map(([label, service, path]) => {
      const base = bases[service];
      if (!base) return `<li data-link="${quote(label)}">${quote(label)}: ${quote(service)}'s address is not configured (BATON_PUBLIC_${service.toUpperCase()}_URL); path <code>${quote(path)}</code></li>`;
      const url = base + path;
      return `<li data-link="${quote(label)}"><a href="${quote(url)}">${quote(label)}</a> ` +
        `<code>curl -H "Authorization: Bearer $TOKEN" '${quote(url)}'</code></li>`;
    }).join("") + "</ul>";
  });
})();
