/*
 * Lucine chat widget: one tag on any page, no dependencies, no build step.
 *
 *   <script src="https://HOST/widget.js" defer
 *           data-language="it" data-position="right" data-color="#b0122c"
 *           data-greeting="Ciao!" data-api="https://HOST"
 *           data-test-param="chatbot=test"></script>
 *
 * Every option is optional. The API defaults to the origin this file came from, so a
 * shop on another origin only needs the tag (and LUCINE_CORS_ORIGINS on the server).
 *
 * Rules this file keeps: the DOM is built with createElement and every text from the
 * network goes in through textContent (visitors and operators type whatever they like);
 * no inline <style> or style="" (our pages and many shops forbid them by CSP: the look
 * comes from widget.css, and the accent colour is set through the CSSOM, which CSP allows).
 */
(function () {
  "use strict";
  // Themes sometimes include a snippet twice; one widget is enough.
  if (window.LucineChat) return;

  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  const opts = (script && script.dataset) || {};
  // Trying the chat on a live shop (data-test-param="chatbot=test"): only whoever opened
  // a page with ?chatbot=test sees it, on that page and the rest of their visit. Liquid
  // cannot read the query string (Shopify caches pages), so the check lives here.
  if (opts.testParam) {
    const [key, value] = opts.testParam.split("=");
    const flag = "lucine-chat-test";
    try {
      if (new URLSearchParams(location.search).get(key) === (value || "")) sessionStorage.setItem(flag, "1");
      if (!sessionStorage.getItem(flag)) return;
    } catch (e) {
      if (new URLSearchParams(location.search).get(key) !== (value || "")) return;
    }
  }
  const origin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  const API = (opts.api || origin).replace(/\/+$/, "");
  const STORE_KEY = "lucine-chat:" + API;
  const HELD = ["WITH_OPERATOR", "WAITING_CLIENT"];
  const CLOSED = ["RESOLVED", "NOT_RESOLVED", "CANCELLED"];
  const POLL_MS = 3000; // without the stream: how often to ask
  const QUEUE_POLL_MS = 5000; // the queue moves without an event on our channel
  const STREAM_RETRY_MS = 30000; // after the server refused the stream outright
  const PAGE_SIZE = 200; // the server's largest poll answer
  const RESEND_MS = [500, 1000, 2000]; // waits before sending again after a dropped connection
  const UNAVAILABLE = [502, 503, 504]; // the service (or its database) is down for a moment
  const C = "lucine-chat";

  const TEXT = {
    it: {
      title: "Lucine di Natale", assistant: "Assistente virtuale", operator: "Operatore",
      open: "Apri la chat", close: "Chiudi la chat", unread: "{n} nuovi messaggi",
      greeting: "Ciao! Sono l'assistente di Lucine di Natale. Chiedimi di orari, biglietti, parcheggio o di qualsiasi altra cosa.",
      inputLabel: "Il tuo messaggio", placeholder: "Scrivi un messaggio…", send: "Invia",
      log: "Conversazione", typing: "L'assistente sta scrivendo…", you: "Tu", notice: "Avviso",
      source: "Fonte:", sources: "Fonti:",
      queue: "Sei in coda: posizione {n}", wait: "attesa stimata circa {n} min", waitSoon: "tocca a te a breve",
      ticketTitle: "Lasciaci un messaggio", ticketIntro: "Nessun operatore è disponibile ora. Lasciaci un contatto e ti risponderemo al più presto.",
      name: "Nome (facoltativo)", email: "Email", phone: "Telefono", message: "Messaggio",
      confirm: "Inviami una copia della richiesta",
      ticketSend: "Invia richiesta", notNow: "Non ora", needContact: "Inserisci un'email o un numero di telefono.",
      badEmail: "Controlla l'indirizzo email.", needMessage: "Scrivi il tuo messaggio.",
      ticketDone: "Richiesta inviata (n. {id}). Ti ricontatteremo al più presto.",
      rateTitle: "Com'è andata la chat?", star: "{n} su 5", comment: "Commento (facoltativo)",
      rateSend: "Invia valutazione", rateThanks: "Grazie per la tua valutazione!",
      newChat: "Nuova conversazione", offline: "Connessione non riuscita. Controlla la rete e riprova.",
      limited: "Troppi messaggi in poco tempo: riprova tra un minuto.", failed: "Qualcosa è andato storto. Riprova.",
      unavailable: "Il servizio è momentaneamente non disponibile. Riprova tra qualche istante.",
      notSent: "Non inviato.", retry: "Riprova",
    },
    en: {
      title: "Lucine di Natale", assistant: "Virtual assistant", operator: "Operator",
      open: "Open the chat", close: "Close the chat", unread: "{n} new messages",
      greeting: "Hi! I'm the Lucine di Natale assistant. Ask me about opening hours, tickets, parking or anything else.",
      inputLabel: "Your message", placeholder: "Write a message…", send: "Send",
      log: "Conversation", typing: "The assistant is typing…", you: "You", notice: "Notice",
      source: "Source:", sources: "Sources:",
      queue: "You are in the queue: number {n}", wait: "estimated wait about {n} min", waitSoon: "almost your turn",
      ticketTitle: "Leave us a message", ticketIntro: "No operator is available right now. Leave your contact details and we will get back to you soon.",
      name: "Name (optional)", email: "E-mail", phone: "Phone", message: "Message",
      confirm: "Send me a copy of my request",
      ticketSend: "Send request", notNow: "Not now", needContact: "Please enter an e-mail address or a phone number.",
      badEmail: "Please check the e-mail address.", needMessage: "Please write your message.",
      ticketDone: "Request sent (no. {id}). We will get back to you soon.",
      rateTitle: "How was this chat?", star: "{n} out of 5", comment: "Comment (optional)",
      rateSend: "Send rating", rateThanks: "Thank you for your rating!",
      newChat: "New conversation", offline: "Could not connect. Check your network and try again.",
      limited: "Too many messages in a short time: please try again in a minute.", failed: "Something went wrong. Please try again.",
      unavailable: "The service is briefly unavailable. Please try again in a moment.",
      notSent: "Not sent.", retry: "Try again",
    },
    de: {
      title: "Lucine di Natale", assistant: "Virtueller Assistent", operator: "Mitarbeiter",
      open: "Chat öffnen", close: "Chat schließen", unread: "{n} neue Nachrichten",
      greeting: "Hallo! Ich bin der Assistent von Lucine di Natale. Fragen Sie mich nach Öffnungszeiten, Tickets, Parkplätzen oder allem anderen.",
      inputLabel: "Ihre Nachricht", placeholder: "Nachricht schreiben…", send: "Senden",
      log: "Unterhaltung", typing: "Der Assistent schreibt…", you: "Sie", notice: "Hinweis",
      source: "Quelle:", sources: "Quellen:",
      queue: "Sie sind in der Warteschlange: Nummer {n}", wait: "geschätzte Wartezeit etwa {n} Min.", waitSoon: "gleich sind Sie dran",
      ticketTitle: "Hinterlassen Sie uns eine Nachricht", ticketIntro: "Im Moment ist kein Mitarbeiter verfügbar. Hinterlassen Sie Ihre Kontaktdaten, wir melden uns bald.",
      name: "Name (optional)", email: "E-Mail", phone: "Telefon", message: "Nachricht",
      confirm: "Eine Kopie meiner Anfrage an mich senden",
      ticketSend: "Anfrage senden", notNow: "Nicht jetzt", needContact: "Bitte geben Sie eine E-Mail-Adresse oder Telefonnummer an.",
      badEmail: "Bitte prüfen Sie die E-Mail-Adresse.", needMessage: "Bitte schreiben Sie Ihre Nachricht.",
      ticketDone: "Anfrage gesendet (Nr. {id}). Wir melden uns bald.",
      rateTitle: "Wie war dieser Chat?", star: "{n} von 5", comment: "Kommentar (optional)",
      rateSend: "Bewertung senden", rateThanks: "Vielen Dank für Ihre Bewertung!",
      newChat: "Neue Unterhaltung", offline: "Keine Verbindung. Bitte prüfen Sie Ihr Netz und versuchen Sie es erneut.",
      limited: "Zu viele Nachrichten in kurzer Zeit: bitte in einer Minute erneut versuchen.", failed: "Etwas ist schiefgelaufen. Bitte erneut versuchen.",
      unavailable: "Der Dienst ist kurz nicht verfügbar. Bitte versuchen Sie es gleich noch einmal.",
      notSent: "Nicht gesendet.", retry: "Erneut senden",
    },
  };
  const lang = [opts.language, document.documentElement.lang, navigator.language]
    .map((l) => String(l || "").slice(0, 2).toLowerCase())
    .find((l) => l in TEXT) || "it";
  const t = TEXT[lang];
  const fmt = (s, values) => s.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));

  // ---- DOM helpers -------------------------------------------------------------------
  let ids = 0;
  const uid = () => C + "-" + ++ids;
  function el(tag, cls, text, attrs) {
    const node = document.createElement(tag);
    if (cls) node.className = cls.split(" ").map((c) => C + "__" + c).join(" ");
    if (text != null) node.textContent = text;
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    return node;
  }
  const PATHS = {
    chat: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8.5L4 22v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
    send: "M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z",
    star: "M12 17.27 18.18 21l-1.64-7.03L22 9.24l-7.19-.61L12 2 9.19 8.63 2 9.24l5.46 4.73L5.82 21z",
  };
  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", C + "__icon");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", PATHS[name]);
    svg.appendChild(path);
    return svg;
  }

  // ---- The widget's elements -----------------------------------------------------------
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = API + "/widget.css";
  document.head.appendChild(css);

  const root = el("div", null, null, { lang: lang, "data-lucine-chat": "" });
  root.className = C + " " + C + "--" + (opts.position === "left" ? "left" : "right");
  // Hidden until widget.css arrives: an unstyled button would flash at the end of the page.
  root.hidden = true;
  const reveal = () => { root.hidden = false; };
  css.addEventListener("load", reveal);
  css.addEventListener("error", reveal);
  if (opts.color && window.CSS && CSS.supports("color", opts.color)) {
    root.style.setProperty("--lucine-accent", opts.color);
  }
  const panelId = uid(), titleId = uid(), inputId = uid();
  const launcher = el("button", "launcher", null, { type: "button", "aria-expanded": "false", "aria-controls": panelId, "aria-label": t.open });
  const badge = el("span", "badge", null, { "aria-hidden": "true" });
  badge.hidden = true;
  launcher.append(icon("chat"), badge);

  const panel = el("section", "panel", null, { id: panelId, role: "dialog", "aria-labelledby": titleId });
  panel.hidden = true;
  const header = el("header", "header");
  const avatar = el("span", "avatar", "✦", { "aria-hidden": "true" });
  const titles = el("div", "titles");
  const title = el("h2", "title", t.title, { id: titleId });
  const subtitle = el("p", "subtitle", t.assistant);
  titles.append(title, subtitle);
  const closeBtn = el("button", "close", null, { type: "button", "aria-label": t.close });
  closeBtn.append(icon("close"));
  header.append(avatar, titles, closeBtn);

  const log = el("div", "log", null, { "aria-label": t.log, tabindex: "0", role: "region" });
  const greeting = bubble("BOT", opts.greeting || t.greeting, {});
  // Forms, the typing dots and errors live at the end of the conversation, after messages.
  const dock = el("div", "dock");
  const typing = el("div", "typing");
  typing.append(el("span", "dot"), el("span", "dot"), el("span", "dot"), el("span", "sr", t.typing));
  typing.hidden = true;
  const errorBox = el("p", "error", null, { role: "alert" });
  errorBox.hidden = true;
  dock.append(typing, errorBox);
  log.append(greeting, dock);

  const queueBox = el("div", "queue", null, { role: "status" });
  queueBox.hidden = true;

  const composer = el("form", "composer");
  composer.noValidate = true;
  const input = el("textarea", "input", null, { id: inputId, rows: "1", maxlength: "2000", placeholder: t.placeholder, autocomplete: "off" });
  const sendBtn = el("button", "send", null, { type: "submit", "aria-label": t.send });
  sendBtn.append(icon("send"));
  composer.append(el("label", "sr", t.inputLabel, { for: inputId }), input, sendBtn);

  panel.append(header, log, queueBox, composer);
  // Outside the panel: a hidden panel's live region would announce nothing.
  const live = el("div", "sr", null, { "aria-live": "polite", "aria-atomic": "true" });
  root.append(panel, launcher, live);
  // Without defer the tag may run in <head>, before there is a body to attach to.
  if (document.body) document.body.appendChild(root);
  else document.addEventListener("DOMContentLoaded", () => document.body.appendChild(root));

  // ---- State ---------------------------------------------------------------------------
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY)) || {}; } catch (e) { return {}; }
  }
  const saved = load();
  let session = typeof saved.sessionId === "string" ? saved.sessionId : null;
  // Only polls move lastSeq: an answer shown early must not hide what came before it.
  let lastSeq = 0;
  let seenBefore = Number(saved.lastSeq) || 0; // what the visitor saw on earlier pages
  let rated = saved.rated || "";
  let seen = new Set();
  const pending = []; // visitor messages shown before the server numbered them
  const outbox = []; // of those, the ones the server has not answered yet, oldest first
  let givenBack = null; // { text, id } of a message put back into the input after a refusal
  let status = null, operator = null, queue = null;
  let actionsNode = null, actionsSeq = 0, ticket = null, ticketNode = null, ratingNode = null, ratingSeq = 0;
  let draft = null; // the reply being streamed, until the stored message replaces it
  let unread = 0, sending = false, rebuilding = false;

  function save() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ sessionId: session, lastSeq: lastSeq, open: !panel.hidden, rated: rated }));
    } catch (e) { /* storage may be blocked (private mode, third-party rules): stay in memory */ }
  }

  async function api(method, path, body) {
    const init = { method: method, credentials: "omit", cache: "no-store", headers: {} };
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(API + path, init);
    const payload = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      const err = new Error((payload && payload.code) || "http " + res.status);
      err.status = res.status;
      throw err;
    }
    return payload;
  }

  // ---- Messages ------------------------------------------------------------------------
  function sourceLabel(id) {
    return String(id).replace(/^(en|de)-/, "").replace(/-/g, " ");
  }

  function bubble(sender, text, meta) {
    const kind = sender.toLowerCase();
    const node = el("div", "msg msg--" + kind);
    if (meta.kind) node.classList.add(C + "__msg--" + meta.kind.replace(/[^a-z_]/g, ""));
    if (sender === "OPERATOR") node.append(el("p", "who", meta.operatorName || operator || t.operator));
    node.append(el("p", "bubble", text));
    if (sender === "BOT" && meta.sources && meta.sources.length) {
      const label = meta.sources.length > 1 ? t.sources : t.source;
      node.append(el("p", "source", label + " " + meta.sources.map(sourceLabel).join(", ")));
    }
    return node;
  }

  // In order of seq; stops at anything without one (greeting, dividers, unsent bubbles).
  function place(node, seq) {
    let before = dock;
    while (before.previousSibling && Number(before.previousSibling.dataset.seq) > seq) {
      before = before.previousSibling;
    }
    log.insertBefore(node, before);
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function dropDraft() {
    if (draft) { draft.remove(); draft = null; }
  }

  function addMessage(m) {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    if (m.sender !== "USER") dropDraft();
    const meta = m.metadata || {};
    // Buttons belong to the newest message only: anything later makes them stale.
    if (actionsNode && m.seq > actionsSeq) { actionsNode.remove(); actionsNode = null; }
    if (m.sender === "USER") {
      const mine = pending.findIndex((p) => p.text === m.message);
      if (mine >= 0) {
        const p = pending.splice(mine, 1)[0];
        // Stored after all (the answer was what got lost): nothing left to send.
        if (outbox.indexOf(p) >= 0) outbox.splice(outbox.indexOf(p), 1);
        if (p.unsent) markUnsent(p, false);
        p.node.classList.remove(C + "__msg--pending");
        p.node.dataset.seq = m.seq;
        return;
      }
    }
    const node = bubble(m.sender, m.message, meta);
    node.dataset.seq = m.seq;
    if (m.timestamp) node.title = new Date(m.timestamp).toLocaleString(lang);
    if (m.sender === "BOT" && meta.smartActions && meta.smartActions.length) {
      actionsNode = el("div", "actions", null, { role: "group" });
      meta.smartActions.forEach((a) => {
        const b = el("button", "action", a.text, { type: "button" });
        b.addEventListener("click", () => act(a.action, actionsNode));
        actionsNode.append(b);
      });
      node.append(actionsNode);
      actionsSeq = m.seq;
    }
    place(node, m.seq);
    if (meta.kind === "ticket_offer") ticket = "offered";
    if (meta.kind === "ticket_confirmation") ticket = "sent";
    if (meta.kind === "rating_request") ratingSeq = m.seq;
    if (m.sender !== "USER" && !rebuilding) {
      const who = m.sender === "BOT" ? t.assistant : m.sender === "OPERATOR" ? meta.operatorName || t.operator : t.notice;
      live.textContent = who + ": " + m.message;
    }
    if (m.sender !== "USER" && panel.hidden && m.seq > seenBefore) {
      unread += 1;
      showUnread();
    }
  }

  function showUnread() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launcher.setAttribute("aria-label", unread ? t.open + " (" + fmt(t.unread, { n: unread }) + ")" : t.open);
  }

  function problemText(err) {
    return err.status === 429 ? t.limited : UNAVAILABLE.includes(err.status) ? t.unavailable : err.status ? t.failed : t.offline;
  }

  function showError(err) {
    errorBox.textContent = err ? problemText(err) : "";
    errorBox.hidden = !err;
    if (err) scrollDown();
  }

  // ---- Talking to the server -----------------------------------------------------------
  let pollRun = null, pollAgain = false;
  // One poll at a time; asking during one queues one more round, and the caller's promise
  // resolves only after that round, so "await poll()" always sees what happened before it.
  function poll() {
    if (!session) return Promise.resolve();
    if (pollRun) { pollAgain = true; return pollRun; }
    pollRun = pollRounds().finally(() => { pollRun = null; });
    return pollRun;
  }

  async function pollRounds() {
    try {
      do {
        pollAgain = false;
        const sid = session;
        const res = await api("GET", "/api/chat/poll/" + encodeURIComponent(sid) + "?since=" + lastSeq);
        if (sid !== session) break;
        res.messages.forEach(addMessage);
        lastSeq = Math.max(lastSeq, res.lastSeq);
        if (res.messages.length >= PAGE_SIZE) pollAgain = true;
        applyState(res.sessionStatus, res.operator, res.queue);
      } while (pollAgain && session);
    } catch (err) {
      // The server no longer knows the chat (purged, another server): start afresh.
      if (err.status === 404) forget();
    } finally {
      rebuilding = false;
      seenBefore = Math.max(seenBefore, lastSeq);
    }
  }

  function applyState(newStatus, newOperator, newQueue) {
    status = newStatus;
    operator = newOperator || null;
    queue = newQueue || null;
    const held = HELD.includes(status);
    title.textContent = held && operator ? operator : t.title;
    avatar.textContent = held && operator ? operator.charAt(0).toUpperCase() : "✦";
    subtitle.textContent = held ? t.operator : t.assistant;
    root.classList.toggle(C + "--with-operator", held);
    queueBox.hidden = !queue || held;
    if (queue && !held) {
      const mins = Math.ceil(queue.estimatedWaitSeconds / 60);
      queueBox.textContent = fmt(t.queue, { n: queue.position }) + " · " + (mins > 0 ? fmt(t.wait, { n: mins }) : t.waitSoon);
    }
    renderDock();
    schedule();
    save();
  }

  function renderDock() {
    const held = HELD.includes(status);
    const wantTicket = ticket === "offered" && !held && !queue;
    if (wantTicket && !ticketNode) { ticketNode = ticketForm(); dock.insertBefore(ticketNode, errorBox); scrollDown(); }
    if (!wantTicket && ticketNode) { ticketNode.remove(); ticketNode = null; }
    const key = session + ":" + ratingSeq;
    const wantRating = CLOSED.includes(status) && rated !== key;
    if (wantRating && !ratingNode) { ratingNode = ratingCard(key); dock.insertBefore(ratingNode, errorBox); scrollDown(); }
    if (!wantRating && ratingNode) { ratingNode.remove(); ratingNode = null; }
  }

  function startSession(id) {
    if (session || seen.size) {
      const divider = el("p", "divider", t.newChat);
      log.insertBefore(divider, pending.length ? pending[0].node : dock);
    }
    closeStream();
    session = id;
    lastSeq = 0;
    seenBefore = 0;
    seen = new Set();
    ticket = null;
    ratingSeq = 0;
  }

  function forget() {
    closeStream();
    session = null;
    status = operator = queue = null;
    applyState(null, null, null);
  }

  // Each message carries an id of its own, so the server stores a resent request once.
  function messageId() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID(); // secure pages only
    const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const bytes = new Uint8Array(22);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => abc[b & 63]).join("");
  }

  function send(raw) {
    const text = raw.replace(/\r\n?/g, "\n").trim();
    if (!text || sending) return;
    input.value = "";
    showError(null);
    // The text put back after a refusal, sent again unchanged, is the same message: if the
    // server kept it after all, it must not store it twice.
    const id = givenBack && givenBack.text === text ? givenBack.id : messageId();
    givenBack = null;
    const node = bubble("USER", text, {});
    node.classList.add(C + "__msg--pending");
    log.insertBefore(node, dock);
    const mine = { text: text, node: node, id: id, unsent: null, lost: false };
    pending.push(mine);
    outbox.push(mine);
    return flush();
  }

  // Sends the outbox in order; stops at the first message that does not get through.
  async function flush() {
    if (sending || !outbox.length) return;
    sending = true;
    // Anything that arrived while a message sat unsent came first: resent, it goes last.
    outbox.forEach((m) => { markUnsent(m, false); log.insertBefore(m.node, dock); });
    typing.hidden = HELD.includes(status);
    scrollDown();
    try {
      while (outbox.length) {
        const mine = outbox[0];
        const res = await deliver(mine);
        // A poll may have seen the message stored meanwhile and taken it out already.
        if (outbox.indexOf(mine) >= 0) outbox.splice(outbox.indexOf(mine), 1);
        if (!res) continue;
        if (res.sessionId !== session) startSession(res.sessionId);
        // Show the answer at once; the poll then brings everything else in order.
        if (res.message) addMessage(res.message);
      }
      showError(null);
      typing.hidden = true;
      // The answer is here: the next message may go while the poll catches up (an Enter
      // pressed in between used to be ignored).
      sending = false;
      poll();
    } catch (err) {
      dropDraft();
      if (err.status) giveBack();
      outbox.forEach((m) => markUnsent(m, true));
      showError(err);
    } finally {
      sending = false;
      typing.hidden = true;
      scrollDown();
    }
  }

  // One POST /api/chat; a connection lost on the way is retried with the same id, since
  // the server may have stored the message before the answer got lost. Null when a poll
  // showed it stored meanwhile: then there is nothing to send again.
  async function deliver(mine) {
    for (let tries = 0; ;) {
      const body = { message: mine.text, clientMessageId: mine.id };
      if (session) body.sessionId = session;
      try {
        return await api("POST", "/api/chat", body);
      } catch (err) {
        // The server no longer knows the chat (purged, another server): start afresh.
        if (err.status === 404 && session) { forget(); continue; }
        if (!err.status) mine.lost = true;
        if (err.status || tries >= RESEND_MS.length) throw err;
        await new Promise((done) => setTimeout(done, RESEND_MS[tries++]));
        if (outbox.indexOf(mine) < 0) return null;
      }
    }
  }

  // The server answered and refused (outage, limit): what the visitor wrote goes back
  // into the input, ahead of anything typed since, to be sent again when they choose.
  // Not a message whose answer got lost before: the server may hold that one, so it stays
  // unsent, to go again only under its own id.
  function giveBack() {
    const mine = outbox.filter((m) => !m.lost);
    if (!mine.length) return;
    mine.forEach((m) => {
      outbox.splice(outbox.indexOf(m), 1);
      pending.splice(pending.indexOf(m), 1);
      m.node.remove();
    });
    const text = mine.map((m) => m.text).join("\n");
    if (mine.length === 1) givenBack = { text: text, id: mine[0].id };
    input.value = input.value.trim() ? text + "\n" + input.value : text;
    input.dispatchEvent(new Event("input"));
  }

  // No answer at all even after resending: the bubble stays, marked, with a button to
  // try again (sending any new message tries it again too, first).
  function markUnsent(mine, unsent) {
    mine.node.classList.toggle(C + "__msg--pending", !unsent);
    mine.node.classList.toggle(C + "__msg--unsent", unsent);
    if (!unsent && mine.unsent) { mine.unsent.remove(); mine.unsent = null; }
    if (unsent && !mine.unsent) {
      mine.unsent = el("p", "unsent", t.notSent + " ");
      const again = el("button", "resend", t.retry, { type: "button" });
      again.addEventListener("click", () => { showError(null); flush(); });
      mine.unsent.append(again);
      mine.node.append(mine.unsent);
    }
  }

  async function act(action, group) {
    group.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    showError(null);
    try {
      const res = await api("POST", "/api/chat/action", { sessionId: session, action: action });
      group.remove();
      if (actionsNode === group) actionsNode = null;
      if (res.ticketOffered || res.outcome === "no_operator") ticket = "offered";
      await poll();
    } catch (err) {
      group.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      showError(err);
    }
  }

  // ---- Ticket form and rating ----------------------------------------------------------
  function field(form, type, label, name, autocomplete) {
    const id = uid();
    const wrap = el("div", "field");
    const control = type === "textarea" ? el("textarea", "control", null, { rows: "3", maxlength: "2000" }) : el("input", "control");
    if (type !== "textarea") control.type = type;
    control.id = id;
    control.name = name;
    control.autocomplete = autocomplete;
    wrap.append(el("label", "label", label, { for: id }), control);
    form.append(wrap);
    return control;
  }

  function ticketForm() {
    const headId = uid();
    const form = el("form", "card ticket", null, { "aria-labelledby": headId });
    form.noValidate = true;
    form.append(el("h3", "card-title", t.ticketTitle, { id: headId }), el("p", "card-text", t.ticketIntro));
    const name = field(form, "text", t.name, "name", "name");
    const email = field(form, "email", t.email, "email", "email");
    const phone = field(form, "tel", t.phone, "phone", "tel");
    const message = field(form, "textarea", t.message, "message", "off");
    // Consent to a copy by e-mail (or SMS): off unless the visitor ticks it.
    const confirmId = uid();
    const confirm = el("input", "check", null, { type: "checkbox", id: confirmId, name: "confirm" });
    const consent = el("div", "field field-check");
    consent.append(confirm, el("label", "label", t.confirm, { for: confirmId }));
    form.append(consent);
    const problem = el("p", "error", null, { role: "alert" });
    problem.hidden = true;
    const row = el("div", "row");
    const submit = el("button", "primary", t.ticketSend, { type: "submit" });
    const later = el("button", "ghost", t.notNow, { type: "button" });
    row.append(submit, later);
    form.append(problem, row);
    later.addEventListener("click", () => { ticket = "dismissed"; renderDock(); input.focus(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = { email: email.value.trim(), phone: phone.value.trim(), name: name.value.trim(), message: message.value.trim() };
      const wrong = !values.email && !values.phone ? [t.needContact, email]
        : values.email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email) ? [t.badEmail, email]
        : !values.message ? [t.needMessage, message] : null;
      problem.hidden = !wrong;
      if (wrong) { problem.textContent = wrong[0]; wrong[1].focus(); return; }
      const body = { sessionId: session, message: values.message, confirm: confirm.checked };
      ["email", "phone", "name"].forEach((k) => { if (values[k]) body[k] = values[k]; });
      submit.disabled = true;
      try {
        const res = await api("POST", "/api/chat/ticket", body);
        await poll();
        if (ticket !== "sent") {
          // The server's confirmation message did not arrive (yet): confirm here.
          ticket = "sent";
          log.insertBefore(bubble("SYSTEM", fmt(t.ticketDone, { id: res.ticketId }), { kind: "ticket_confirmation" }), dock);
        }
        renderDock();
        input.focus();
        scrollDown();
      } catch (err) {
        submit.disabled = false;
        problem.hidden = false;
        problem.textContent = problemText(err);
      }
    });
    return form;
  }

  function ratingCard(key) {
    const headId = uid();
    const card = el("form", "card rating", null, { "aria-labelledby": headId });
    card.noValidate = true;
    card.append(el("h3", "card-title", t.rateTitle, { id: headId }));
    const stars = el("div", "stars", null, { role: "group", "aria-labelledby": headId });
    let chosen = 0;
    const buttons = [1, 2, 3, 4, 5].map((n) => {
      const b = el("button", "star", null, { type: "button", "aria-label": fmt(t.star, { n: n }), "aria-pressed": "false" });
      b.append(icon("star"));
      b.addEventListener("click", () => {
        chosen = n;
        buttons.forEach((o, i) => {
          o.setAttribute("aria-pressed", String(i + 1 === n));
          o.classList.toggle(C + "__star--on", i < n);
        });
        submit.disabled = false;
      });
      stars.append(b);
      return b;
    });
    card.append(stars);
    const comment = field(card, "textarea", t.comment, "comment", "off");
    comment.setAttribute("maxlength", "1000");
    const submit = el("button", "primary", t.rateSend, { type: "submit" });
    submit.disabled = true;
    const problem = el("p", "error", null, { role: "alert" });
    problem.hidden = true;
    card.append(problem, submit);
    card.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!chosen) return;
      const body = { sessionId: session, rating: chosen };
      if (comment.value.trim()) body.comment = comment.value.trim();
      submit.disabled = true;
      try {
        await api("POST", "/api/chat/rating", body);
      } catch (err) {
        // 409: the chat was reopened meanwhile; nothing left to rate.
        if (err.status !== 409) {
          submit.disabled = false;
          problem.hidden = false;
          problem.textContent = problemText(err);
          return;
        }
      }
      rated = key;
      log.insertBefore(bubble("SYSTEM", t.rateThanks, { kind: "rating_thanks" }), dock);
      renderDock();
      save();
      input.focus();
      scrollDown();
    });
    return card;
  }

  // ---- Realtime: the stream when it works, polling when it does not --------------------
  let stream = null, streamLive = false, streamRetryAt = 0, timer = null, timerEvery = 0;

  function openStream() {
    const es = new EventSource(API + "/api/chat/stream/" + encodeURIComponent(session));
    stream = es;
    // Events say only "something changed": always fetch the content with one poll.
    const onEvent = () => {
      if (!streamLive) { streamLive = true; schedule(); }
      poll();
    };
    ["ready", "message", "status", "queue"].forEach((name) => es.addEventListener(name, onEvent));
    // The assistant's reply while the model writes it (LUCINE_LLM_STREAM): shown in a
    // draft bubble that the stored message replaces.
    es.addEventListener("delta", (e) => {
      let piece = "";
      try { piece = String(JSON.parse(e.data).text || ""); } catch (_) { return; }
      if (!piece) return;
      if (!draft) {
        draft = bubble("BOT", "", {});
        draft.classList.add(C + "__msg--draft");
        draft.setAttribute("aria-hidden", "true"); // the stored message is announced
        log.insertBefore(draft, dock);
        typing.hidden = true;
      }
      draft.querySelector("." + C + "__bubble").textContent += piece;
      scrollDown();
    });
    es.onerror = () => {
      streamLive = false;
      if (es.readyState === EventSource.CLOSED) {
        // Refused for good (404, blocked by a proxy): poll, and try again much later.
        stream = null;
        streamRetryAt = Date.now() + STREAM_RETRY_MS;
        setTimeout(schedule, STREAM_RETRY_MS + 50);
      }
      schedule();
    };
  }

  function closeStream() {
    if (stream) stream.close();
    stream = null;
    streamLive = false;
  }

  function schedule() {
    const alive = Boolean(session) && status !== "ENDED";
    if (!alive) closeStream();
    else if (!stream && window.EventSource && Date.now() >= streamRetryAt) openStream();
    const every = !alive ? 0 : !streamLive ? POLL_MS : queue && !HELD.includes(status) ? QUEUE_POLL_MS : 0;
    if (every === timerEvery) return;
    clearInterval(timer);
    timer = every ? setInterval(() => { if (!document.hidden) poll(); }, every) : null;
    timerEvery = every;
  }

  // ---- Opening, closing, keyboard ------------------------------------------------------
  function open(focus) {
    panel.hidden = false;
    root.classList.add(C + "--open");
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    showUnread();
    scrollDown();
    if (focus !== false) input.focus();
    save();
  }

  function close() {
    panel.hidden = true;
    root.classList.remove(C + "--open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
    save();
  }

  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  closeBtn.addEventListener("click", close);
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !panel.hidden) { e.preventDefault(); close(); }
  });
  composer.addEventListener("submit", (e) => { e.preventDefault(); send(input.value); });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter makes a new line; an IME's Enter only picks a character.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(input.value); }
  });
  input.addEventListener("input", () => {
    input.classList.toggle(C + "__input--tall", input.value.length > 40 || input.value.indexOf("\n") >= 0);
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });

  window.LucineChat = { open: open, close: close };

  // ---- Back on a page with a chat: rebuild it from the server --------------------------
  if (session) {
    rebuilding = true;
    poll();
  }
  // Reopen after navigation, but not on phones, where the panel would cover the page.
  if (saved.open && !window.matchMedia("(max-width: 480px)").matches) open(false);
})();
