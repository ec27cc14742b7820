// The open conversation: history, reply, notes, take, transfer, hand back, close, ticket.

import { api, enc } from "./api.js";
import {
  $,
  attempt,
  fillSelect,
  formatDateTime,
  formatTime,
  h,
  label,
  sessionBadge,
  shortId,
  toast,
} from "./dom.js";

const HELD = new Set(["WITH_OPERATOR", "WAITING_CLIENT"]);
const TAKEABLE = new Set(["ACTIVE", "IDLE"]);

let ctx;
const state = { openId: null, history: null, lastSeq: 0 };

/** The id of the chat on screen, or null. */
export function openChatId() {
  return state.openId;
}

function messageItem(message) {
  const meta = message.metadata || {};
  const who =
    message.sender === "OPERATOR" && meta.operatorName
      ? meta.operatorName
      : label("sender", message.sender);
  const actions = (meta.smartActions || []).map((a) => h("span", { class: "chip", text: a.text }));
  return h(
    "li",
    { class: `msg msg-${message.sender.toLowerCase()}`, dataset: { seq: message.seq } },
    h(
      "div",
      { class: "msg-meta" },
      h("span", { class: "msg-who", text: who }),
      h("time", {
        datetime: message.timestamp,
        title: formatDateTime(message.timestamp),
        text: formatTime(message.timestamp),
      }),
    ),
    h("div", { class: "msg-text", text: message.message }),
    actions.length ? h("div", { class: "msg-chips" }, ...actions) : null,
    meta.sources && meta.sources.length
      ? h("div", { class: "msg-sources", text: `Fonti: ${meta.sources.join(", ")}` })
      : null,
  );
}

function noteItem(note) {
  return h(
    "li",
    { class: "note" },
    h(
      "div",
      { class: "note-meta" },
      h("span", { class: "note-who", text: ctx.operatorName(note.operatorId) }),
      h("time", { datetime: note.createdAt, text: formatDateTime(note.createdAt) }),
    ),
    h("div", { class: "note-text", text: note.content }),
  );
}

function changeItem(change) {
  const actor = ctx.actorName(change.actor);
  return h(
    "li",
    {},
    h("span", { class: "change-when", text: formatTime(change.at) }),
    h("span", {
      class: "change-what",
      text: `${label("session", change.from)} → ${label("session", change.to)}`,
    }),
    h("span", { class: "change-who", text: `${actor}${change.reason ? ` · ${change.reason}` : ""}` }),
  );
}

function renderTransferChoices(session) {
  const select = $("transfer-select");
  const input = $("transfer-id");
  const admin = ctx.isAdmin();
  select.hidden = !admin;
  select.required = admin;
  input.hidden = admin;
  input.required = !admin;
  const candidates = [...ctx.operators.values()].filter(
    (op) => !op.disabled && op.id !== session.operatorId,
  );
  if (admin) {
    const previous = select.value;
    select.replaceChildren(
      h("option", { value: "", text: "Scegli un operatore…" }),
      ...candidates.map((op) =>
        h("option", {
          value: op.id,
          text: `${op.displayName} (${op.username}) · ${label("availability", op.availability)} · ${op.load}/${op.capacity}`,
        }),
      ),
    );
    if (candidates.some((op) => op.id === previous)) select.value = previous;
  } else {
    $("transfer-suggestions").replaceChildren(
      ...candidates.map((op) => h("option", { value: op.id, label: `${op.displayName} (${op.username})` })),
    );
  }
}

function renderConversation(scrollToEnd) {
  const { session, messages, internalNotes, statusChanges } = state.history;
  const held = HELD.has(session.status);
  const mine = held && ctx.me && session.operatorId === ctx.me.id;
  const mayAct = held && (mine || ctx.isAdmin());

  $("conversation-empty").hidden = true;
  $("conversation-body").hidden = false;
  $("conv-side").hidden = false;
  $("conv-title").textContent = `Chat ${shortId(session.id)}`;
  $("conv-title").title = session.id;
  $("conv-status").replaceChildren(sessionBadge(session.status));
  $("conv-meta").textContent = [
    ctx.assignedText(held ? session.operatorId : null),
    label("language", session.language),
    `iniziata ${formatDateTime(session.createdAt)}`,
    session.rating ? `valutazione ${session.rating}/5` : null,
  ]
    .filter(Boolean)
    .join(" · ");

  const box = $("messages");
  const nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  box.replaceChildren(...messages.map(messageItem));
  if (scrollToEnd || nearEnd) box.scrollTop = box.scrollHeight;

  $("notes").replaceChildren(...internalNotes.map(noteItem));
  $("notes-empty").hidden = internalNotes.length > 0;
  $("status-changes").replaceChildren(...statusChanges.map(changeItem));
  $("changes-empty").hidden = statusChanges.length > 0;

  $("take-btn").hidden = !TAKEABLE.has(session.status);
  $("handback-btn").hidden = !mayAct;
  const reply = $("reply-text");
  reply.disabled = !mine;
  $("reply-send").disabled = !mine;
  reply.placeholder = mine
    ? "Scrivi una risposta al cliente… (Invio per inviare, Maiusc+Invio per andare a capo)"
    : "Prendi in carico la chat per rispondere.";
  for (const id of ["status-panel", "transfer-panel", "ticket-panel"]) $(id).hidden = !mayAct;
  if (mayAct) renderTransferChoices(session);
}

function markOpen() {
  for (const item of document.querySelectorAll(".chat-item")) {
    item.classList.toggle("is-open", item.dataset.session === state.openId);
  }
}

