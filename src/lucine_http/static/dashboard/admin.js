// Administration (admins only): operator accounts and the audit trail.

import { api, enc } from "./api.js";
import { $, attempt, badge, fillSelect, formatDateTime, h, label, toast } from "./dom.js";

let ctx;

const ACTIONS = {
  login: "Accesso",
  login_failed: "Accesso fallito",
  logout: "Uscita",
  availability: "Disponibilità",
  take_chat: "Presa in carico",
  send_message: "Risposta al cliente",
  transfer: "Trasferimento",
  hand_back: "Restituzione all'assistente",
  status_change: "Cambio di stato",
  add_note: "Nota interna",
  view_history: "Lettura conversazione",
  create_ticket: "Ticket creato",
  update_ticket: "Ticket modificato",
  create_operator: "Operatore creato",
  update_operator: "Operatore modificato",
  export: "Esportazione dati",
  erase: "Cancellazione dati",
  purge: "Pulizia per conservazione",
  view_audit: "Lettura audit",
  create_kb_item: "Voce della base di conoscenza creata",
  update_kb_item: "Voce della base di conoscenza modificata",
  delete_kb_item: "Voce della base di conoscenza eliminata",
};

async function patchOperator(op, body, message, button) {
  await attempt(
    async () => {
      const updated = await api(`/api/admin/operators/${enc(op.id)}`, { method: "PATCH", body });
      ctx.rememberOperator(updated);
      toast(message);
      await loadAdmin();
    },
    { busy: button },
  );
}

function operatorRow(op) {
  const capacity = h("input", {
    type: "number",
    min: "1",
    max: "50",
    value: String(op.capacity),
    class: "input-small",
    "aria-label": `Capacità di ${op.username}`,
  });
  const password = h("input", {
    type: "password",
    autocomplete: "new-password",
    placeholder: "Nuova password",
    class: "input-medium",
    "aria-label": `Nuova password di ${op.username}`,
  });
  const isMe = ctx.me && op.id === ctx.me.id;
  return h(
    "tr",
    { dataset: { operator: op.username }, class: op.disabled ? "is-disabled" : "" },
    h(
      "td",
      {},
      h("span", { class: "op-name", text: op.displayName }),
      h(
        "span",
        { class: "cell-sub" },
        h("span", { text: op.username }),
        " · ",
        h("span", { class: "op-id", text: op.id }),
      ),
    ),
    h("td", { text: label("role", op.role) }),
    h(
      "td",
      {},
      op.disabled
        ? badge("Disattivato", "danger")
        : badge(label("availability", op.availability), op.availability.toLowerCase()),
    ),
    h("td", { text: `${op.load} / ${op.capacity}` }),
    h(
      "td",
      {},
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (event) => {
            event.preventDefault();
            const value = Number.parseInt(capacity.value, 10);
            if (!Number.isInteger(value) || value < 1) {
              toast("La capacità deve essere un numero intero positivo.", "error");
              return;
            }
            patchOperator(op, { capacity: value }, "Capacità aggiornata.", event.submitter);
          },
        },
        capacity,
        h("button", { type: "submit", class: "btn btn-small", text: "Salva" }),
      ),
    ),
    h(
      "td",
      {},
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (event) => {
            event.preventDefault();
            if (!password.value) return;
            patchOperator(
              op,
              { password: password.value },
              "Password reimpostata: l'operatore deve accedere di nuovo.",
              event.submitter,
            );
            password.value = "";
          },
        },
        // Tells the browser's password manager whose password this is.
        h("input", { type: "text", autocomplete: "username", value: op.username, hidden: true, tabindex: "-1" }),
        password,
        h("button", { type: "submit", class: "btn btn-small", text: "Reimposta" }),
      ),
    ),
    h(
      "td",
      {},
      isMe
        ? h("span", { class: "muted", text: "Tu" })
        : h("button", {
            type: "button",
            class: `btn btn-small ${op.disabled ? "" : "btn-danger-ghost"}`,
            text: op.disabled ? "Riattiva" : "Disattiva",
            onclick: (event) =>
              patchOperator(
                op,
                { disabled: !op.disabled },
                op.disabled ? "Account riattivato." : "Account disattivato.",
                event.currentTarget,
              ),
          }),
    ),
  );
}

function details(entry) {
  return Object.entries(entry.details || {})
    .map(([key, value]) => `${key}: ${value}`)
    .join(", ");
}

function auditRow(entry) {
  return h(
    "tr",
    {},
    h("td", { class: "nowrap", text: formatDateTime(entry.at) }),
    h("td", { text: ctx.actorName(entry.actor) }),
    h("td", { text: ACTIONS[entry.action] || entry.action }),
    h("td", { class: "mono", text: entry.subject }),
    h("td", { class: "muted", text: details(entry) }),
  );
}

export async function loadAdmin() {
  const [operators, audit] = await Promise.all([
    api("/api/admin/operators"),
    api("/api/admin/audit?limit=100"),
  ]);
  for (const op of operators) ctx.rememberOperator(op);
  $("operators-body").replaceChildren(...operators.map(operatorRow));
  $("audit-body").replaceChildren(...audit.map(auditRow));
}

export function initAdmin(context) {
  ctx = context;
  fillSelect($("new-role"), "role");
  $("operator-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const body = {
      username: $("new-username").value.trim(),
      displayName: $("new-display-name").value.trim(),
      password: $("new-password").value,
      role: $("new-role").value,
      capacity: Number.parseInt($("new-capacity").value, 10) || 3,
    };
    attempt(
      async () => {
        await api("/api/admin/operators", { method: "POST", body });
        form.reset();
        toast(`Operatore ${body.username} creato.`);
        await loadAdmin();
      },
      { busy: event.submitter },
    );
  });
  $("audit-refresh").addEventListener("click", () => attempt(loadAdmin));
}

export function resetAdmin() {
  $("operators-body").replaceChildren();
  $("audit-body").replaceChildren();
}
