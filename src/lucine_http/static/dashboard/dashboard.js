// The operators' dashboard: login, navigation and availability; sync.js keeps it current.
// No framework and no build step; each view lives in its own module.

import { api, onUnauthorized, token } from "./api.js";
import { initAdmin, loadAdmin, resetAdmin } from "./admin.js";
import { initChats, pollActive, pollPending, resetChats, unlockAudio } from "./chats.js";
import { initConversation, openConversation, resetConversation } from "./conversation.js";
import { $, attempt, errorText, label, shortId } from "./dom.js";
import { initKb, loadKb, resetKb } from "./kb.js";
import { loadStats, resetStats } from "./stats.js";
import { initSync, startSync, stopSync } from "./sync.js";
import { initTickets, loadTickets, openTicket, resetTickets } from "./tickets.js";

const VIEWS = ["chats", "tickets", "stats", "kb", "admin"];
const ACTORS = { system: "Sistema", visitor: "Cliente", assistant: "Assistente" };

const ctx = {
  me: null,
  view: null,
  operators: new Map(),
  directoryAt: 0,
  isAdmin: () => Boolean(ctx.me && ctx.me.role === "admin"),
  rememberOperator(op) {
    ctx.operators.set(op.id, op);
  },
  operatorName(id) {
    if (ctx.me && id === ctx.me.id) return ctx.me.displayName;
    const op = ctx.operators.get(id);
    return op ? op.displayName : `operatore ${shortId(id)}`;
  },
  assignedText(operatorId) {
    if (!operatorId) return "Nessun operatore";
    if (ctx.me && operatorId === ctx.me.id) return "Assegnata a te";
    return `Assegnata a ${ctx.operatorName(operatorId)}`;
  },
  actorName(actor) {
    if (actor.startsWith("operator:")) return ctx.operatorName(actor.slice("operator:".length));
    return ACTORS[actor] || actor;
  },
  showView,
  refreshDirectory: () => loadDirectory(),
  refreshLists: () => Promise.allSettled([pollPending(), pollActive()]),
  openTicket: (id) => openTicket(id),
  openChat: (id) => openConversation(id),
};

// ---- views -------------------------------------------------------------------------------

const LOADERS = {
  chats: pollActive,
  tickets: loadTickets,
  stats: loadStats,
  kb: loadKb,
  admin: loadAdmin,
};

function showView(requested, { force = false } = {}) {
  const name = VIEWS.includes(requested) && (requested !== "admin" || ctx.isAdmin()) ? requested : "chats";
  const changed = ctx.view !== name;
  ctx.view = name;
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  for (const tab of document.querySelectorAll(".tab[data-view]")) {
    if (tab.dataset.view === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (changed || force) attempt(LOADERS[name]);
}

// ---- who is logged in --------------------------------------------------------------------

function renderMe() {
  const me = ctx.me;
  $("me-name").textContent = me.displayName;
  $("me-role").textContent = me.role === "admin" ? label("role", "admin") : "";
  $("admin-tab").hidden = me.role !== "admin";
  for (const button of document.querySelectorAll("#availability [data-availability]")) {
    button.setAttribute("aria-checked", String(button.dataset.availability === me.availability));
  }
  $("availability").dataset.current = me.availability;
}

/** Names for operator ids: admins list accounts, everyone sees the team in the stats. */
async function loadDirectory() {
  ctx.directoryAt = Date.now();
  const operators = ctx.isAdmin()
    ? await api("/api/admin/operators")
    : (await api("/api/analytics/stats")).operators.list;
  for (const op of operators) ctx.rememberOperator(op);
  const mine = ctx.operators.get(ctx.me.id);
  if (mine && mine.availability !== ctx.me.availability) {
    ctx.me = { ...ctx.me, availability: mine.availability };
    renderMe();
  }
}

async function setAvailability(availability, button) {
  await attempt(
    async () => {
      ctx.me = await api("/api/operators/availability", { method: "POST", body: { availability } });
      ctx.rememberOperator(ctx.me);
      renderMe();
      await Promise.allSettled([pollPending(), ctx.view === "chats" ? pollActive() : null]);
    },
    { busy: button },
  );
}

// ---- login and logout --------------------------------------------------------------------

function start(me) {
  ctx.me = me;
  ctx.rememberOperator(me);
  renderMe();
  $("login-view").hidden = true;
  $("app").hidden = false;
  showView(location.hash.slice(1), { force: true });
  startSync();
}

function stop(notice) {
  stopSync();
  ctx.me = null;
  ctx.view = null;
  ctx.operators.clear();
  resetChats();
  resetConversation();
  resetTickets();
  resetStats();
  resetAdmin();
  resetKb();
  $("app").hidden = true;
  showLogin(notice);
}

function showLogin(notice) {
  $("login-view").hidden = false;
  $("login-notice").textContent = notice || "";
  $("login-notice").hidden = !notice;
  $("login-error").hidden = true;
  $("login-username").focus();
}

// ---- wiring ------------------------------------------------------------------------------

function loginError(error) {
  if (error.status === 401) return "Nome utente o password non corretti.";
  if (error.status === 429) {
    const minutes = Math.max(1, Math.ceil(Number(error.retryAfter || 60) / 60));
    return `Troppi tentativi non riusciti: riprova tra ${minutes} ${minutes === 1 ? "minuto" : "minuti"}.`;
  }
  return errorText(error);
}

function bind() {
  document.addEventListener("click", unlockAudio, { passive: true });
  document.addEventListener("keydown", unlockAudio, { passive: true });

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    if (!username || !password) return;
    button.disabled = true;
    $("login-error").hidden = true;
    try {
      const result = await api("/api/operators/login", {
        method: "POST",
        body: { username, password },
        auth: false,
      });
      token.set(result.token);
      $("login-password").value = "";
      start(result.operator);
    } catch (error) {
      $("login-error").textContent = loginError(error);
      $("login-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  $("logout").addEventListener("click", async () => {
    stopSync(); // first, so the logout's own events cannot read as an expired session
    try {
      await api("/api/operators/logout", { method: "POST" });
    } catch {
      // The token is dropped below either way.
    }
    token.clear();
    stop("Sei uscito. A presto!");
  });

  for (const button of document.querySelectorAll("#availability [data-availability]")) {
    button.addEventListener("click", () => setAvailability(button.dataset.availability, button));
  }
  for (const tab of document.querySelectorAll(".tab[data-view]")) {
    tab.addEventListener("click", () => showView(tab.dataset.view));
  }
  for (const button of document.querySelectorAll("[data-refresh]")) {
    button.addEventListener("click", () => attempt(LOADERS[button.dataset.refresh]));
  }
  window.addEventListener("hashchange", () => {
    if (ctx.me) showView(location.hash.slice(1));
  });

  onUnauthorized(() => {
    if (ctx.me) stop("La sessione è scaduta o è stata chiusa: accedi di nuovo.");
  });
}

async function boot() {
  initChats(ctx);
  initConversation(ctx);
  initTickets(ctx);
  initKb(ctx);
  initAdmin(ctx);
  initSync(ctx);
  bind();
  if (!token.get()) {
    showLogin();
    return;
  }
  try {
    start(await api("/api/operators/me"));
  } catch (error) {
    token.clear();
    showLogin(error.status === 401 ? "La sessione è scaduta: accedi di nuovo." : errorText(error));
  }
}

boot();
