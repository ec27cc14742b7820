// DOM helpers, Italian labels and formatting for the dashboard.
// Every piece of data reaches the page as a text node or a property: never as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") {
      el[key] = value;
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h("li", {class: "x", text: data}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element, built with createElementNS. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export const LABELS = {
  session: {
    ACTIVE: "Con l'assistente",
    IDLE: "Inattiva",
    WITH_OPERATOR: "Con operatore",
    WAITING_CLIENT: "Attesa cliente",
    RESOLVED: "Risolta",
    NOT_RESOLVED: "Non risolta",
    CANCELLED: "Annullata",
    ENDED: "Terminata",
  },
  closing: { RESOLVED: "Risolta", NOT_RESOLVED: "Non risolta", CANCELLED: "Annullata" },
  availability: { ONLINE: "Online", BUSY: "Occupato", AWAY: "Assente", OFFLINE: "Offline" },
  ticketStatus: {
    OPEN: "Aperto",
    IN_PROGRESS: "In lavorazione",
    WAITING_CUSTOMER: "Attesa cliente",
    RESOLVED: "Risolto",
    CLOSED: "Chiuso",
  },
  priority: { URGENT: "Urgente", HIGH: "Alta", MEDIUM: "Media", LOW: "Bassa" },
  sla: {
    ok: "Nei tempi",
    warning: "In scadenza",
    breached: "SLA superato",
    met: "Rispettato",
    missed: "Mancato",
  },
  sender: { USER: "Cliente", BOT: "Assistente", OPERATOR: "Operatore", SYSTEM: "Sistema" },
  source: { CHAT: "Chat", WIDGET: "Modulo del widget", OPERATOR: "Inserito da operatore" },
  role: { operator: "Operatore", admin: "Amministratore" },
  language: { it: "Italiano", en: "Inglese", de: "Tedesco" },
  reason: {
    visitor_asked: "il cliente chiede un operatore",
    visitor_upset: "il cliente sembra insoddisfatto",
    reply_unsure: "la risposta è incerta",
    low_confidence: "confidenza bassa",
    repeated_failure: "troppe risposte non riuscite",
    responder_failed: "l'assistente non ha risposto",
  },
};

export function label(group, value) {
  return (LABELS[group] && LABELS[group][value]) || String(value ?? "");
}

/** A small coloured label; ``kind`` picks the colour (a CSS modifier). */
export function badge(text, kind = "neutral") {
  return h("span", { class: `badge badge-${kind}`, text });
}

const SESSION_KIND = {
  ACTIVE: "info",
  IDLE: "neutral",
  WITH_OPERATOR: "success",
  WAITING_CLIENT: "warning",
  RESOLVED: "done",
  NOT_RESOLVED: "danger",
  CANCELLED: "neutral",
  ENDED: "neutral",
};
const SLA_KIND = { ok: "success", warning: "warning", breached: "danger", met: "done", missed: "danger" };
const PRIORITY_KIND = { URGENT: "danger", HIGH: "warning", MEDIUM: "info", LOW: "neutral" };
const TICKET_KIND = {
  OPEN: "info",
  IN_PROGRESS: "success",
  WAITING_CUSTOMER: "warning",
  RESOLVED: "done",
  CLOSED: "neutral",
};

export const sessionBadge = (status) => badge(label("session", status), SESSION_KIND[status]);
export const priorityBadge = (p) => badge(label("priority", p), PRIORITY_KIND[p]);
export const ticketStatusBadge = (st) => badge(label("ticketStatus", st), TICKET_KIND[st]);
export function slaBadge(sla) {
  if (!sla) return null;
  const el = badge(label("sla", sla.state), SLA_KIND[sla.state]);
  el.classList.add("badge-sla");
  el.dataset.sla = sla.state;
  el.title = `Scadenza SLA: ${formatDateTime(sla.dueAt)}`;
  return el;
}

/** Fill a <select> with the entries of a label group (optionally a first blank choice). */
export function fillSelect(select, group, { blank } = {}) {
  const options = Object.entries(LABELS[group]).map(([value, text]) => h("option", { value, text }));
  if (blank) options.unshift(h("option", { value: "", text: blank }));
  select.replaceChildren(...options);
}

const timeFmt = new Intl.DateTimeFormat("it-IT", { hour: "2-digit", minute: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat("it-IT", {
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const dayFmt = new Intl.DateTimeFormat("it-IT", { day: "2-digit", month: "2-digit", timeZone: "UTC" });

export function formatTime(iso) {
  return iso ? timeFmt.format(new Date(iso)) : "";
}

export function formatDateTime(iso) {
  return iso ? dateTimeFmt.format(new Date(iso)) : "—";
}

/** "26/11" for a YYYY-MM-DD day (a calendar date, so no time-zone shift). */
export function formatDay(day) {
  return dayFmt.format(new Date(`${day}T00:00:00Z`));
}

/** "45 s", "3 min", "2 h 05 min" */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
}

const percentFmt = new Intl.NumberFormat("it-IT", { style: "percent", maximumFractionDigits: 0 });

/** "92%" for 0.92. */
export function formatPercent(fraction) {
  return percentFmt.format(Number(fraction) || 0);
}

export function secondsSince(iso) {
  return (Date.now() - new Date(iso).getTime()) / 1000;
}

export function shortId(id) {
  return String(id).slice(0, 8);
}

let toastTimer;
/** A short message at the bottom of the screen; ``kind`` is "info" or "error". */
export function toast(message, kind = "info") {
  const el = $("toast");
  el.textContent = message;
  el.className = `toast toast-${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, kind === "error" ? 6000 : 3000);
}

/** Run an action from a button or form; a failure becomes a toast, never an uncaught error. */
export async function attempt(action, { busy } = {}) {
  if (busy) busy.disabled = true;
  try {
    return await action();
  } catch (error) {
    if (error && error.status !== 401) toast(errorText(error), "error");
    return undefined;
  } finally {
    if (busy) busy.disabled = false;
  }
}

const CODE_TEXT = {
  not_authenticated: "Sessione scaduta: accedi di nuovo.",
  forbidden: "Non hai i permessi per questa operazione.",
  permission_denied: "Non hai i permessi per questa operazione.",
  rate_limited: "Troppe richieste: riprova tra poco.",
  not_found: "Elemento non trovato.",
  network: "Server non raggiungibile: controlla la connessione.",
};

/** An API error in Italian, with the server's explanation when it has one. */
export function errorText(error) {
  if (!error) return "Errore sconosciuto.";
  const known = CODE_TEXT[error.code];
  if (known) return known;
  if (error.status === 409) return `Operazione non consentita: ${error.message}`;
  if (error.status === 400) return `Dati non validi: ${error.message}`;
  return `Errore: ${error.message || error.status}`;
}
