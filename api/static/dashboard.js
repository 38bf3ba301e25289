// The managers' dashboard. Reads only the reporting API; data goes into the page as text, never HTML.
// Sign-in exchanges the key for an HttpOnly session cookie (POST /api/v1/session); the key is not kept.
// The view (period, filters, list filters) lives in the address, so a view can be bookmarked or shared.
// Each part of the page is one section function in SECTIONS: it fetches what it needs and renders itself.
"use strict";

const I18N = {
  en: {
    title: "Onboarding dashboard", from: "From", to: "To", tz: "Timezone", org: "Organization", channel: "Channel", all: "all", web: "web widget",
    interval: "Interval", week: "week", month: "month", lang: "Language", apply: "Apply", signout: "Sign out", key: "Manager API key", signin: "Sign in",
    keyhint: "Create one with: jiso keys create --role manager",
    sessionhint: "The key is exchanged once for a session cookie that expires; the browser does not keep the key.",
    signinfailed: "Sign-in failed:", unreachable: "The server could not be reached", failed: "Could not load", signedin: "Signed in:",
    allorgs: "all organizations", until: "until", showing: "Showing", asof: "as of", share: "The address bar holds this view: bookmark or share it.",
    kpis: "Key figures", csv: "CSV (Excel)", trends: "Trends", funnel: "Onboarding funnel", orgs: "Organizations", gaps: "Content gaps",
    list: "Recent conversations", outcome: "Outcome", search: "Search", show: "Show", more: "Show more", see: "See them",
    conversations: "Conversations", decided: "Decided", open: "Open", deflection: "Deflection rate", escalation: "Escalation rate",
    unanswered: "Unanswered rate", started: "Users started", completion: "Completion rate", selfserve: "Self-serve completion",
    involvement: "Involvement", median: "Median time to complete", p90: "p90 time to complete", reached: "reached", dropoff: "drop-off",
    org_id: "Organization", users: "Users", completed_share: "Completed", self_serve_share: "Self-serve", open_escalations: "Open escalations",
    none: "(no organization)", asked: "asked", nogaps: "No unanswered or escalated questions in this period.", hours: "h",
    confirmed: "confirmed", assumed: "assumed", started_at: "Started", first_question: "First question", turns: "Questions",
    members: "members", transcript: "Transcript", nolist: "No conversation matches.", shown_of: "shown of",
    o_escalated: "handed over", o_unanswered: "unanswered", o_resolved_confirmed: "resolved (confirmed)", o_resolved_assumed: "resolved (assumed)", o_open: "open",
    def_conversations: "Conversations started in the period with at least one question.",
    def_decided: "Conversations with an outcome: all but the open ones. The rates are shares of these.",
    def_open: "Still inside the quiet window after the last message: no outcome yet, not in the rates.",
    def_deflection: "Resolved (the user confirmed, or went quiet after an answer) ÷ decided.",
    def_escalation: "Handed over to a person ÷ decided.",
    def_unanswered: "Last question declined or voted “not helpful”, without a hand-over ÷ decided.",
    def_started: "Users whose onboarding began in the period (first checklist event or first question).",
    def_completion: "Users who did every required step ÷ users started.",
    def_selfserve: "Completed without a hand-over before completing ÷ users started.",
    def_involvement: "Users who asked the assistant at least once ÷ users started.",
    def_median: "Half of the users who completed took at most this long from start to completion.",
    def_p90: "90% of the users who completed took at most this long.",
    handovers_open: "Open hand-overs", by_person: "Resolved by a person", first_reply: "Median time to first reply", to_close: "Median time to close",
    def_handovers_open: "Hand-overs nobody has marked resolved yet, now, whenever their conversation began.",
    def_by_person: "Conversations of the period handed over whose every hand-over a person closed. Not a deflection: they stay escalated.",
    def_first_reply: "Half of the hand-overs of the period with a person's reply got it at most this long after the hand-over.",
    def_to_close: "Half of the closed hand-overs of the period were closed at most this long after the hand-over.",
    def_users: "Users of the organization who started in the period.", def_completed_share: "Completed ÷ users.",
    def_self_serve_share: "Completed without a hand-over ÷ users.", def_open_escalations: "Hand-overs not closed now (not limited to the period).",
    def_funnel: "Reached: did the step and every required step before it. ● required step, ○ optional step.",
    def_gaps: "Questions the assistant declined, that got “not helpful”, or that were handed over, grouped by meaning.",
  },
  ja: {
    title: "オンボーディング ダッシュボード", from: "開始日", to: "終了日", tz: "タイムゾーン", org: "組織", channel: "チャネル", all: "すべて", web: "Web ウィジェット",
    interval: "集計単位", week: "週", month: "月", lang: "言語", apply: "適用", signout: "サインアウト", key: "マネージャー API キー", signin: "サインイン",
    keyhint: "作成方法: jiso keys create --role manager",
    sessionhint: "キーは一度だけ有効期限付きのセッション Cookie と交換され、ブラウザーには保存されません。",
    signinfailed: "サインインできませんでした:", unreachable: "サーバーに接続できませんでした", failed: "読み込めませんでした", signedin: "サインイン中:",
    allorgs: "すべての組織", until: "有効期限", showing: "表示期間", asof: "集計時点", share: "アドレスバーにこの表示条件が入っています。ブックマークや共有にどうぞ。",
    kpis: "主要指標", csv: "CSV (Excel)", trends: "推移", funnel: "オンボーディング ファネル", orgs: "組織別", gaps: "コンテンツの不足",
    list: "最近の会話", outcome: "結果", search: "検索", show: "表示", more: "さらに表示", see: "会話を見る",
    conversations: "会話数", decided: "結果確定", open: "未確定", deflection: "自己解決率", escalation: "エスカレーション率",
    unanswered: "未回答率", started: "開始ユーザー", completion: "完了率", selfserve: "セルフサーブ完了率",
    involvement: "アシスタント利用率", median: "完了までの時間(中央値)", p90: "完了までの時間(p90)", reached: "到達", dropoff: "離脱",
    org_id: "組織", users: "ユーザー", completed_share: "完了", self_serve_share: "セルフサーブ", open_escalations: "未対応のエスカレーション",
    none: "(組織なし)", asked: "件", nogaps: "この期間に未回答・エスカレーションされた質問はありません。", hours: "時間",
    confirmed: "確認済み", assumed: "推定", started_at: "開始", first_question: "最初の質問", turns: "質問数",
    members: "メンバー", transcript: "会話記録", nolist: "該当する会話はありません。", shown_of: "件を表示 / 全",
    o_escalated: "引き継ぎ", o_unanswered: "未回答", o_resolved_confirmed: "解決(確認済み)", o_resolved_assumed: "解決(推定)", o_open: "未確定",
    def_conversations: "期間内に始まり、質問が 1 件以上ある会話。",
    def_decided: "結果が確定した会話(未確定を除く)。各率の分母です。",
    def_open: "最後のメッセージから待機時間内で、結果がまだ確定していない会話。率には含めません。",
    def_deflection: "解決(ユーザーが確認、または回答後に反応なし)÷ 結果確定。",
    def_escalation: "担当者に引き継いだ会話 ÷ 結果確定。",
    def_unanswered: "最後の質問に回答できなかった、または「役に立たなかった」とされ、引き継ぎもなかった会話 ÷ 結果確定。",
    def_started: "期間内にオンボーディングを始めたユーザー(最初のチェックリスト イベントまたは最初の質問)。",
    def_completion: "必須ステップをすべて終えたユーザー ÷ 開始ユーザー。",
    def_selfserve: "完了前に引き継ぎなしで完了したユーザー ÷ 開始ユーザー。",
    def_involvement: "アシスタントに 1 回以上質問したユーザー ÷ 開始ユーザー。",
    def_median: "完了したユーザーの半数が、開始からこの時間以内に完了。",
    def_p90: "完了したユーザーの 90% が、この時間以内に完了。",
    handovers_open: "未対応の引き継ぎ", by_person: "担当者が解決", first_reply: "初回返信までの時間(中央値)", to_close: "解決までの時間(中央値)",
    def_handovers_open: "まだ誰も解決済みにしていない引き継ぎ(現在の件数。会話の開始時期を問いません)。",
    def_by_person: "期間中の会話のうち、引き継ぎがすべて担当者によって解決済みにされたもの。自己解決には数えず、エスカレーションのままです。",
    def_first_reply: "担当者の返信があった期間中の引き継ぎの半数が、引き継ぎからこの時間以内に初回返信を受けた。",
    def_to_close: "解決済みになった期間中の引き継ぎの半数が、引き継ぎからこの時間以内に解決された。",
    def_users: "期間内に開始した組織のユーザー。", def_completed_share: "完了 ÷ ユーザー。",
    def_self_serve_share: "引き継ぎなしで完了 ÷ ユーザー。", def_open_escalations: "現在クローズされていない引き継ぎ(期間に関係なし)。",
    def_funnel: "到達: そのステップと、それ以前の必須ステップをすべて終えたユーザー。● 必須ステップ、○ 任意ステップ。",
    def_gaps: "アシスタントが回答できなかった、「役に立たなかった」とされた、または引き継がれた質問を、意味ごとにまとめたもの。",
  },
};
const STORE = { lang: "jiso.dashboard.lang", tz: "jiso.dashboard.tz", legacyKey: "jiso.dashboard.key" };
const VIEW = ["from", "to", "tz", "org_id", "channel", "interval"];  // the filters form, as kept in the address
const LIST_VIEW = ["outcome", "q"];  // the conversation list's own filters
const PAGE = 15;
let lang = "en";
let zoneChosen = false;  // the manager applied a time zone: remember it if the reports accept it
const t = (k) => (I18N[lang] || I18N.en)[k] || I18N.en[k] || k;
const $ = (id) => document.getElementById(id);
const field = (name) => $("filters").elements[name];

