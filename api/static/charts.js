// What the dashboard and the organization page draw alike. Loaded before either page's script
// (a classic script: these names are shared with it); data goes in as text, never HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);

// The onboarding funnel: users who started, then per step those who reached it (did it and every
// required step before it), with the drop-off. `t` is the page's translation.
function funnelChart(steps, started, t) {
  const W = 1000, row = 30, L = 260, H = row * (steps.length + 1) + 10;
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("funnel") });
  const scale = (n) => ((W - L - 200) * n) / Math.max(1, started);
  svg.append(el("svg:text", { x: 0, y: 20, "font-size": 13 }, t("started")));
  svg.append(el("svg:rect", { x: L, y: 6, width: scale(started), height: row - 10, fill: "#9fb3c8" }));
  svg.append(el("svg:text", { x: L + scale(started) + 8, y: 20, "font-size": 12 }, started));
  steps.forEach((s, i) => {
    const top = row * (i + 1) + 6;
    svg.append(el("svg:text", { x: 0, y: top + 14, "font-size": 13, "font-weight": s.required ? 600 : 400 }, `${s.required ? "● " : "○ "}${s.title}`));
    svg.append(el("svg:rect", { x: L, y: top, width: scale(s.reached), height: row - 10, fill: s.required ? "#2f6fdf" : "#7fa7ec", "data-step": s.step }));
    svg.append(el("svg:text", { x: L + scale(s.reached) + 8, y: top + 14, "font-size": 12 }, `${s.reached} ${t("reached")} · ${t("dropoff")} ${s.drop_off}`));
  });
  return svg;
}
