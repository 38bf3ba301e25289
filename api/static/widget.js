/*
 * jiso chat widget: one <script src=".../static/widget.js" data-...> tag, no framework, no build.
 *
 *   data-locale     "en" | "ja" (default: the page's <html lang>, then the browser's language)
 *   data-title      the panel's title (default "Help")
 *   data-api        the jiso server (default: where this script was loaded from)
 *   data-user-id, data-org-id, data-user-hash
 *                   a verified user: hash = hex HMAC-SHA256(JISO_IDENTITY_SECRET, "id:org_id"),
 *                   computed by your backend
 *   data-accent, data-accent-text, data-logo, data-position ("right" | "left"),
 *   data-launcher-label, data-welcome, data-starter-questions ("First?|Second?")
 *                   branding; each overrides the server's JISO_WIDGET_* (GET /api/v1/widget/config).
 *                   Colours below WCAG AA contrast are adjusted, with a warning in the console.
 *   data-nudges     "off": never show the verified user a nudge towards their next setup step
 *
 * Everything lives in a Shadow DOM, so the host page's styles and ours never meet. Answers arrive
 * as server-sanitized HTML and are rebuilt here node by node from an allow-list (never assigned
 * with innerHTML), so content can carry no script, event handler or javascript: link.
 */
(function () {
  "use strict";
  if (window.jiso && window.jiso.version) return; // loaded twice: keep the first

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var scriptUrl = script && script.src ? new URL(script.src, location.href) : new URL(location.href);
  var BASE = (data.api || scriptUrl.origin).replace(/\/+$/, "");
  var API = BASE + "/api/v1";

  var STRINGS = {
    en: {
      open: "Help", launcher: "Ask a question", close: "Close", title: "Help",
      placeholder: "Ask a question…", detailsPlaceholder: "Add details for the team…", send: "Send",
      solved: "This solved it", notHelpful: "Not helpful", person: "Talk to a person",
      sources: "Source", related: "See also", thinking: "Looking for an answer…", glad: "Great, glad that solved it!",
      sorry: "Sorry that didn't help. You can rephrase your question, or talk to a person.",
      handedOver: "Thanks. Your question is with our team: their reply will appear here. You can add details below.",
      handedOverEmail: "Thanks. Your question is with our team: their reply will appear here, and they can write to you at {email}. You can add details below.",
      handedOverNowhere: "Your question is saved, but nobody from our team is connected to this chat yet: no one was notified, and no reply will come here. Please contact us another way.",
      emailLabel: "Your e-mail (optional), so the team can reach you after you leave", sendToPerson: "Send to a person",
      badEmail: "That e-mail address does not look right. Check it, or leave it empty.",
      noted: "Added to your request for the team.", newQuestion: "Ask a new question",
      error: "Something went wrong. Please try again.", tooMany: "Too many messages. Please wait {s} seconds.",
      tooLong: "That question is too long. Please shorten it.", setup: "Your setup", done: "done",
      reasonPerson: "The user asked to talk to a person.", intro: "Hi! Ask me anything about getting started.",
      choices: "Did you mean", noneOfThese: "None of these",
      optional: "optional", setupLegend: "✓ done · empty box: still to do · optional steps are marked",
      setupProgress: "{done} of {total} required steps done", popular: "Popular questions", answerActions: "Answer actions",
      unreachable: "The help chat cannot connect right now. Please try again later.",
      notVerified: "We could not confirm your sign-in, so the help chat cannot start. Please reload the page; if it keeps happening, contact support.",
      personNamed: "{name}, from our team", personAnon: "From our team",
      required: "{done} of {total} required", nextStep: "Next step:", nudge: "Your next setup step", dismiss: "Dismiss",
    },
    ja: {
      open: "ヘルプ", launcher: "質問する", close: "閉じる", title: "ヘルプ",
      placeholder: "質問を入力…", detailsPlaceholder: "担当者への補足を入力…", send: "送信",
      solved: "解決した", notHelpful: "役に立たなかった", person: "担当者と話す",
      sources: "参照元", related: "関連ページ", thinking: "回答を探しています…", glad: "解決してよかったです！",
      sorry: "お役に立てず申し訳ありません。言い換えて質問するか、担当者にご相談ください。",
      handedOver: "ありがとうございます。質問を担当者に渡しました。返信はここに表示されます。補足があれば下に入力してください。",
      handedOverEmail: "ありがとうございます。質問を担当者に渡しました。返信はここに表示され、{email} 宛にご連絡することもあります。補足があれば下に入力してください。",
      handedOverNowhere: "質問は保存されましたが、このチャットにはまだ担当者がつながっていないため、誰にも通知されず、ここに返信は届きません。別の方法でお問い合わせください。",
      emailLabel: "メールアドレス（任意）: 画面を閉じた後も担当者から連絡できます", sendToPerson: "担当者に送る",
      badEmail: "メールアドレスの形式が正しくないようです。確認するか、空欄のままにしてください。",
      noted: "担当者へのリクエストに追加しました。", newQuestion: "新しい質問をする",
      error: "エラーが発生しました。もう一度お試しください。", tooMany: "送信が多すぎます。{s} 秒お待ちください。",
      tooLong: "質問が長すぎます。短くしてください。", setup: "セットアップ", done: "完了",
      reasonPerson: "The user asked to talk to a person.", intro: "こんにちは！使い始めについて何でも聞いてください。",
      choices: "もしかして", noneOfThese: "どれでもない",
      optional: "任意", setupLegend: "✓ 完了 · 空欄: 未完了 · 任意のステップには「任意」と表示",
      setupProgress: "必須ステップ {total} 件中 {done} 件完了", popular: "よくある質問", answerActions: "回答への操作",
      unreachable: "現在ヘルプチャットに接続できません。しばらくしてからもう一度お試しください。",
      notVerified: "ログイン情報を確認できなかったため、ヘルプチャットを開始できません。ページを再読み込みしてください。解決しない場合はサポートにお問い合わせください。",
      personNamed: "担当者（{name}）", personAnon: "担当者より",
      required: "必須 {total} 件中 {done} 件完了", nextStep: "次のステップ：", nudge: "次のセットアップ手順", dismiss: "閉じる",
    },
  };

  function pickLocale() {
    var wanted = (data.locale || document.documentElement.lang || navigator.language || "en").toLowerCase();
    return wanted.indexOf("ja") === 0 ? "ja" : "en";
  }
  var locale = pickLocale();
  var t = STRINGS[locale];
  var user = data.userId && data.orgId && data.userHash ? { id: data.userId, org_id: data.orgId, hash: data.userHash } : null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function stored(storage, key, make) {
    try {
      var value = storage.getItem(key);
      if (!value && make) { value = make(); storage.setItem(key, value); }
      return value;
    } catch (e) { return make ? make() : null; } // storage blocked (privacy modes): work without it
  }
  function remember(key, value) {
    try { if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key); } catch (e) { /* not kept */ }
  }
  var visitorId = stored(localStorage, "jiso:visitor", uuid);
  var conversationKey = "jiso:conversation:" + BASE + (user ? ":" + user.org_id + ":" + user.id : "");

  // ---- HTTP: JSON, an Idempotency-Key per action (see `write` for the retries).
  function ApiError(status, detail, retryAfter) { this.status = status; this.detail = detail; this.retryAfter = retryAfter; }
  function call(method, path, body, key) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    return fetch(API + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", mode: "cors" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (response.status === 401) explainIdentity(json.detail);
          if (!response.ok) throw new ApiError(response.status, json.detail, response.headers.get("Retry-After"));
          return json;
        });
      }, function (error) { explainUnreachable(); throw error; });
  }

  // ---- A mistake in the site's set-up: the visitor gets a plain sentence (showError), the site's
  // developer the precise reason in the browser console, once per kind.
  var explained = {};
  function explain(kind, message) {
    if (explained[kind]) return;
    explained[kind] = true;
    console.error("jiso: " + message);
  }
  function explainUnreachable() {
    // fetch() cannot tell a CORS refusal from a server that is down; an opaque no-cors request can.
    fetch(BASE + "/health", { mode: "no-cors", credentials: "omit" }).then(function () {
      explain("cors", BASE + " is up but does not allow requests from this page's origin " + location.origin + ': add "' + location.origin + '" to JISO_ALLOWED_ORIGINS (a JSON list) on the jiso server and restart it');
    }, function () {
      explain("unreachable", "cannot reach the jiso server at " + BASE + ": check that it runs, that data-api (or the script's address) is right, and that this page's Content-Security-Policy allows it in connect-src");
    });
  }
  function explainIdentity(detail) {
    var signed = user ? '"' + user.id + ":" + user.org_id + '"' : '"data-user-id:data-org-id"';
    explain("identity", "the server refused this page's signed-in user (" + (detail || "401") + "). data-user-hash must be the hex HMAC-SHA256 of " + signed +
      " with the server's JISO_IDENTITY_SECRET, computed by your backend; check the secret, the user id and the organization id");
  }
  // Writes retry with the same Idempotency-Key, which makes a second record impossible: after a
  // network error (twice), and for up to 40 s after a proxy's 502/503/504 (the instance died or is
  // restarting) or a 409 (the first try is still being handled, or died holding the key until its
  // 30 s lease ends), waiting as Retry-After says or a little longer each time.
  var RETRY_STATUSES = [409, 502, 503, 504];
  var RETRY_FOR_MS = 40000;
  function write(path, body) {
    var key = uuid();
    var started = Date.now();
    var networkRetries = 2;
    function attempt(delay) {
      return call("POST", path, body, key).catch(function (error) {
        var byStatus = error instanceof ApiError && RETRY_STATUSES.indexOf(error.status) >= 0;
        var byNetwork = !(error instanceof ApiError) && networkRetries-- > 0;
        if (!(byStatus || byNetwork) || Date.now() - started > RETRY_FOR_MS) throw error;
        var wait = byStatus && Number(error.retryAfter) > 0 ? Math.min(Number(error.retryAfter) * 1000, 5000) : delay;
        return new Promise(function (resolve) { setTimeout(resolve, wait); }).then(function () { return attempt(Math.min(delay * 2, 5000)); });
      });
    }
    return attempt(250);
  }

  // ---- Safe rendering: rebuild the sanitized answer from an allow-list, in an inert document.
  var TAGS = "A P BR HR STRONG EM DEL S CODE PRE BLOCKQUOTE UL OL LI H1 H2 H3 H4 H5 H6 TABLE THEAD TBODY TR TH TD IMG".split(" ");
  var ATTRIBUTES = { A: ["href", "title"], IMG: ["src", "alt", "title"], OL: ["start"], TH: ["class"], TD: ["class"] };
  var DROP_WITH_CONTENT = ["SCRIPT", "STYLE", "TEMPLATE", "IFRAME", "OBJECT", "NOSCRIPT"];
  function safeUrl(value) {
    try { return ["http:", "https:", "mailto:"].indexOf(new URL(value, BASE).protocol) >= 0; } catch (e) { return false; }
  }
  function copyChildren(from, to) {
    Array.prototype.forEach.call(from.childNodes, function (node) {
      if (node.nodeType === 3) { to.appendChild(document.createTextNode(node.nodeValue)); return; }
      if (node.nodeType !== 1 || DROP_WITH_CONTENT.indexOf(node.tagName) >= 0) return;
      if (TAGS.indexOf(node.tagName) < 0) { copyChildren(node, to); return; }
      var element = document.createElement(node.tagName.toLowerCase());
      (ATTRIBUTES[node.tagName] || []).forEach(function (name) {
        var value = node.getAttribute(name);
        if (value === null || ((name === "href" || name === "src") && !safeUrl(value))) return;
        element.setAttribute(name, name === "href" || name === "src" ? new URL(value, BASE).href : value);
      });
      if (node.tagName === "A") { element.target = "_blank"; element.rel = "noopener noreferrer"; }
      copyChildren(node, element);
      to.appendChild(element);
    });
  }
  function safeHtml(html) {
    var inert = new DOMParser().parseFromString("<!doctype html><body>" + html, "text/html");
    var fragment = document.createDocumentFragment();
    copyChildren(inert.body, fragment);
    return fragment;
  }

  // ---- DOM helpers (text only; markup comes from safeHtml alone).
  function el(tag, attributes, children) {
    var element = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") element.textContent = attributes[name];
      else if (name === "hidden") element.hidden = attributes[name];
      else element.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) { if (child) element.appendChild(child); });
    return element;
  }

  var host = el("div", { "data-jiso": "widget", hidden: true });
  var root = host.attachShadow({ mode: "open" });
  var stylesheet = el("link", { rel: "stylesheet", href: BASE + "/static/widget.css" });
  var launcher = el("button", { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "panel", part: "launcher" }, [
    el("span", { class: "launcher-icon", "aria-hidden": "true", text: "?" }), el("span", { text: t.launcher }),
  ]);
  var title = el("h2", { id: "title", text: data.title || t.title });
  var closeButton = el("button", { type: "button", class: "close", "aria-label": t.close, text: "×" });
  var setup = el("details", { class: "setup", hidden: true });
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-labelledby": "title" });
  var newQuestionButton = el("button", { type: "button", class: "new-question", text: t.newQuestion });
  var handoverBar = el("div", { class: "handover-bar", hidden: true }, [newQuestionButton]);
  var input = el("textarea", { id: "input", rows: "2", maxlength: "1000", placeholder: t.placeholder, "aria-label": t.placeholder });
  var sendButton = el("button", { type: "submit", class: "send", text: t.send });
  var form = el("form", { class: "composer" }, [input, sendButton]);
  var panel = el("section", { id: "panel", class: "panel", role: "dialog", "aria-labelledby": "title", hidden: true, lang: locale }, [
    el("header", {}, [title, closeButton]), setup, log, handoverBar, form,
  ]);
  // Announced politely when a nudge appears (the region exists first, so screen readers hear it).
  var nudgeRegion = el("div", { class: "nudge-region", role: "status", "aria-live": "polite" });
  root.appendChild(stylesheet);
  root.appendChild(panel);
  root.appendChild(nudgeRegion);
  root.appendChild(launcher);

  var state = { conversationId: stored(sessionStorage, conversationKey), handedOver: false, newQuestion: false, busy: false, opened: false };

  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function note(text, kind) {
    var message = el("p", { class: "msg note" + (kind ? " " + kind : ""), text: text });
    log.appendChild(message);
    scrollDown();
    return message;
  }
  function showQuestion(text) { log.appendChild(el("p", { class: "msg user", text: text })); scrollDown(); }

  function setHandedOver(value) {
    state.handedOver = value;
    state.newQuestion = false;
    handoverBar.hidden = !value;
    input.placeholder = value ? t.detailsPlaceholder : t.placeholder;
    input.setAttribute("aria-label", input.placeholder);
    // After a hand-over the earlier "Did you mean…" choices are the person's to follow up.
    if (value) Array.prototype.forEach.call(log.querySelectorAll(".choices button"), function (button) { button.disabled = true; });
  }

  function showAnswer(turnId, answer, vote) {
    var message = el("article", { class: "msg bot" + (answer.confident ? "" : " unsure"), "data-turn-id": turnId });
    var body = el("div", { class: "answer" });
    body.appendChild(safeHtml(answer.html));
    message.appendChild(body);
    if (answer.confident && answer.sources.length) {
      // The first source is the one quoted; the others are related pages.
      var links = answer.sources.filter(function (source) { return safeUrl(source.url); }).map(function (source) {
        return el("li", {}, [el("a", { href: new URL(source.url, BASE).href, target: "_blank", rel: "noopener noreferrer", text: source.heading })]);
      });
      message.appendChild(el("nav", { class: "sources", "aria-label": t.sources }, [el("span", { text: t.sources }), el("ul", {}, links.slice(0, 1))]));
      if (links.length > 1) message.appendChild(el("nav", { class: "sources related", "aria-label": t.related }, [el("span", { text: t.related }), el("ul", {}, links.slice(1))]));
    }
    if (answer.decision === "clarify" && answer.choices.length) message.appendChild(choiceList(turnId, answer.choices, answer.picked));
    var actions = el("div", { class: "actions" });
    if (answer.confident) {
      actions.appendChild(voteButton(turnId, true, t.solved, vote === true));
      actions.appendChild(voteButton(turnId, false, t.notHelpful, vote === false));
    }
    var person = el("button", { type: "button", class: "person", text: t.person });
    person.addEventListener("click", function () { handOver(person); });
    actions.appendChild(person);
    rovingFocus(actions);
    message.appendChild(actions);
    log.appendChild(message);
    // Show the answer from its question down, not its end.
    var question = message.previousElementSibling;
    log.scrollTop = (question && question.classList.contains("user") ? question : message).offsetTop - 8;
  }

  // An answer's buttons are one Tab stop (a toolbar; the arrow keys move between them), so the
  // keyboard gets from the text box to the last answer's buttons with one Shift+Tab.
  function rovingFocus(toolbar) {
    function settle(current) {
      Array.prototype.forEach.call(toolbar.querySelectorAll("button"), function (button) { button.tabIndex = button === current ? 0 : -1; });
    }
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", t.answerActions);
    settle(toolbar.querySelector("button"));
    toolbar.addEventListener("focusin", function (event) { if (event.target.tagName === "BUTTON") settle(event.target); });
    toolbar.addEventListener("keydown", function (event) {
      var buttons = Array.prototype.filter.call(toolbar.querySelectorAll("button"), function (button) { return !button.disabled; });
      var at = buttons.indexOf(root.activeElement);
      var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (at < 0 || !(step || event.key === "Home" || event.key === "End")) return;
      event.preventDefault();
      buttons[event.key === "Home" ? 0 : event.key === "End" ? buttons.length - 1 : (at + step + buttons.length) % buttons.length].focus();
    });
  }

  // "Did you mean…": one button per plausible entry, then "None of these" (which offers a person).
  // A restored conversation shows what was picked (`picked`: an entry id, "" for none of these).
  function choiceList(turnId, choices, picked) {
    var buttons = choices.map(function (choice) { return choiceButton(turnId, choice.id, choice.title); });
    buttons.push(choiceButton(turnId, null, t.noneOfThese));
    if (picked !== null && picked !== undefined) {
      buttons.forEach(function (button) {
        button.disabled = true;
        if ((button.dataset.entry || "") === picked) button.setAttribute("aria-pressed", "true");
      });
    }
    return el("div", { class: "choices", role: "group", "aria-label": t.choices }, buttons);
  }

  function choiceButton(turnId, entryId, label) {
    var button = el("button", { type: "button", class: entryId ? "choice" : "choice none", text: label, "data-entry": entryId || "" });
    button.addEventListener("click", function () {
      if (state.busy) return;
      var group = button.parentNode;
      var focused = root.activeElement === button; // disabling drops the focus: keyboard users get it back below
      Array.prototype.forEach.call(group.querySelectorAll("button"), function (other) { other.disabled = true; });
      state.busy = true;
      showQuestion(label);
      write("/conversations/" + state.conversationId + "/choose", { turn_id: turnId, entry_id: entryId })
        .then(function (reply) {
          button.setAttribute("aria-pressed", "true");
          showAnswer(reply.turn_id, reply.answer, null);
          if (focused) log.lastElementChild.querySelector(".actions button").focus(); // "This solved it", or "Talk to a person"
        })
        .catch(function (error) {
          Array.prototype.forEach.call(group.querySelectorAll("button"), function (other) { other.disabled = false; });
          showError(error);
          if (focused) button.focus();
        })
        .then(function () { state.busy = false; });
    });
    return button;
  }

  function voteButton(turnId, helpful, label, pressed) {
    var button = el("button", { type: "button", class: helpful ? "solved" : "not-helpful", "aria-pressed": String(pressed), text: label });
    button.addEventListener("click", function () {
      var focused = root.activeElement === button; // disabling drops the focus: keyboard users get it back below
      button.disabled = true;
      write("/conversations/" + state.conversationId + "/feedback", { turn_id: turnId, helpful: helpful })
        .then(function () {
          Array.prototype.forEach.call(button.parentNode.querySelectorAll("[aria-pressed]"), function (other) { other.setAttribute("aria-pressed", "false"); });
          button.setAttribute("aria-pressed", "true");
          note(helpful ? t.glad : t.sorry);
          if (helpful) track("question_resolved");
        })
        .catch(showError)
        .then(function () { button.disabled = false; if (focused) button.focus(); });
    });
    return button;
  }

  function handOver(button) {
    if (!state.conversationId) return;
    button.disabled = true;
    if (user) sendHandOver(button, null, null); // a verified user: the team knows who they are
    else askContact(button);
  }

  // An anonymous visitor may leave an e-mail with the hand-over, so the team can reach them after they left.
  function askContact(button) {
    var email = el("input", { type: "email", autocomplete: "email", maxlength: "254", placeholder: "name@example.com" });
    var contact = el("form", { class: "msg contact", novalidate: "" }, [
      el("label", {}, [el("span", { text: t.emailLabel }), email]),
      el("button", { type: "submit", class: "person", text: t.sendToPerson }),
    ]);
    contact.addEventListener("submit", function (event) {
      event.preventDefault();
      if (contact.dataset.sending) return;
      contact.dataset.sending = "1";
      sendHandOver(button, email.value.trim() || null, contact).then(function () { delete contact.dataset.sending; });
    });
    log.appendChild(contact);
    scrollDown();
    email.focus();
  }

  function sendHandOver(button, email, contact) {
    var body = { reason: t.reasonPerson };
    if (email) body.email = email;
    return write("/conversations/" + state.conversationId + "/escalate", body)
      .then(function (escalation) {
        if (contact) contact.remove();
        setHandedOver(true);
        // Truthful about what happens next: with no destination configured nobody was told.
        var next = !escalation.destinations.length ? t.handedOverNowhere : email ? t.handedOverEmail.replace("{email}", email) : t.handedOver;
        note(next, "handover");
        input.focus();
        watchReplies();
      })
      .catch(function (error) {
        if (contact && error instanceof ApiError && error.status === 422) { note(t.badEmail, "error"); contact.querySelector("input").focus(); return; }
        if (contact) contact.remove();
        button.disabled = false;
        showError(error);
      });
  }

  function showError(error) {
    if (error instanceof ApiError && error.status === 429) note(t.tooMany.replace("{s}", error.retryAfter || "60"), "error");
    else if (error instanceof ApiError && error.status === 422 && /too long/.test(error.detail || "")) note(t.tooLong, "error");
    else if (error instanceof ApiError && error.status === 401) note(t.notVerified, "error"); // the reason is in the console (explainIdentity)
    else if (!(error instanceof ApiError)) note(t.unreachable, "error"); // …and here too (explainUnreachable)
    else note(t.error, "error");
  }

  function ensureConversation() {
    if (state.conversationId) return Promise.resolve(state.conversationId);
    var body = { locale: locale, visitor_id: visitorId };
    if (user) body.user = user;
    return write("/conversations", body).then(function (created) {
      state.conversationId = created.id;
      remember(conversationKey, created.id);
      return created.id;
    });
  }

  function ask(text) {
    state.busy = true;
    sendButton.disabled = true;
    showQuestion(text);
    var thinking = note(t.thinking, "thinking");
    var asNew = !state.handedOver || state.newQuestion;
    return ensureConversation()
      .then(function (id) { return write("/conversations/" + id + "/messages", { text: text, new_question: state.handedOver && asNew }); })
      .then(function (reply) {
        thinking.remove();
        if (reply.quiet) { note(t.noted); return; }
        if (state.handedOver) setHandedOver(false);
        showAnswer(reply.turn_id, reply.answer, null);
      })
      .catch(function (error) {
        thinking.remove();
        if (error instanceof ApiError && error.status === 404 && state.conversationId) { // expired or unknown: start afresh
          state.conversationId = null;
          remember(conversationKey, null);
        }
        showError(error);
      })
      .then(function () { state.busy = false; sendButton.disabled = false; });
  }

  function restore() {
    if (!state.conversationId) { welcome(); return; }
    call("GET", "/conversations/" + state.conversationId).then(function (conversation) {
      conversation.turns.forEach(function (turn) {
        if (turn.role === "person") { showPersonReply(turn); return; }
        showQuestion(turn.question);
        if (turn.answer) showAnswer(turn.id, turn.answer, turn.feedback);
        else note(t.noted);
      });
      setHandedOver(conversation.handed_over);
      if (conversation.escalations.length) watchReplies();
    }).catch(function () {
      state.conversationId = null;
      remember(conversationKey, null);
      welcome();
    });
  }

  // A new conversation: the site's welcome message, then its starter questions ("Popular
  // questions": configured, or the entries answered most), each asked with one click.
  function welcome() {
    loadConfig().then(function (config) {
      var brand = (config && config.branding) || {};
      note(data.welcome || brand.welcome || t.intro);
      if (configError && !(configError instanceof ApiError)) note(t.unreachable, "error"); // CORS or a server down: say so before they type
      var configured = (data.starterQuestions || "").split("|").map(function (text) { return text.trim(); }).filter(Boolean);
      showStarters(configured.length ? configured : (config && config.starter_questions) || []);
    });
  }
  function showStarters(questions) {
    if (!questions.length) return;
    var group = el("div", { class: "starters", role: "group", "aria-labelledby": "starters-title" }, [el("p", { id: "starters-title", class: "starters-title", text: t.popular })]);
    questions.slice(0, 5).forEach(function (question) {
      var button = el("button", { type: "button", class: "starter", text: question });
      button.addEventListener("click", function () {
        if (state.busy) return;
        group.remove();
        input.focus();
        ask(question);
      });
      group.appendChild(button);
    });
    log.appendChild(group);
  }

  // ---- People's replies after a hand-over (from the Slack thread or a helpdesk): asked for every
  // few seconds while the page is visible. They live in the database, so any server instance
  // behind a load balancer answers the same; a reply already shown is not shown again.
  var REPLY_POLL_MS = 4000;
  var shownReplies = {};
  var watchingReplies = false;
  function showPersonReply(reply) {
    if (shownReplies[reply.id]) return;
    shownReplies[reply.id] = true;
    var from = reply.author ? t.personNamed.replace("{name}", reply.author) : t.personAnon;
    log.appendChild(el("article", { class: "msg person", "data-reply-id": reply.id }, [
      el("p", { class: "author", text: from }), el("p", { class: "reply", text: reply.text }),
    ]));
    scrollDown();
  }
  function watchReplies() {
    if (watchingReplies) return;
    watchingReplies = true;
    (function next() {
      setTimeout(function () {
        if (document.hidden || !state.conversationId) { next(); return; }
        call("GET", "/conversations/" + state.conversationId + "/replies")
          .then(function (found) { found.replies.forEach(showPersonReply); }, function () { /* asked again at the next tick */ })
          .then(next);
      }, REPLY_POLL_MS);
    })();
  }

  // ---- The onboarding checklist and product events: only for verified users, only when this
  // server has those routes (asked once: a 404 would show in the host page's console), silent on failure.
  var config = null, configError = null;
  function loadConfig() { // the server's features, branding and starter questions; null when it cannot be asked
    if (!config) config = call("GET", "/widget/config?locale=" + locale).then(null, function (error) { configError = error; return null; });
    return config;
  }
  function features() {
    return loadConfig().then(function (c) { return (c && c.features) || {}; });
  }
  function loadSetup() {
    if (!user) return;
    features().then(function (available) { if (available.onboarding_progress) loadProgress(); });
  }
  function loadProgress() {
    var query = "?user_id=" + encodeURIComponent(user.id) + "&org_id=" + encodeURIComponent(user.org_id) + "&hash=" + encodeURIComponent(user.hash) + "&locale=" + locale;
    call("GET", "/onboarding/progress" + query).then(function (progress) {
      if (!progress || !Array.isArray(progress.steps) || !progress.steps.length) return;
      var list = el("ul", {});
      progress.steps.forEach(function (step) {
        // An open step links to the entry that explains it.
        var help = !step.done && step.help && safeUrl(step.help.url);
        list.appendChild(el("li", { class: step.done ? "done" : "todo" }, [
          el("span", { class: "check", "aria-hidden": "true", text: step.done ? "✓" : "" }),
          help ? el("a", { href: step.help.url, target: "_blank", rel: "noopener noreferrer", title: step.help.title, text: step.title }) : el("span", { text: step.title }),
          step.required === false ? el("span", { class: "optional", text: t.optional }) : null,
          step.done ? el("span", { class: "visually-hidden", text: " (" + t.done + ")" }) : null,
        ]));
      });
      setup.replaceChildren(el("summary", { text: t.setup + " · " + setupSummary(progress.steps) }), el("p", { class: "legend", text: t.setupLegend }), list);
      setup.hidden = false;
    }).catch(function () { /* no onboarding progress on this server: show nothing */ });
  }

  // Progress counts the required steps (the optional ones are marked in the list); without any
  // required step, all of them.
  function setupSummary(steps) {
    var required = steps.filter(function (step) { return step.required !== false; });
    var done = required.filter(function (step) { return step.done; }).length;
    if (required.length && required.length < steps.length) return t.setupProgress.replace("{done}", done).replace("{total}", required.length);
    return done + "/" + steps.length;
  }

  function requiredText(done, total) { return t.required.replace("{done}", done).replace("{total}", total); }

  // ---- Next-step nudge: a small card above the launcher with the next required step and the
  // entry that helps with it. The server decides whether one is due (once per step per day, on
  // every device), so the widget asks only when it would show it: the panel closed and the user
  // not typing (no key pressed for a few seconds, anywhere on the page).
  var TYPING_PAUSE_MS = 3000;
  var lastKey = Date.now(); // the first nudge waits a moment after the page loads, too
  document.addEventListener("keydown", function () { lastKey = Date.now(); }, true);
  function typing() { return Date.now() - lastKey < TYPING_PAUSE_MS || input.value !== ""; }
  function scheduleNudge() {
    if (!user || data.nudges === "off") return;
    features().then(function (available) {
      if (!available.nudges) return;
      var due = null, asked = false;
      var timer = setInterval(function () {
        if (typing() || !panel.hidden) return;
        if (due) { clearInterval(timer); showNudge(due); return; }
        if (asked) return;
        asked = true;
        write("/widget/nudge", { user: user, locale: locale }).then(function (reply) {
          if (reply.nudge && safeUrl(reply.nudge.help.url)) due = reply.nudge; else clearInterval(timer);
        }, function () { clearInterval(timer); });
      }, 1000);
    });
  }
  function showNudge(nudge) {
    var text = el("p", { id: "nudge-text", class: "nudge-text" }, [el("strong", { text: t.nextStep }), document.createTextNode(" " + nudge.title)]);
    var count = el("p", { class: "nudge-count", text: requiredText(nudge.required_done, nudge.required_total) });
    var link = el("a", { class: "nudge-open", href: nudge.help.url, target: "_blank", rel: "noopener noreferrer", text: nudge.help.title });
    var dismiss = el("button", { type: "button", class: "nudge-dismiss", "aria-label": t.dismiss, text: "×" });
    var card = el("aside", { class: "nudge", "aria-label": t.nudge, "aria-describedby": "nudge-text" }, [dismiss, text, count, link]);
    function done(action) {
      var focused = card.contains(root.activeElement);
      nudgeRegion.replaceChildren();
      if (focused) launcher.focus(); // keyboard users keep their place
      write("/widget/nudge/" + action, { user: user, step: nudge.step, entry_id: nudge.help.id }).catch(function () { /* not recorded: nothing to show */ });
    }
    link.addEventListener("click", function () { done("opened"); });
    dismiss.addEventListener("click", function () { done("dismissed"); });
    card.addEventListener("keydown", function (event) { if (event.key === "Escape") { event.preventDefault(); done("dismissed"); } });
    nudgeRegion.replaceChildren(card);
  }

  function track(name) {
    if (!user || typeof name !== "string" || !name) return Promise.resolve(false);
    return features().then(function (available) {
      if (!available.events) return false;
      return call("POST", "/widget/events", { user: user, name: name, event_id: uuid() })
        .then(function () { return true; }, function () { return false; });
    });
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    host.classList.add("open");
    nudgeRegion.replaceChildren(); // the panel takes the place of the nudge (it was shown: no second one today)
    if (!state.opened) { state.opened = true; restore(); loadSetup(); }
    input.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { event.preventDefault(); close(); } });
  newQuestionButton.addEventListener("click", function () {
    state.newQuestion = true;
    handoverBar.hidden = true;
    input.placeholder = t.placeholder;
    input.setAttribute("aria-label", t.placeholder);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || state.busy) return;
    input.value = "";
    ask(text);
  });

  // ---- Branding: data-* attributes over the server's JISO_WIDGET_* over our defaults. Text on the
  // accent colour must reach WCAG AA (4.5:1); a colour that does not is replaced by white or black
  // (whichever reaches it), with a warning for the site's developer.
  var AA = 4.5, HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i, DEFAULT_ACCENT = "#3b5bdb";
  function rgb(colour) {
    var digits = colour.slice(1).length === 3 ? colour.slice(1).replace(/./g, "$&$&") : colour.slice(1);
    return [0, 2, 4].map(function (at) { return parseInt(digits.slice(at, at + 2), 16); });
  }
  function luminance(colour) {
    var linear = rgb(colour).map(function (value) { value /= 255; return value <= 0.03928 ? value / 12.92 : Math.pow((value + 0.055) / 1.055, 2.4); });
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
  }
  function contrast(first, second) {
    var a = luminance(first), b = luminance(second);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }
  function readableOn(background) { // as api/branding.py: white, else our near-black, else black
    return ["#ffffff", "#1f2430"].filter(function (text) { return contrast(background, text) >= AA; })[0] || "#000000";
  }
  function mix(colour, toward, share) {
    var to = rgb(toward);
    return "#" + rgb(colour).map(function (value, at) { return (Math.round(value + (to[at] - value) * share) + 256).toString(16).slice(1); }).join("");
  }
  function brandColours(server) {
    var accent = server.accent || DEFAULT_ACCENT, text = server.accent_text || "";
    if (data.accent && HEX.test(data.accent)) { accent = data.accent; text = ""; }
    else if (data.accent) console.warn('jiso: data-accent="' + data.accent + '" is not a colour like #3b5bdb: ignored');
    if (data.accentText && HEX.test(data.accentText) && contrast(data.accentText, accent) >= AA) text = data.accentText;
    else if (data.accentText) {
      console.warn('jiso: data-accent-text="' + data.accentText + '" on ' + accent + " is not a colour with WCAG AA contrast (" + AA + ":1 for text): using " + readableOn(accent));
    }
    text = text || readableOn(accent);
    // Links and choices are accent-coloured text on light bubbles: darkened until they read there too.
    var dark = mix(accent, "#000000", 0.15);
    for (var step = 0; step < 20 && contrast(dark, "#eef2ff") < AA; step++) dark = mix(dark, "#000000", 0.1);
    var hover = mix(accent, text === "#ffffff" ? "#000000" : "#ffffff", 0.15);
    return { accent: accent, onAccent: text, dark: dark, hover: contrast(hover, text) >= AA ? hover : accent };
  }
  function applyBranding(server) {
    if ((data.position || server.position) === "left") host.classList.add("left");
    var label = data.launcherLabel || server.launcher_label;
    if (label) launcher.lastChild.textContent = label;
    var logo = data.logo || server.logo_url;
    if (logo && safeUrl(logo)) title.parentNode.insertBefore(el("img", { class: "logo", src: new URL(logo, BASE).href, alt: "" }), title);
    var colours = brandColours(server);
    if (colours.accent.toLowerCase() === DEFAULT_ACCENT && colours.onAccent === "#ffffff") return; // ours: the stylesheet's shades
    host.style.setProperty("--accent", colours.accent);
    host.style.setProperty("--on-accent", colours.onAccent);
    host.style.setProperty("--accent-dark", colours.dark);
    host.style.setProperty("--accent-hover", colours.hover);
  }

  // Shown once styled and branded; a server slow to answer gets 3 s, then the defaults show.
  var styled = new Promise(function (resolve) { stylesheet.addEventListener("load", resolve); });
  var branded = loadConfig().then(function (c) { applyBranding((c && c.branding) || {}); });
  Promise.all([styled, Promise.race([branded, new Promise(function (resolve) { setTimeout(resolve, 3000); })])]).then(function () { host.hidden = false; });

  function mount() { document.body.appendChild(host); scheduleNudge(); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.jiso = { version: "1", open: open, close: close, track: track, locale: locale };
})();
