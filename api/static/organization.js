// One organization's page, for its champion or a manager: members (who is stuck where), its
// funnel, its time to completion against all organizations' median, and retention. Reads only
// the reporting API; data goes into the page as text, never HTML.
"use strict";

const I18N = {
  en: {
    back: "← All organizations", title: "Organization", org: "Organization", from: "From", to: "To", tz: "Timezone",
    stuckOnly: "Only stuck members", apply: "Apply", key: "Manager API key", save: "Save",
    keyhint: "A champion's key: jiso keys create --role manager --org ID", members: "Members", funnel: "Onboarding funnel",
    retention: "Retention by how members onboarded", started: "Members started", completion: "Completion rate",
    selfserve: "Self-serve completion", median: "Median time to complete", benchmark: "All organizations' median",
    stuck: "Stuck members", user_id: "Member", started_at: "Started", steps_done: "Steps done", completed_at: "Completed",
    self_serve: "Self-serve", stuck_step: "Stuck on", days_since_progress: "Days since progress", conversations: "Conversations",
    escalations: "Hand-overs", yes: "yes", no: "no", hours: "h", hidden: "hidden (too few organizations)", reached: "reached",
    dropoff: "drop-off", week: "week", self_serve_group: "Self-serve", with_help: "With help", not_completed: "Not completed",
    nomembers: "No member has started onboarding.",
  },
  ja: {
    back: "← すべての組織", title: "組織", org: "組織", from: "開始日", to: "終了日", tz: "タイムゾーン",
    stuckOnly: "停滞中のメンバーのみ", apply: "適用", key: "マネージャー API キー", save: "保存",
    keyhint: "チャンピオン用キー: jiso keys create --role manager --org ID", members: "メンバー", funnel: "オンボーディング ファネル",
    retention: "オンボーディングの仕方別の継続率", started: "開始メンバー", completion: "完了率",
    selfserve: "セルフサーブ完了率", median: "完了までの時間(中央値)", benchmark: "全組織の中央値",
    stuck: "停滞中のメンバー", user_id: "メンバー", started_at: "開始", steps_done: "完了ステップ", completed_at: "完了",
    self_serve: "セルフサーブ", stuck_step: "停滞中のステップ", days_since_progress: "進捗からの日数", conversations: "会話",
    escalations: "エスカレーション", yes: "はい", no: "いいえ", hours: "時間", hidden: "非表示(組織数が少ないため)", reached: "到達",
    dropoff: "離脱", week: "週", self_serve_group: "セルフサーブ", with_help: "サポートあり", not_completed: "未完了",
    nomembers: "オンボーディングを始めたメンバーはいません。",
  },
};
const GROUPS = [["self_serve", "self_serve_group", "#17a673"], ["with_help", "with_help", "#2f6fdf"], ["not_completed", "not_completed", "#e4572e"]];
let lang = localStorage.getItem("jiso.dashboard.lang") || ((navigator.language || "en").startsWith("ja") ? "ja" : "en");
if (!I18N[lang]) lang = "en";
const t = (k) => I18N[lang][k] || k;
const $ = (id) => document.getElementById(id);

const hrs = (v) => (v === null || v === undefined ? "–" : `${v} ${t("hours")}`);
const day = (iso) => (iso ? iso.slice(0, 10) : "–");

function form() { return $("filters").elements; }
function period() {
  const q = new URLSearchParams();
  for (const name of ["from", "to", "tz"]) { const v = form()[name].value.trim(); if (v) q.set(name, v); }
  return q;
}

async function api(path, extra = {}) {
  const q = period();
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  // The main dashboard's session cookie (POST /api/v1/session) signs these requests in.
  const response = await fetch(`/api/v1/reports/${path}?${q}`, { headers: { Accept: "application/json" } });
  if (response.status === 401) { showLogin(); throw new Error("401"); }
  const body = await response.json();
  if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
  return body;
}

function tiles(overview, members) {
  const o = overview.onboarding, all = overview.all_organizations;
  const items = [
    [t("started"), o.users_started], [t("completion"), pct(o.completion_rate)], [t("selfserve"), pct(o.self_serve_completion_rate)],
    [t("median"), hrs(o.median_time_to_complete_hours)], [t("benchmark"), all.hidden ? t("hidden") : hrs(all.median_time_to_complete_hours)],
    [t("stuck"), members.filter((m) => m.stuck_step).length],
  ];
  $("tiles").replaceChildren(...items.map(([label, value]) => {
    const tile = el("div", { class: "tile", "data-kpi": label });
    tile.append(el("div", { class: "v" }, value), el("div", { class: "k" }, label));
    return tile;
  }));
}

