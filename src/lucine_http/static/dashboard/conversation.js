// The open conversation: loading and refreshing its history; reply, notes, take, transfer,
// hand back, close, ticket. How it looks is in conversation-render.js.

import { api, enc } from "./api.js";
import { renderConversation } from "./conversation-render.js";
import { $, attempt, fillSelect, h, label, shortId, toast } from "./dom.js";

let ctx;
const state = { openId: null, history: null, shown: "" };

/** The id of the chat on screen, or null. */
export function openChatId() {
  return state.openId;
}

function markOpen() {
  for (const item of document.querySelectorAll(".chat-item")) {
    item.classList.toggle("is-open", item.dataset.session === state.openId);
  }
}

/** What the operator reads of a history; operators' load and availability show elsewhere. */
function contentKey(history) {
  const { session, messages, internalNotes, statusChanges } = history;
  return JSON.stringify([session, messages, internalNotes, statusChanges]);
}

/** Fetch the open chat's history; draw it when it changed (always when ``scrollToEnd``). */
async function loadHistory({ scrollToEnd = false } = {}) {
  const id = state.openId;
  const history = await api(`/api/chat-management/history/${enc(id)}`);
  if (state.openId !== id) return;
  for (const op of history.operators) ctx.rememberOperator(op);
  const key = contentKey(history);
  const changed = key !== state.shown;
  state.history = history;
  state.shown = key;
  if (changed || scrollToEnd) renderConversation(ctx, history, scrollToEnd);
}

/** Show one chat; from the lists, or from a ticket's link. */
export async function openConversation(sessionId) {
  ctx.showView("chats");
  if (state.openId !== sessionId) {
    state.openId = sessionId;
    state.history = null;
    state.shown = "";
    $("ticket-result").replaceChildren();
    $("reply-text").value = "";
    $("messages").replaceChildren();
  }
  markOpen();
  // Fresh names, availability and load for the transfer choices.
  await Promise.all([
    attempt(() => loadHistory({ scrollToEnd: true })),
    attempt(ctx.refreshDirectory),
  ]);
  if (state.openId === sessionId && state.history) renderConversation(ctx, state.history, false);
}

/**
 * When an event concerns the open chat (or at each poll, see sync.js), while the page is
 * visible: reload its history, so new messages, state changes and other operators'
 * internal notes appear without a click. The page is redrawn only when that content
 * changed, so drafts, open menus and the scroll position stay as they are. Each read is
 * audited (view_history), hence no reads from hidden tabs.
 */
export async function refreshOpen() {
  if (!state.openId || !state.history || document.hidden) return;
  await loadHistory();
}

async function afterAction(message) {
  if (message) toast(message);
  await Promise.allSettled([loadHistory({ scrollToEnd: true }), ctx.refreshLists()]);
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
  Object.assign(state, { openId: null, history: null, shown: "" });
  $("messages").replaceChildren();
  $("notes").replaceChildren();
  $("ticket-result").replaceChildren();
  $("reply-text").value = "";
  $("conversation-body").hidden = true;
  $("conv-side").hidden = true;
  $("conversation-empty").hidden = false;
}