const hrs = (v) => (v === null || v === undefined ? "–" : `${v} ${t("hours")}`);
function when(iso) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Date(iso).toLocaleString(lang, { ...options, timeZone: field("tz").value.trim() || "UTC" });
  } catch {  // a zone the browser does not know: the server refuses it too, and says why
    return `${new Date(iso).toLocaleString(lang, { ...options, timeZone: "UTC" })} UTC`;
  }
}

function applyLabels() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
}

// ---- the view in the address ----

function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function readView() {
  const url = new URLSearchParams(location.search);
  for (const name of VIEW) field(name).value = url.get(name) || "";
  for (const name of ["from", "to"]) delete field(name).dataset.auto;  // dates in the address are the manager's
  field("tz").value = url.get("tz") || localStorage.getItem(STORE.tz) || browserZone();
  field("interval").value = url.get("interval") || "week";
  for (const name of LIST_VIEW) $("list-filters").elements[name].value = url.get(name) || "";
}

function viewQuery() {
  // Dates the dashboard filled in from a report are the default period, not a choice: left out, so a bookmark stays "the last 30 days".
  const q = new URLSearchParams();
  for (const name of VIEW) {
    const input = field(name), value = input.value.trim();
    if (value && !input.dataset.auto && !(name === "interval" && value === "week")) q.set(name, value);
  }
  return q;
}

