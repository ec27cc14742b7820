// How the open conversation looks: messages, notes, state changes and the tools it allows.
// Pure rendering from a history object; loading and actions live in conversation.js.

import {
  $,
  formatDateTime,
  formatTime,
  h,
  label,
  sessionBadge,
  shortId,
} from "./dom.js";

const HELD = new Set(["WITH_OPERATOR", "WAITING_CLIENT"]);
const TAKEABLE = new Set(["ACTIVE", "IDLE"]);

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

function noteItem(ctx, note) {
  return h(
    "li",
    { class: "note", dataset: { note: note.id } },
    h(
      "div",
      { class: "note-meta" },
      h("span", { class: "note-who", text: ctx.operatorName(note.operatorId) }),
      h("time", { datetime: note.createdAt, text: formatDateTime(note.createdAt) }),
    ),
    h("div", { class: "note-text", text: note.content }),
  );
}

function changeItem(ctx, change) {
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

function renderTransferChoices(ctx, session) {
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

/**
 * Draw ``history``. The operator's drafts (reply, note, forms) are never touched; the
 * messages keep their scroll position unless the operator was already at the end.
 */
export function renderConversation(ctx, history, scrollToEnd) {
  const { session, messages, internalNotes, statusChanges } = history;
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
  const top = box.scrollTop;
  box.replaceChildren(...messages.map(messageItem));
  box.scrollTop = scrollToEnd || nearEnd ? box.scrollHeight : top;

  $("notes").replaceChildren(...internalNotes.map((note) => noteItem(ctx, note)));
  $("notes-empty").hidden = internalNotes.length > 0;
  $("status-changes").replaceChildren(...statusChanges.map((change) => changeItem(ctx, change)));
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
  if (mayAct) renderTransferChoices(ctx, session);
}
