// The managers' dashboard. Reads only the reporting API; data goes into the page as text, never HTML.
"use strict";

const I18N = {
  en: {
    title: "Onboarding dashboard", from: "From", to: "To", tz: "Timezone", org: "Organization", interval: "Interval",
    week: "week", month: "month", lang: "Language", apply: "Apply", forget: "Forget key", key: "Manager API key", save: "Save",
    keyhint: "Create one with: jiso keys create --role manager", trends: "Trends", funnel: "Onboarding funnel",
    orgs: "Organizations", gaps: "Content gaps", conversations: "Conversations", deflection: "Deflection rate",
    escalation: "Escalation rate", unanswered: "Unanswered rate", started: "Users started", completion: "Completion rate",
    selfserve: "Self-serve completion", involvement: "Involvement", median: "Median time to complete", p90: "p90 time to complete",
    reached: "reached", dropoff: "drop-off", org_id: "Organization", users: "Users", completed_share: "Completed",
    self_serve_share: "Self-serve", open_escalations: "Open escalations", none: "(no organization)", asked: "asked",
    nogaps: "No unanswered or escalated questions in this period.", hours: "h", confirmed: "confirmed", assumed: "assumed",
  },
  ja: {
    title: "オンボーディング ダッシュボード", from: "開始日", to: "終了日", tz: "タイムゾーン", org: "組織", interval: "集計単位",
    week: "週", month: "月", lang: "言語", apply: "適用", forget: "キーを削除", key: "マネージャー API キー", save: "保存",
    keyhint: "作成方法: jiso keys create --role manager", trends: "推移", funnel: "オンボーディング ファネル",
    orgs: "組織別", gaps: "コンテンツの不足", conversations: "会話数", deflection: "自己解決率",
    escalation: "エスカレーション率", unanswered: "未回答率", started: "開始ユーザー", completion: "完了率",
    selfserve: "セルフサーブ完了率", involvement: "アシスタント利用率", median: "完了までの時間(中央値)", p90: "完了までの時間(p90)",
    reached: "到達", dropoff: "離脱", org_id: "組織", users: "ユーザー", completed_share: "完了",
    self_serve_share: "セルフサーブ", open_escalations: "未対応のエスカレーション", none: "(組織なし)", asked: "件",
    nogaps: "この期間に未回答・エスカレーションされた質問はありません。", hours: "時間", confirmed: "確認済み", assumed: "推定",
  },
};
const SVG = "http://www.w3.org/2000/svg";
const KEY_STORE = "jiso.dashboard.key";
let lang = "en";
const t = (k) => (I18N[lang] || I18N.en)[k] || k;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
const hrs = (v) => (v === null || v === undefined ? "–" : `${v} ${t("hours")}`);

function applyLabels() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
}

function params() {
  const form = new FormData($("filters"));
  const q = new URLSearchParams();
  for (const name of ["from", "to", "tz", "org_id"]) { const v = (form.get(name) || "").trim(); if (v) q.set(name, v); }
  return q;
}

async function api(path, extra = {}) {
  const q = params();
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const response = await fetch(`/api/v1/reports/${path}?${q}`, { headers: { Authorization: `Bearer ${localStorage.getItem(KEY_STORE)}` } });
  if (response.status === 401) { localStorage.removeItem(KEY_STORE); showLogin(); throw new Error("401"); }
  const body = await response.json();
  if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
  return body;
}

function tiles(summary) {
  const c = summary.conversations, o = summary.onboarding, box = $("tiles");
  box.replaceChildren();
  const items = [
    [t("conversations"), c.conversations], [t("deflection"), pct(c.deflection_rate), `${t("confirmed")} ${pct(c.confirmed_rate)} · ${t("assumed")} ${pct(c.assumed_rate)}`],
    [t("escalation"), pct(c.escalation_rate)], [t("unanswered"), pct(c.unanswered_rate)], [t("started"), o.users_started],
    [t("completion"), pct(o.completion_rate)], [t("selfserve"), pct(o.self_serve_completion_rate)], [t("involvement"), pct(o.involvement)],
    [t("median"), hrs(o.median_time_to_complete_hours)], [t("p90"), hrs(o.p90_time_to_complete_hours)],
  ];
  for (const [label, value, note] of items) {
    const tile = el("div", { class: "tile", "data-kpi": label });
    tile.append(el("div", { class: "v" }, value), el("div", { class: "k" }, label));
    if (note) tile.append(el("div", { class: "k" }, note));
    box.append(tile);
  }
}