function writeView() {
  const q = viewQuery();
  for (const name of LIST_VIEW) { const v = $("list-filters").elements[name].value.trim(); if (v) q.set(name, v); }
  const search = q.toString() ? `?${q}` : "";
  if (search !== location.search) history.pushState(null, "", search || location.pathname);
}

function reportQuery(extra = {}) {
  const q = viewQuery();
  q.delete("interval");
  for (const [k, v] of Object.entries(extra)) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  return q;
}

// ---- the reporting API ----

class SignedOut extends Error {}

async function detailOf(response) {
  try {
    const body = await response.json();
    if (Array.isArray(body.detail)) return body.detail.map((e) => `${(e.loc || []).slice(-1)[0]}: ${e.msg}`).join("; ");  // FastAPI's validation errors
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function api(path, extra = {}) {
  const response = await fetch(`/api/v1/reports/${path}?${reportQuery(extra)}`, { headers: { Accept: "application/json" } });
  if (response.status === 401) throw new SignedOut(await detailOf(response));
  if (!response.ok) throw new Error(`${t("failed")} ${path}: ${await detailOf(response)}`);
  return response.json();
}

function reports() {
  // One load: sections asking for the same report share one request.
  const cache = new Map();
  return (path, extra = {}) => {
    const key = `${path}?${new URLSearchParams(extra)}`;
    if (!cache.has(key)) cache.set(key, api(path, extra));
    return cache.get(key);
  };
}

function csvLinks() {
  const list = $("list-filters").elements;
  const extra = { summary: { lang }, timeseries: { interval: field("interval").value }, conversations: { outcome: list.outcome.value, q: list.q.value.trim(), limit: 1000 } };
  document.querySelectorAll("a.csv").forEach((a) => {
    const report = a.dataset.report;
    a.href = `/api/v1/reports/${report}?${reportQuery({ ...(extra[report] || {}), format: "csv", bom: 1 })}`;
    a.setAttribute("download", "");
  });
}

// ---- sections ----

async function periodSection(get) {
  const summary = await get("summary", { lang });
  const period = summary.period;
  for (const [name, value] of [["from", period.from], ["to", period.to]]) {
    const input = field(name);
    if (!input.value || input.dataset.auto) { input.value = value; input.dataset.auto = "1"; }
  }
  const line = $("period");
  line.replaceChildren(el("strong", {}, `${t("showing")} ${period.from} – ${period.to} (${period.tz})`), document.createTextNode(` · ${t("asof")} ${when(summary.as_of)} · `), el("span", { class: "hint" }, t("share")));
  line.hidden = false;
}

function tile(label, value, definition, { note, outcome } = {}) {
  const box = el("div", { class: "tile", "data-kpi": label, title: definition });
  box.append(el("div", { class: "v" }, value), el("div", { class: "k" }, label));
  if (note) box.append(el("div", { class: "k" }, note));
  box.append(el("div", { class: "d" }, definition));
  if (outcome) {
    const link = el("a", { class: "see", href: "#conversations-section", "data-outcome": outcome }, `${t("see")} ›`);
    link.addEventListener("click", (event) => { event.preventDefault(); showConversations(outcome); });
    box.append(link);
  }
  return box;
}

async function tilesSection(get) {
  const summary = await get("summary", { lang });
  const c = summary.conversations, o = summary.onboarding;
  $("tiles").replaceChildren(
    tile(t("conversations"), c.conversations, t("def_conversations"), { outcome: "" }),
    tile(t("decided"), c.decided, t("def_decided")),
    tile(t("open"), c.open, t("def_open"), { outcome: "open" }),
    tile(t("deflection"), pct(c.deflection_rate), t("def_deflection"), { note: `${t("confirmed")} ${pct(c.confirmed_rate)} · ${t("assumed")} ${pct(c.assumed_rate)}` }),
    tile(t("escalation"), pct(c.escalation_rate), t("def_escalation"), { outcome: "escalated" }),
    tile(t("unanswered"), pct(c.unanswered_rate), t("def_unanswered"), { outcome: "unanswered" }),
    tile(t("handovers_open"), c.open_escalations, t("def_handovers_open")),
    tile(t("by_person"), c.resolved_by_person, t("def_by_person")),
    tile(t("first_reply"), hrs(c.median_time_to_first_human_reply_hours), t("def_first_reply")),
    tile(t("to_close"), hrs(c.median_time_to_close_hours), t("def_to_close")),
    tile(t("started"), o.users_started, t("def_started")),
    tile(t("completion"), pct(o.completion_rate), t("def_completion")),
    tile(t("selfserve"), pct(o.self_serve_completion_rate), t("def_selfserve")),
    tile(t("involvement"), pct(o.involvement), t("def_involvement")),
    tile(t("median"), hrs(o.median_time_to_complete_hours), t("def_median")),
    tile(t("p90"), hrs(o.p90_time_to_complete_hours), t("def_p90")),
  );
}

const SERIES = [["deflection_rate", "#2f6fdf", "deflection"], ["completion_rate", "#17a673", "completion"], ["escalation_rate", "#e4572e", "escalation"]];

async function trendSection(get) {
  const series = await get("timeseries", { interval: field("interval").value });
  const W = 1000, H = 260, L = 44, R = 44, T = 12, B = 28, rows = series.buckets;
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("trends") });
  const maxConv = Math.max(1, ...rows.map((r) => r.conversations));
  const step = (W - L - R) / Math.max(1, rows.length);
  const y = (v) => T + (H - T - B) * (1 - v);
  const x = (i) => L + i * step + step / 2;
  for (const g of [0, 0.5, 1]) {
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y(g), y2: y(g), stroke: "#d9e2ec" }));
    svg.append(el("svg:text", { x: L - 6, y: y(g) + 4, "text-anchor": "end", "font-size": 11, fill: "#616e7c" }, `${g * 100}%`));
    svg.append(el("svg:text", { x: W - R + 6, y: y(g) + 4, "font-size": 11, fill: "#616e7c" }, Math.round(maxConv * g)));
  }
  rows.forEach((r, i) => {
    const h = (H - T - B) * (r.conversations / maxConv);
    svg.append(el("svg:rect", { x: L + i * step + step * 0.2, y: H - B - h, width: step * 0.6, height: h, fill: "#d6e4fb" }));
    svg.append(el("svg:text", { x: x(i), y: H - 8, "text-anchor": "middle", "font-size": 11, fill: "#616e7c" }, r.bucket.slice(5)));
  });
  for (const [key, color] of SERIES) {
    const points = rows.map((r, i) => (r[key] === null ? null : [x(i), y(r[key]), r[key]])).filter(Boolean);
    if (points.length > 1) svg.append(el("svg:polyline", { points: points.map(([px, py]) => `${px},${py}`).join(" "), fill: "none", stroke: color, "stroke-width": 2.5, "data-series": key }));
    // A dot per bucket: a single bucket (or one between empty ones) is still drawn.
    for (const [px, py, value] of points) {
      const dot = el("svg:circle", { cx: px, cy: py, r: 4, fill: color, "data-series": key });
      dot.append(el("svg:title", {}, pct(value)));
      svg.append(dot);
    }
  }
  $("trend").replaceChildren(svg);
  const legend = $("legend");
  legend.replaceChildren();
  for (const [label, color, definition] of [[t("conversations"), "#d6e4fb", "def_conversations"], ...SERIES.map(([, c, name]) => [t(name), c, `def_${name}`])]) {
    const item = el("span", { title: t(definition) }), swatch = el("i");
    swatch.style.background = color;  // CSSOM, allowed by the CSP (no inline style attribute)
    item.append(swatch, document.createTextNode(label));
    legend.append(item);
  }
}