async function loadHistory(scrollToEnd = false) {
  const id = state.openId;
  const history = await api(`/api/chat-management/history/${enc(id)}`);
  if (state.openId !== id) return;
  state.history = history;
  state.lastSeq = history.messages.reduce((max, m) => Math.max(max, m.seq), 0);
  for (const op of history.operators) ctx.rememberOperator(op);
  renderConversation(scrollToEnd);
}

/** Show one chat; from the lists, or from a ticket's link. */
export async function openConversation(sessionId) {
  ctx.showView("chats");
  if (state.openId !== sessionId) {
    state.openId = sessionId;
    state.history = null;
    state.lastSeq = 0;
    $("ticket-result").replaceChildren();
    $("reply-text").value = "";
    $("messages").replaceChildren();
  }
  markOpen();
  // Fresh names, availability and load for the transfer choices.
  await Promise.all([attempt(() => loadHistory(true)), attempt(ctx.refreshDirectory)]);
  if (state.openId === sessionId && state.history) renderConversation(false);
}

/**
 * Every 3 s: ask the chat's cheap change feed (the widget's poll: new messages and the
 * state) and reload the full history only when something changed, since every history
 * read is written to the audit trail.
 */
export async function refreshOpen() {
  const id = state.openId;
  if (!id || !state.history) return;
  const poll = await api(`/api/chat/poll/${enc(id)}?since=${state.lastSeq}`, { auth: false });
  if (state.openId !== id) return;
  if (poll.messages.length || poll.sessionStatus !== state.history.session.status) {
    await loadHistory();
  }
}

async function afterAction(message) {
  if (message) toast(message);
  await Promise.allSettled([loadHistory(true), ctx.refreshLists()]);
}

/** Take a chat (from the queue or the open conversation) and show it. */
export async function takeChat(sessionId, button) {
  await attempt(
    async () => {
      await api("/api/operators/take-chat", { method: "POST", body: { sessionId } });
      toast("Chat presa in carico.");
      await Promise.allSettled([openConversation(sessionId), ctx.refreshLists()]);
    },
    { busy: button },
  );
}

function submitter(event) {
  return event.submitter || event.currentTarget.querySelector("button[type=submit]");
}

function bindForms() {
  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("reply-text").value;
    if (!text.trim() || !state.openId) return;
    attempt(
      async () => {
        await api("/api/operators/send-message", {
          method: "POST",
          body: { sessionId: state.openId, message: text },
        });
        $("reply-text").value = "";
        await afterAction();
      },
      { busy: submitter(event) },
    );
  });
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const content = $("note-text").value;
    if (!content.trim() || !state.openId) return;
    attempt(
      async () => {
        await api("/api/chat-management/add-note", {
          method: "POST",
          body: { sessionId: state.openId, content },
        });
        $("note-text").value = "";
        await afterAction("Nota aggiunta.");
      },
      { busy: submitter(event) },
    );
  });

  $("status-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const status = $("status-select").value;
    const notes = $("status-note").value.trim();
    attempt(
      async () => {
        await api("/api/chat-management/update-status", {
          method: "POST",
          body: { sessionId: state.openId, status, ...(notes ? { notes } : {}) },
        });
        $("status-note").value = "";
        await afterAction(`Chat chiusa: ${label("closing", status)}.`);
      },
      { busy: submitter(event) },
    );
  });

  $("transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const target = (ctx.isAdmin() ? $("transfer-select").value : $("transfer-id").value).trim();
    if (!target) return;
    attempt(
      async () => {
        await api("/api/chat-management/transfer", {
          method: "POST",
          body: { sessionId: state.openId, toOperatorId: target },
        });
        $("transfer-id").value = "";
        await afterAction(`Chat trasferita a ${ctx.operatorName(target)}.`);
      },
      { busy: submitter(event) },
    );
  });

  $("ticket-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const subject = $("ticket-subject").value.trim();
    if (!subject) return;
    const description =
      $("ticket-description").value.trim() || `Ticket aperto dalla chat ${shortId(state.openId)}.`;
    attempt(
      async () => {
        const ticket = await api("/api/chat-management/create-ticket", {
          method: "POST",
          body: {
            sessionId: state.openId,
            subject,
            description,
            priority: $("ticket-priority").value,
          },
        });
        $("ticket-subject").value = "";
        $("ticket-description").value = "";
        $("ticket-result").replaceChildren(
          h("span", { text: "Ticket creato: " }),
          h("button", {
            type: "button",
            class: "link",
            text: ticket.subject,
            onclick: () => ctx.openTicket(ticket.id),
          }),
        );
        await afterAction("Ticket creato; la chat è stata chiusa come risolta.");
      },
      { busy: submitter(event) },
    );
  });

  $("take-btn").addEventListener("click", (event) => {
    if (state.openId) takeChat(state.openId, event.currentTarget);
  });
  $("handback-btn").addEventListener("click", (event) => {
    attempt(
      async () => {
        await api("/api/chat-management/hand-back", {
          method: "POST",
          body: { sessionId: state.openId },
        });
        await afterAction("Chat restituita all'assistente.");
      },
      { busy: event.currentTarget },
    );
  });
}

export function initConversation(context) {
  ctx = context;
  fillSelect($("status-select"), "closing");
  fillSelect($("ticket-priority"), "priority");
  $("ticket-priority").value = "MEDIUM";
  bindForms();
}

/** Forget the open chat (logout). */
export function resetConversation() {
  Object.assign(state, { openId: null, history: null, lastSeq: 0 });
  $("messages").replaceChildren();
  $("notes").replaceChildren();
  $("ticket-result").replaceChildren();
  $("reply-text").value = "";
  $("conversation-body").hidden = true;
  $("conv-side").hidden = true;
  $("conversation-empty").hidden = false;
}
