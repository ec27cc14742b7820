// Tickets: the list with a status filter, one ticket's detail, status and priority changes.

import { api, enc } from "./api.js";
import {
  $,
  attempt,
  fillSelect,
  formatDateTime,
  h,
  label,
  priorityBadge,
  shortId,
  slaBadge,
  ticketStatusBadge,
  toast,
} from "./dom.js";

let ctx;
const state = { filter: "", openId: null, ticket: null };

function row(ticket) {
  const open = () => openTicket(ticket.id);
  return h(
    "tr",
    {
      class: ticket.id === state.openId ? "is-open" : "",
      dataset: { ticket: ticket.id },
      tabindex: "0",
      onclick: open,
      onkeydown: (event) => {
        if (event.key === "Enter") open();
      },
    },
    h(
      "td",
      { class: "cell-subject" },
      h("span", { class: "ticket-subject", text: ticket.subject }),
      h("span", { class: "cell-sub", text: `${shortId(ticket.id)} · ${label("source", ticket.source)}` }),
    ),
    h("td", {}, priorityBadge(ticket.priority)),
    h("td", {}, ticketStatusBadge(ticket.status)),
    h("td", { text: formatDateTime(ticket.createdAt) }),
    h("td", { text: formatDateTime(ticket.dueAt) }),
    h("td", {}, slaBadge(ticket.sla)),
  );
}

/** The list, newest first, with the chosen status filter. */
export async function loadTickets() {
  const query = new URLSearchParams({ limit: "100" });
  if (state.filter) query.append("status", state.filter);
  const filter = state.filter;
  const tickets = await api(`/api/tickets?${query}`);
  if (filter !== state.filter) return;
  $("tickets-body").replaceChildren(...tickets.map(row));
  $("tickets-empty").hidden = tickets.length > 0;
}

function field(name, ...value) {
  return [h("dt", { text: name }), h("dd", {}, ...value)];
}

function contactText(contact) {
  const parts = [contact.name, contact.email, contact.phone].filter(Boolean);
  return parts.length ? parts.join(" · ") : "—";
}

function renderDetail(ticket) {
  state.ticket = ticket;
  $("ticket-detail").hidden = false;
  $("ticket-placeholder").hidden = true;
  $("td-id").textContent = `Ticket ${shortId(ticket.id)}`;
  $("td-id").title = ticket.id;
  $("td-subject").textContent = ticket.subject;
  const chat = ticket.sessionId
    ? h("button", {
        type: "button",
        class: "link",
        text: "Apri la chat",
        onclick: () => ctx.openChat(ticket.sessionId),
      })
    : "—";
  $("td-fields").replaceChildren(
    ...field("Stato", ticketStatusBadge(ticket.status)),
    ...field("Priorità", priorityBadge(ticket.priority)),
    ...field("SLA", slaBadge(ticket.sla)),
    ...field("Scadenza", formatDateTime(ticket.dueAt)),
    ...field("Creato", formatDateTime(ticket.createdAt)),
    ...field("Aggiornato", formatDateTime(ticket.updatedAt)),
    ...field("Risolto", ticket.resolvedAt ? formatDateTime(ticket.resolvedAt) : "—"),
    ...field("Origine", label("source", ticket.source)),
    ...field("Operatore", ticket.operatorId ? ctx.operatorName(ticket.operatorId) : "—"),
    ...field("Contatto", contactText(ticket.contact)),
    ...field("Chat", chat),
  );
  $("td-description").textContent = ticket.description;
  $("td-transcript").replaceChildren(
    ...ticket.transcript.map((line) =>
      h(
        "li",
        { class: `msg msg-${line.sender.toLowerCase()}` },
        h(
          "div",
          { class: "msg-meta" },
          h("span", { class: "msg-who", text: label("sender", line.sender) }),
          h("time", { datetime: line.timestamp, text: formatDateTime(line.timestamp) }),
        ),
        h("div", { class: "msg-text", text: line.message }),
      ),
    ),
  );
  $("td-transcript-section").hidden = ticket.transcript.length === 0;
  $("td-status").value = ticket.status;
  $("td-priority").value = ticket.priority;
  const closed = ticket.status === "CLOSED";
  for (const id of ["td-status", "td-priority", "td-save"]) $(id).disabled = closed;
  $("td-closed").hidden = !closed;
  for (const tr of document.querySelectorAll("#tickets-body tr")) {
    tr.classList.toggle("is-open", tr.dataset.ticket === ticket.id);
  }
}

/** The id of the ticket on screen, or null. */
export function openTicketId() {
  return state.openId;
}

function editing(shown) {
  return $("td-status").value !== shown.status || $("td-priority").value !== shown.priority;
}

/** Read the shown ticket again, unless the operator is changing its status or priority. */
export async function refreshOpenTicket() {
  const shown = state.ticket;
  if (!shown || shown.id !== state.openId || editing(shown)) return;
  const ticket = await api(`/api/tickets/${enc(shown.id)}`);
  if (state.ticket === shown && state.openId === ticket.id && !editing(shown)) renderDetail(ticket);
}

/** Show one ticket (from the list or from the chat it was made from). */
export async function openTicket(ticketId) {
  ctx.showView("tickets");
  state.openId = ticketId;
  await attempt(async () => {
    const ticket = await api(`/api/tickets/${enc(ticketId)}`);
    if (state.openId === ticketId) renderDetail(ticket);
  });
}

async function save(event) {
  event.preventDefault();
  const ticket = state.ticket;
  if (!ticket) return;
  const body = {};
  if ($("td-status").value !== ticket.status) body.status = $("td-status").value;
  if ($("td-priority").value !== ticket.priority) body.priority = $("td-priority").value;
  if (!Object.keys(body).length) {
    toast("Nessuna modifica da salvare.");
    return;
  }
  $("td-save").disabled = true;
  await attempt(async () => {
    const updated = await api(`/api/tickets/${enc(ticket.id)}`, { method: "PATCH", body });
    renderDetail(updated);
    toast("Ticket aggiornato.");
    await loadTickets();
  });
  $("td-save").disabled = state.ticket.status === "CLOSED";
}

export function initTickets(context) {
  ctx = context;
  fillSelect($("ticket-filter"), "ticketStatus", { blank: "Tutti" });
  fillSelect($("td-status"), "ticketStatus");
  fillSelect($("td-priority"), "priority");
  $("ticket-filter").addEventListener("change", () => {
    state.filter = $("ticket-filter").value;
    attempt(loadTickets);
  });
  $("tickets-refresh").addEventListener("click", () => attempt(loadTickets));
  $("ticket-update").addEventListener("submit", save);
}

export function resetTickets() {
  state.openId = null;
  state.ticket = null;
  $("tickets-body").replaceChildren();
  $("ticket-detail").hidden = true;
  $("ticket-placeholder").hidden = false;
}