async function funnelSection(get) {
  const summary = await get("summary", { lang });
  $("funnel").replaceChildren(funnelChart(summary.onboarding.funnel, summary.onboarding.users_started || 0, t));
}

async function organizationsSection(get) {
  const report = await get("organizations");
  const columns = ["org_id", "users", "completed_share", "self_serve_share", "involvement", "conversations", "deflection_rate", "open_escalations"];
  const labels = { involvement: "involvement", conversations: "conversations", deflection_rate: "deflection" };
  const head = el("tr");
  columns.forEach((c) => head.append(el("th", { title: c === "org_id" ? "" : t(`def_${labels[c] || c}`) }, t(labels[c] || c))));
  $("orgs").tHead.replaceChildren(head);
  const body = $("orgs").tBodies[0];
  body.replaceChildren();
  for (const r of report.organizations) {
    const tr = el("tr");
    for (const c of columns) {
      const v = r[c];
      if (c === "org_id" && v !== null && !field("org_id").value) {
        // The same view for this organization only: a link to share, or to open in a new tab.
        const q = viewQuery();
        q.set("org_id", v);
        const cell = el("td");
        cell.append(el("a", { href: `?${q}` }, v), " · ", el("a", { class: "members", href: `/dashboard/organization?org_id=${encodeURIComponent(v)}` }, t("members")));
        tr.append(cell);
        continue;
      }
      tr.append(el("td", {}, c === "org_id" ? v ?? t("none") : c.endsWith("share") || c.endsWith("rate") || c === "involvement" ? pct(v) : v));
    }
    body.append(tr);
  }
}

