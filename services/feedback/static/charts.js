// Baton's chart code: horizontal bar charts drawn as SVG, no dependencies, so the dashboard
// works offline and nothing is fetched from a CDN.
(function () {
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgElement(name, attributes, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// rows: [{label, values: [number|null, ...]}]; options: {series: [names], format(v), target}.
// One row per label, one bar per series; bars share one scale so rows compare at a glance.
function barChart(container, rows, options) {
  container.replaceChildren();
  if (!rows.length) return;
  const series = options.series || [""];
  const format = options.format || String;
  const labelWidth = 130, valueWidth = 90, width = 560, barHeight = 12, gap = 3, rowGap = 8;
  const legendHeight = series.length > 1 ? 18 : 0;
  const rowHeight = series.length * (barHeight + gap) - gap + rowGap;
  const height = legendHeight + rows.length * rowHeight;
  const values = rows.flatMap((r) => r.values).filter((v) => v != null && Number.isFinite(v));
  const max = Math.max(options.target || 0, ...values, 0) || 1;
  const scale = (width - labelWidth - valueWidth) / max;
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": options.title || "" });
  let legendX = labelWidth;
  series.forEach((name, i) => {
    if (series.length < 2) return;
    svg.append(svgElement("rect", { x: legendX, y: 3, width: 10, height: 10, class: `s${i}` }));
    svg.append(svgElement("text", { x: legendX + 14, y: 12, class: "muted" }, name));
    legendX += 30 + 6 * name.length;
  });
  rows.forEach((row, r) => {
    const top = legendHeight + r * rowHeight;
    svg.append(svgElement("text", { x: 0, y: top + barHeight - 2 }, truncate(row.label, 20)));
    row.values.forEach((value, i) => {
      const y = top + i * (barHeight + gap);
      const w = value == null ? 0 : Math.max(value * scale, value > 0 ? 1 : 0);
      svg.append(svgElement("rect", { x: labelWidth, y, width: w, height: barHeight, class: `s${i}` }));
      svg.append(svgElement("text", { x: labelWidth + w + 4, y: y + barHeight - 2, class: "muted" }, format(value)));
    });
  });
  if (options.target) {
    const x = labelWidth + options.target * scale;
    svg.append(svgElement("line", { x1: x, x2: x, y1: legendHeight, y2: height, class: "target" }));
  }
  container.append(svg);
}

function truncate(text, length) {
  const value = String(text);
  return value.length > length ? value.slice(0, length - 1) + "…" : value;
}

window.BatonCharts = { barChart };
})();
