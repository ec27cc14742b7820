// The chat lists: the queue (with the title badge and the sound) and the active chats.

import { api, enc } from "./api.js";
import { openChatId, openConversation, takeChat } from "./conversation.js";
import {
  $,
  attempt,
  badge,
  formatDuration,
  formatTime,
  h,
  label,
  secondsSince,
  sessionBadge,
  shortId,
  slaBadge,
} from "./dom.js";

const EMPTY_FILTER_TEXT = {
  assigned: "Nessuna chat assegnata.",
  unassigned: "Nessuna chat con l'assistente.",
  waiting: "Nessuna chat in coda.",
  all: "Nessuna chat aperta.",
};

// How often the queue's waiting times move on between reads of the list.
const WAIT_TICK_MS = 10000;

let ctx;
const state = {
  filter: "assigned",
  pending: [],
  // performance.now() when the queue was read: its waitedSeconds are as of then.
  pendingAt: 0,
  active: [],
  seenPending: new Set(),
  alerts: 0,
};

// ---- sound -------------------------------------------------------------------------------

let audio = null;

/** Browsers start audio only after a user gesture: make the context on the first click. */
export function unlockAudio() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

function beep() {
  state.alerts += 1;
  document.documentElement.dataset.alerts = String(state.alerts);
  if (!audio) return;
  try {
    const start = audio.currentTime;
    for (const [offset, frequency] of [
      [0, 880],
      [0.18, 1175],
    ]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.15, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.16);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.18);
    }
  } catch {
    // No sound is better than a broken dashboard.
  }
}

// ---- lists -------------------------------------------------------------------------------

function alertBadge(sla) {
  return sla && (sla.state === "warning" || sla.state === "breached") ? slaBadge(sla) : null;
}

function openButton(chat, ...content) {
  return h(
    "button",
    {
      type: "button",
      class: "chat-open",
      "aria-label": `Apri la chat ${shortId(chat.sessionId)}`,
      onclick: () => openConversation(chat.sessionId),
    },
    ...content,
  );
}

/** How long ``chat`` has waited: the server's figure (no clock skew) plus the time since. */
function waitedText(chat) {
  if (chat.waitedSeconds !== null && chat.waitedSeconds !== undefined) {
    return formatDuration(chat.waitedSeconds + (performance.now() - state.pendingAt) / 1000);
  }
  return chat.requestedAt ? formatDuration(secondsSince(chat.requestedAt)) : "—";
}

function tickWaits() {
  const byId = new Map(state.pending.map((chat) => [chat.sessionId, chat]));
  for (const item of $("pending-list").children) {
    const chat = byId.get(item.dataset.session);
    const wait = item.querySelector(".chat-wait");
    if (chat && wait) wait.textContent = waitedText(chat);
  }
}

function pendingItem(chat) {
  const position = chat.queue ? chat.queue.position : "–";
  const asked = chat.lastVisitorMessage || chat.lastMessage || "—";
  const take = h("button", {
    type: "button",
    class: "btn btn-small btn-primary chat-take",
    text: "Prendi",
    onclick: (event) => takeChat(chat.sessionId, event.currentTarget),
  });
  return h(
    "li",
    {
      class: `chat-item${chat.sessionId === openChatId() ? " is-open" : ""}`,
      dataset: { session: chat.sessionId },
    },
    openButton(
      chat,
      h(
        "span",
        { class: "chat-row" },
        h("span", { class: "queue-pos", title: "Posizione in coda", text: `#${position}` }),
        h("span", { class: "chat-id", text: shortId(chat.sessionId) }),
        alertBadge(chat.sla),
      ),
      // What the visitor asked, not the assistant's hand-off line: it is what an operator
      // chooses by.
      h("span", { class: "chat-last chat-asked", title: asked, text: asked }),
      h(
        "span",
        { class: "chat-sub" },
        "In attesa da ",
        h("span", { class: "chat-wait", text: waitedText(chat) }),
        " · ",
        h("span", { class: "chat-lang", text: label("language", chat.language) }),
      ),
    ),
    take,
  );
}

function activeItem(chat) {
  return h(
    "li",
    {
      class: `chat-item${chat.sessionId === openChatId() ? " is-open" : ""}`,
      dataset: { session: chat.sessionId },
    },
    openButton(
      chat,
      h(
        "span",
        { class: "chat-row" },
        chat.queue ? badge(`In coda #${chat.queue.position}`, "warning") : sessionBadge(chat.status),
        h("span", { class: "chat-id", text: shortId(chat.sessionId) }),
        alertBadge(chat.sla),
      ),
      h("span", { class: "chat-last", text: chat.lastMessage || "—" }),
      h("span", {
        class: "chat-sub",
        text: `${ctx.assignedText(chat.operatorId)} · ${chat.messageCount} msg · ${formatTime(chat.lastActivityAt)}`,
      }),
    ),
  );
}

function updateTitle() {
  const count = state.pending.length;
  document.title = count ? `(${count}) Lucine` : "Lucine";
  const badgeEl = $("pending-badge");
  badgeEl.textContent = String(count);
  badgeEl.hidden = count === 0;
  $("pending-count").textContent = String(count);
}

function renderPending() {
  $("pending-list").replaceChildren(...state.pending.map(pendingItem));
  $("pending-empty").hidden = state.pending.length > 0;
}

function renderActive() {
  $("active-list").replaceChildren(...state.active.map(activeItem));
  $("active-empty").textContent = EMPTY_FILTER_TEXT[state.filter];
  $("active-empty").hidden = state.active.length > 0;
}

// Lists are read from several places at once (events, the poll, buttons): a reply that
// arrives after a newer one is dropped, so the newer list stays and nothing beeps twice.
const asked = { pending: 0, active: 0 };

/** The queue: every view needs it for the title badge and the sound. */
export async function pollPending() {
  const mine = ++asked.pending;
  const list = await api("/api/operators/pending-chats");
  if (mine !== asked.pending) return;
  const fresh = list.filter((chat) => !state.seenPending.has(chat.sessionId));
  state.seenPending = new Set(list.map((chat) => chat.sessionId));
  state.pending = list;
  state.pendingAt = performance.now();
  if (fresh.length) beep();
  updateTitle();
  renderPending();
}

export async function pollActive() {
  const filter = state.filter;
  const mine = ++asked.active;
  const list = await api(`/api/chat-management/active-chats?filter=${enc(filter)}`);
  if (filter !== state.filter || mine !== asked.active) return;
  state.active = list;
  renderActive();
}

function setFilter(filter) {
  state.filter = filter;
  setFilterButtons();
  state.active = [];
  renderActive();
  attempt(pollActive);
}

function setFilterButtons() {
  for (const button of document.querySelectorAll("#active-filters [data-filter]")) {
    button.setAttribute("aria-pressed", String(button.dataset.filter === state.filter));
  }
}

export function initChats(context) {
  ctx = context;
  for (const button of document.querySelectorAll("#active-filters [data-filter]")) {
    button.addEventListener("click", () => setFilter(button.dataset.filter));
  }
  setFilterButtons();
  setInterval(tickWaits, WAIT_TICK_MS);
}

/** Forget everything (logout): the next operator starts from a clean page. */
export function resetChats() {
  Object.assign(state, { pending: [], active: [], seenPending: new Set() });
  $("pending-list").replaceChildren();
  $("active-list").replaceChildren();
  document.title = "Lucine";
  $("pending-badge").hidden = true;
}