function trend(series) {
  const W = 1000, H = 260, L = 44, R = 44, T = 12, B = 28, rows = series.buckets;
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("trends") });
  const maxConv = Math.max(1, ...rows.map((r) => r.conversations));
  const step = (W - L - R) / Math.max(1, rows.length);
  const y = (v) => T + (H - T - B) * (1 - v);
  for (const g of [0, 0.5, 1]) {
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y(g), y2: y(g), stroke: "#d9e2ec" }));
    svg.append(el("svg:text", { x: L - 6, y: y(g) + 4, "text-anchor": "end", "font-size": 11, fill: "#616e7c" }, `${g * 100}%`));
    svg.append(el("svg:text", { x: W - R + 6, y: y(g) + 4, "font-size": 11, fill: "#616e7c" }, Math.round(maxConv * g)));
  }
  rows.forEach((r, i) => {
    const h = (H - T - B) * (r.conversations / maxConv);
    svg.append(el("svg:rect", { x: L + i * step + step * 0.2, y: H - B - h, width: step * 0.6, height: h, fill: "#d6e4fb" }));
    svg.append(el("svg:text", { x: L + i * step + step / 2, y: H - 8, "text-anchor": "middle", "font-size": 11, fill: "#616e7c" }, r.bucket.slice(5)));
  });
  for (const [key, color] of [["deflection_rate", "#2f6fdf"], ["completion_rate", "#17a673"], ["escalation_rate", "#e4572e"]]) {
    const points = rows.map((r, i) => (r[key] === null ? null : `${L + i * step + step / 2},${y(r[key])}`)).filter(Boolean);
    if (points.length) svg.append(el("svg:polyline", { points: points.join(" "), fill: "none", stroke: color, "stroke-width": 2.5, "data-series": key }));
  }
  $("trend").replaceChildren(svg);
  const legend = $("legend");
  legend.replaceChildren();
  for (const [label, color] of [[t("conversations"), "#d6e4fb"], [t("deflection"), "#2f6fdf"], [t("completion"), "#17a673"], [t("escalation"), "#e4572e"]]) {
    const item = el("span"), swatch = el("i");
    swatch.style.background = color;  // CSSOM, allowed by the CSP (no inline style attribute)
    item.append(swatch, document.createTextNode(label));
    legend.append(item);
  }
}

function funnel(summary) {
  const steps = summary.onboarding.funnel, started = summary.onboarding.users_started || 0;
  const W = 1000, row = 30, L = 260, H = row * (steps.length + 1) + 10;
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("funnel") });
  const scale = (n) => ((W - L - 200) * n) / Math.max(1, started);
  svg.append(el("svg:text", { x: 0, y: 20, "font-size": 13 }, `${t("started")}`));
  svg.append(el("svg:rect", { x: L, y: 6, width: scale(started), height: row - 10, fill: "#9fb3c8" }));
  svg.append(el("svg:text", { x: L + scale(started) + 8, y: 20, "font-size": 12 }, started));
  steps.forEach((s, i) => {
    const top = row * (i + 1) + 6;
    svg.append(el("svg:text", { x: 0, y: top + 14, "font-size": 13, "font-weight": s.required ? 600 : 400 }, `${s.required ? "● " : "○ "}${s.title}`));
    svg.append(el("svg:rect", { x: L, y: top, width: scale(s.reached), height: row - 10, fill: s.required ? "#2f6fdf" : "#7fa7ec", "data-step": s.step }));
    svg.append(el("svg:text", { x: L + scale(s.reached) + 8, y: top + 14, "font-size": 12 }, `${s.reached} ${t("reached")} · ${t("dropoff")} ${s.drop_off}`));
  });
  $("funnel").replaceChildren(svg);
}

function orgTable(report) {
  const columns = ["org_id", "users", "completed_share", "self_serve_share", "involvement", "conversations", "deflection_rate", "open_escalations"];
  const labels = { involvement: t("involvement"), conversations: t("conversations"), deflection_rate: t("deflection") };
  const head = el("tr");
  columns.forEach((c) => head.append(el("th", {}, labels[c] || t(c))));
  $("orgs").tHead.replaceChildren(head);
  const body = $("orgs").tBodies[0];
  body.replaceChildren();
  for (const r of report.organizations) {
    const tr = el("tr");
    for (const c of columns) {
      const v = r[c];
      if (c === "org_id" && v) { const td = el("td"); td.append(el("a", { href: `/dashboard/organization?org_id=${encodeURIComponent(v)}` }, v)); tr.append(td); continue; }
      tr.append(el("td", {}, c === "org_id" ? v ?? t("none") : c.endsWith("share") || c.endsWith("rate") || c === "involvement" ? pct(v) : v));
    }
    body.append(tr);
  }
}

function gapList(report) {
  const list = $("gaps");
  list.replaceChildren();
  if (!report.clusters.length) { list.append(el("li", { class: "hint" }, t("nogaps"))); return; }
  for (const c of report.clusters.slice(0, 15)) {
    const li = el("li");
    li.append(el("span", { class: "count" }, `${c.count} ${t("asked")}`), el("span", {}, c.label));
    if (c.examples.length > 1) li.append(el("div", { class: "examples" }, c.examples.slice(1).join(" · ")));
    list.append(li);
  }
}

async function load() {
  $("error").hidden = true;
  try {
    const interval = new FormData($("filters")).get("interval");
    const [summary, series, orgs, gaps] = await Promise.all([api("summary", { lang }), api("timeseries", { interval }), api("organizations"), api("gaps", { top: 15 })]);
    tiles(summary); trend(series); funnel(summary); orgTable(orgs); gapList(gaps);
    $("board").hidden = false;
    document.body.dataset.loaded = "true";
  } catch (error) {
    if (error.message !== "401") { $("error").textContent = error.message; $("error").hidden = false; }
  }
}

function showLogin() { $("login").hidden = false; $("board").hidden = true; }

document.addEventListener("DOMContentLoaded", () => {
  const saved = localStorage.getItem("jiso.dashboard.lang");
  lang = saved || ((navigator.language || "en").startsWith("ja") ? "ja" : "en");
  if (!I18N[lang]) lang = "en";
  $("filters").elements.lang.value = lang;
  $("filters").elements.tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  applyLabels();
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    lang = $("filters").elements.lang.value;
    localStorage.setItem("jiso.dashboard.lang", lang);
    applyLabels();
    load();
  });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(KEY_STORE, e.target.elements.key.value.trim());
    e.target.reset();
    $("login").hidden = true;
    load();
  });
  $("forget").addEventListener("click", () => { localStorage.removeItem(KEY_STORE); showLogin(); });
  if (localStorage.getItem(KEY_STORE)) load(); else showLogin();
});