async function gapsSection(get) {
  const report = await get("gaps", { top: 15 });
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

// FAQ drafts from people's answers after hand-overs, under the gaps they fill (GET /api/v1/drafts).
const DRAFT_TEXT = {
  en: { title: "Draft answers from hand-overs", none: "No drafts: a closed hand-over with a person's reply becomes one.", accept: "Accept with", scoped: "Drafts need a manager key for all organizations." },
  ja: { title: "担当者の回答からの下書き", none: "下書きはありません。担当者が返信して解決済みにしたエスカレーションから作られます。", accept: "採用するには", scoped: "下書きの表示には全組織のマネージャー キーが必要です。" },
};
async function draftsSection() {
  const text = DRAFT_TEXT[lang] || DRAFT_TEXT.en;
  $("drafts-title").textContent = text.title;
  const list = $("drafts");
  const response = await fetch("/api/v1/drafts", { headers: { Accept: "application/json" } });
  list.replaceChildren();
  if (response.status === 401) throw new SignedOut(await detailOf(response));
  if (!response.ok) { list.append(el("li", { class: "hint" }, response.status === 403 ? text.scoped : await detailOf(response))); return; }
  const { drafts } = await response.json();
  if (!drafts.length) { list.append(el("li", { class: "hint" }, text.none)); return; }
  for (const draft of drafts.slice(0, 15)) {
    const li = el("li", { class: "draft" });
    const answer = draft.answer.length > 240 ? `${draft.answer.slice(0, 240)}…` : draft.answer;
    li.append(el("span", { class: "count" }, draft.locale), el("span", {}, draft.question), el("div", { class: "examples" }, answer));
    li.append(el("div", { class: "hint" }, `${text.accept} jiso drafts accept ${draft.id}`));
    list.append(li);
  }
}

let listed = 0;

function listQuery(offset) {
  const form = $("list-filters").elements;
  return { outcome: form.outcome.value, q: form.q.value.trim(), limit: PAGE, offset };
}

function conversationRows(report, append) {
  const table = $("conversations");
  if (!append) {
    const head = el("tr");
    for (const c of ["started_at", "org_id", "channel", "outcome", "turns", "first_question", "transcript"]) head.append(el("th", {}, t(c)));
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren();
    listed = 0;
  }
  for (const r of report.conversations) {
    const tr = el("tr", { "data-id": r.id, "data-outcome": r.outcome });
    const link = el("a", { href: r.transcript_url, target: "_blank", rel: "noopener" }, t("transcript"));
    const cells = [when(r.started_at), r.org_id ?? t("none"), r.channel === "web" ? t("web") : "Slack", t(`o_${r.outcome}`), r.turns, r.first_question];
    cells.forEach((v) => tr.append(el("td", {}, v)));
    const last = el("td");
    last.append(link);
    tr.append(last);
    table.tBodies[0].append(tr);
  }
  listed += report.conversations.length;
  $("list-count").textContent = report.total ? `${listed} ${t("shown_of")} ${report.total}` : t("nolist");
  $("more").hidden = listed >= report.total;
}

async function conversationsSection(get) {
  conversationRows(await get("conversations", listQuery(0)), false);
}

const SECTIONS = [periodSection, tilesSection, trendSection, funnelSection, organizationsSection, gapsSection, draftsSection, conversationsSection];

// ---- loading, signing in and out ----

async function run(sections) {
  delete document.body.dataset.loaded;  // set again once these sections are drawn
  $("error").hidden = true;
  csvLinks();
  const get = reports();
  const results = await Promise.allSettled(sections.map((section) => section(get)));
  const failures = results.filter((r) => r.status === "rejected").map((r) => r.reason);
  const signedOut = failures.find((e) => e instanceof SignedOut);
  if (signedOut) { showLogin(signedOut.message); return; }
  if (failures.length) {
    $("error").textContent = [...new Set(failures.map((e) => e.message))].join(" · ");
    $("error").hidden = false;
  } else if (zoneChosen) {
    localStorage.setItem(STORE.tz, field("tz").value.trim());  // remembered once it worked (a mistyped zone is not)
    zoneChosen = false;
  }
  csvLinks();  // the period's dates are known now
  $("board").hidden = false;
  document.body.dataset.loaded = "true";
}

function load() {
  return run(SECTIONS);
}

function showConversations(outcome) {
  $("list-filters").elements.outcome.value = outcome;
  writeView();
  run([conversationsSection]).then(() => $("conversations-section").scrollIntoView());
}

function showLogin(message) {
  $("login").hidden = false;
  $("board").hidden = true;
  $("filters").hidden = true;
  $("period").hidden = true;
  $("who").hidden = true;
  $("sign-out").hidden = true;
  $("login-error").hidden = !message;
  $("login-error").textContent = message ? `${t("signinfailed")} ${message}` : "";
  document.body.dataset.signedIn = "false";
}

function signedIn(session) {
  $("login").hidden = true;
  $("login-error").hidden = true;
  $("filters").hidden = false;
  $("sign-out").hidden = false;
  const org = field("org_id");
  if (session.org_id) { org.value = session.org_id; org.readOnly = true; } else { org.readOnly = false; }
  $("who").textContent = `${t("signedin")} ${session.role} · ${session.org_id || t("allorgs")} · ${t("until")} ${when(session.expires_at)}`;
  $("who").hidden = false;
  document.body.dataset.signedIn = "true";
  return load();
}

async function signIn(key) {
  let response;
  try {
    response = await fetch("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key }) });
  } catch {
    showLogin(t("unreachable"));
    return;
  }
  if (!response.ok) { showLogin(await detailOf(response)); return; }
  await signedIn(await response.json());
}

async function resume() {
  const response = await fetch("/api/v1/session").catch(() => null);
  if (response && response.ok) await signedIn(await response.json());
  else showLogin(response ? "" : t("unreachable"));
}

document.addEventListener("DOMContentLoaded", () => {
  localStorage.removeItem(STORE.legacyKey);  // earlier versions kept the key itself here
  lang = localStorage.getItem(STORE.lang) || ((navigator.language || "en").startsWith("ja") ? "ja" : "en");
  if (!I18N[lang]) lang = "en";
  field("lang").value = lang;
  readView();
  applyLabels();
  for (const name of ["from", "to"]) field(name).addEventListener("input", () => { delete field(name).dataset.auto; });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    lang = field("lang").value;
    localStorage.setItem(STORE.lang, lang);
    zoneChosen = true;
    applyLabels();
    writeView();
    load();
  });
  $("list-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    writeView();
    run([conversationsSection]);
  });
  $("more").addEventListener("click", async () => {
    try {
      conversationRows(await api("conversations", listQuery(listed)), true);
    } catch (error) {
      if (error instanceof SignedOut) showLogin(error.message); else { $("error").textContent = error.message; $("error").hidden = false; }
    }
  });
  window.addEventListener("popstate", () => { readView(); load(); });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = e.target.elements.key.value.trim();
    e.target.reset();
    signIn(key);
  });
  $("sign-out").addEventListener("click", async () => {
    await fetch("/api/v1/session", { method: "DELETE" }).catch(() => null);
    showLogin("");
  });
  resume();
});