function memberTable(members, titles) {
  const columns = ["user_id", "started_at", "steps_done", "completed_at", "self_serve", "stuck_step", "days_since_progress", "conversations", "escalations"];
  const head = el("tr");
  columns.forEach((c) => head.append(el("th", { scope: "col" }, t(c))));
  $("members").tHead.replaceChildren(head);
  const body = $("members").tBodies[0];
  body.replaceChildren();
  if (!members.length) { const tr = el("tr"); tr.append(el("td", { colspan: columns.length, class: "hint" }, t("nomembers"))); body.append(tr); return; }
  for (const m of members) {
    const tr = el("tr", m.stuck_step ? { class: "stuck" } : {});
    const cells = {
      started_at: day(m.started_at), completed_at: day(m.completed_at), steps_done: m.steps_done.length,
      self_serve: m.completed_at ? (m.self_serve ? t("yes") : t("no")) : "–", stuck_step: m.stuck_step ? titles[m.stuck_step] || m.stuck_step : "",
    };
    for (const c of columns) tr.append(el("td", c === "steps_done" ? { title: m.steps_done.map((s) => titles[s] || s).join(", ") } : {}, c in cells ? cells[c] : m[c]));
    body.append(tr);
  }
}

function funnel(overview) {
  $("funnel").replaceChildren(funnelChart(overview.onboarding.funnel, overview.onboarding.users_started || 0, t));
}

// Grouped bars: per week k, the share of each group's eligible members active in their k-th week.
function retentionChart(report) {
  const W = 1000, H = 240, L = 44, T = 12, B = 40, weeks = report.weeks;
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("retention") });
  const y = (v) => T + (H - T - B) * (1 - v);
  for (const g of [0, 0.5, 1]) {
    svg.append(el("svg:line", { x1: L, x2: W, y1: y(g), y2: y(g), stroke: "#d9e2ec" }));
    svg.append(el("svg:text", { x: L - 6, y: y(g) + 4, "text-anchor": "end", "font-size": 11, fill: "#616e7c" }, `${g * 100}%`));
  }
  const slot = (W - L) / weeks.length, bar = slot / (GROUPS.length + 1);
  weeks.forEach((k, i) => {
    GROUPS.forEach(([key, , color], j) => {
      const group = report.groups[key], share = group.retained[String(k)], x = L + i * slot + bar * (j + 0.5);
      if (share === null) return; // nobody eligible yet: no bar rather than a made-up 0
      const bottom = y(0), top = y(share);
      svg.append(el("svg:rect", { x, y: top, width: bar * 0.9, height: Math.max(1, bottom - top), fill: color, "data-group": key, "data-week": k }, null));
      svg.lastChild.append(el("svg:title", {}, `${t(GROUPS[j][1])}: ${pct(share)} (${group.eligible[String(k)]})`));
    });
    svg.append(el("svg:text", { x: L + i * slot + slot / 2, y: H - 16, "text-anchor": "middle", "font-size": 12, fill: "#616e7c" }, `${t("week")} ${k}`));
  });
  $("retention").replaceChildren(svg);
  $("retention-legend").replaceChildren(...GROUPS.map(([key, label, color]) => {
    const item = el("span"), swatch = el("i");
    swatch.style.background = color; // CSSOM, allowed by the CSP (no inline style attribute)
    item.append(swatch, document.createTextNode(`${t(label)} (${report.groups[key].users})`));
    return item;
  }));
}

async function load() {
  $("error").hidden = true;
  delete document.body.dataset.loaded;
  const org = form().org_id.value.trim();
  if (!org) return;
  history.replaceState(null, "", `?org_id=${encodeURIComponent(org)}`);
  const path = `organizations/${encodeURIComponent(org)}`;
  try {
    const stuck = form().stuck.checked ? { stuck: "true" } : {};
    const [overview, members, retention, all] = await Promise.all([
      api(`${path}/overview`, { lang }), api(`${path}/members`, stuck), api("retention", { org_id: org, weeks: "1,2,4,8,12" }), api(`${path}/members`),
    ]);
    const titles = Object.fromEntries(overview.onboarding.funnel.map((s) => [s.step, s.title]));
    $("org-name").textContent = org;
    tiles(overview, all.members); memberTable(members.members, titles); funnel(overview); retentionChart(retention);
    $("board").hidden = false;
    document.body.dataset.loaded = "true";
  } catch (error) {
    if (error.message !== "401") { $("error").textContent = error.message; $("error").hidden = false; }
  }
}

function showLogin(message = "") {
  $("login").hidden = false;
  $("board").hidden = true;
  $("login-error").hidden = !message;
  $("login-error").textContent = message;
}

async function detailOf(response) {
  const body = await response.json().catch(() => ({}));
  return typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
}

document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  form().tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  form().org_id.value = new URLSearchParams(location.search).get("org_id") || "";
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = e.target.elements.key.value.trim();
    e.target.reset();
    const response = await fetch("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key }) }).catch(() => null);
    if (!response || !response.ok) { showLogin(response ? await detailOf(response) : "The server could not be reached"); return; }
    $("login").hidden = true;
    load();
  });
  fetch("/api/v1/session").then((response) => (response.ok ? load() : showLogin()), () => showLogin("The server could not be reached"));
});
