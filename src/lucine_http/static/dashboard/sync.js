// Keeping the page in step with the server. While the event stream is up, each event
// refreshes what it concerns and a slow poll is only a safety net; while it is down, the
// page polls every 3 s as it always did. <html data-live="stream|polling"> says which.

import { $ } from "./dom.js";
import { pollActive, pollPending } from "./chats.js";
import { openChatId, refreshOpen } from "./conversation.js";
import { openLive } from "./live.js";
import { loadStats } from "./stats.js";
import { loadTickets, openTicketId, refreshOpenTicket } from "./tickets.js";

const POLL_MS = 3000;
const SAFETY_MS = 30000;
const DIRECTORY_MS = 30000;
// Events in a burst (a message and its queue change, a transfer) become one refresh.
const COALESCE_MS = 150;

const LISTS = ["pending", "active"];
/** What each event kind refreshes, besides the open chat's history (below). */
const EVENT_PARTS = {
  message: LISTS,
  queue: [...LISTS, "stats"],
  taken: [...LISTS, "stats"],
  transfer: LISTS,
  status: [...LISTS, "stats"],
  note: [],
  rating: ["stats"],
  ticket: ["tickets"],
  sla: [...LISTS, "tickets", "ticket"],
  operator: ["directory", "stats"],
};
// These may change who holds a chat and the operators' loads shown beside the open one.
const HISTORY_ALWAYS = new Set(["status", "transfer", "taken"]);
const HISTORY_OWN = new Set(["message", "queue", "note", "rating"]);

let ctx;
let live = null;
let mode = null;
let streamed = false;
let timer = null;
let coalesce = null;
let running = false;
const due = new Set();

function want(parts) {
  for (const part of parts) due.add(part);
  if (!coalesce) coalesce = setTimeout(flush, COALESCE_MS);
}

/** Run what is due, one batch at a time; what comes due meanwhile waits for the next. */
async function flush() {
  clearTimeout(coalesce);
  coalesce = null;
  if (!ctx.me) {
    due.clear();
    return;
  }
  if (running) return;
  running = true;
  const parts = new Set(due);
  due.clear();
  try {
    await refresh(parts);
  } finally {
    running = false;
    if (due.size && !coalesce) coalesce = setTimeout(flush, COALESCE_MS);
  }
}

async function refresh(parts) {
  const view = ctx.view;
  const jobs = [];
  if (parts.has("pending")) jobs.push(pollPending());
  if (view === "chats" && parts.has("active")) jobs.push(pollActive());
  if (view === "chats" && parts.has("open")) jobs.push(refreshOpen());
  if (parts.has("directory")) jobs.push(ctx.refreshDirectory());
  if (view === "tickets" && parts.has("tickets")) jobs.push(loadTickets());
  if (view === "tickets" && parts.has("ticket")) jobs.push(refreshOpenTicket());
  if (view === "stats" && parts.has("stats")) jobs.push(loadStats());
  if (!jobs.length) return;
  const results = await Promise.allSettled(jobs);
  const offline = results.some((r) => r.status === "rejected" && r.reason && r.reason.code === "network");
  $("connection").hidden = !offline;
}

/** The poll: the lists, the open chat, and the names of operators now and then. */
function tick(extra = []) {
  const parts = [...LISTS, "open", ...extra];
  if (Date.now() - ctx.directoryAt > DIRECTORY_MS) parts.push("directory");
  for (const part of parts) due.add(part);
  flush();
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    if (!ctx.me) return;
    tick();
    schedule(mode === "stream" ? SAFETY_MS : POLL_MS);
  }, ms);
}

function onEvent(kind, data) {
  // An event this page does not know yet may still be about chats: read the lists.
  const parts = [...(Object.hasOwn(EVENT_PARTS, kind) ? EVENT_PARTS[kind] : LISTS)];
  const sessionId = data.sessionId;
  const ownChat = !sessionId || sessionId === openChatId();
  if (HISTORY_ALWAYS.has(kind) || (HISTORY_OWN.has(kind) && ownChat)) parts.push("open");
  if (kind === "ticket" && (!data.ticketId || data.ticketId === openTicketId())) parts.push("ticket");
  want(parts);
}

function onMode(next) {
  const before = mode;
  mode = next;
  document.documentElement.dataset.live = next;
  if (next === "stream") {
    // Catch up once with what happened before this subscription: between the first load
    // and the stream's "ready", or while the stream was down. Events cover the rest.
    tick(streamed ? ["tickets", "ticket", "stats"] : []);
    streamed = true;
    schedule(SAFETY_MS);
  } else {
    schedule(before === "stream" ? 0 : POLL_MS);
  }
}

/** After login: a first full refresh, then the stream (polling until it is ready). */
export function startSync() {
  stopSync();
  ctx.directoryAt = 0;
  tick();
  live = openLive({ onEvent, onMode });
}

/** At logout: close the stream, stop the timers, forget what was due. */
export function stopSync() {
  if (live) live.stop();
  live = null;
  mode = null;
  streamed = false;
  clearTimeout(timer);
  clearTimeout(coalesce);
  timer = null;
  coalesce = null;
  due.clear();
  delete document.documentElement.dataset.live;
}

export function initSync(context) {
  ctx = context;
  // A hidden tab does not read the open chat (each read is audited): catch up on return.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && ctx.me) want([...LISTS, "open"]);
  });
}
