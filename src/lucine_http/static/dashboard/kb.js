// The knowledge base: search and browse the items, read one or (admins) add, edit and delete
// them, try a question to see what the assistant would answer, cited sources included, and
// see what visitors asked that nothing answered (kb-gaps.js).

import { api, enc } from "./api.js";
import { $, attempt, badge, errorText, fillSelect, h, label, toast } from "./dom.js";
import { initGaps, loadGaps, resetGaps } from "./kb-gaps.js";
import { initTrial, resetTrial } from "./kb-try.js";

const SEARCH_DELAY_MS = 250;
const INPUTS = {
  id: "kb-id",
  question: "kb-question",
  answer: "kb-answer",
  keywords: "kb-keywords",
  language: "kb-language",
};
const FIELD_NAMES = {
  id: "ID",
  question: "Domanda",
  answer: "Risposta",
  keywords: "Parole chiave",
  language: "Lingua",
};
// The server explains a bad field in English; the usual explanations, in Italian.
const REASONS = [
  [/^must not be empty$/, () => "non può essere vuoto"],
  [/^must be at most (\d+) characters$/, (n) => `al massimo ${n} caratteri`],
  [/^must not contain control characters$/, () => "non può contenere caratteri di controllo"],
  [/^must be 1-64 letters/, () => "da 1 a 64 lettere, cifre, «.», «_» o «-», e deve iniziare con una lettera o una cifra"],
  [/^at most (\d+) keywords$/, (n) => `al massimo ${n} parole chiave`],
];

let ctx;
const state = { openId: null, creating: false, listRequest: 0, itemRequest: 0, timer: null };

const mayEdit = () => ctx.isAdmin();

// ---- the list ----------------------------------------------------------------------------

function languageBadge(language) {
  const el = badge(String(language).toUpperCase(), "neutral");
  el.title = label("language", language);
  return el;
}

function listItem(item) {
  return h(
    "li",
    { class: `kb-item${item.id === state.openId ? " is-open" : ""}`, dataset: { item: item.id } },
    h(
      "button",
      {
        type: "button",
        class: "kb-open",
        "aria-label": `${item.id} (${label("language", item.language)}): ${item.question}`,
        onclick: () => openKbItem(item.id),
      },
      h("span", { class: "kb-item-head" }, h("span", { class: "kb-id", text: item.id }), languageBadge(item.language)),
      h("span", { class: "kb-question", text: item.question }),
    ),
  );
}

function markOpen() {
  for (const li of document.querySelectorAll("#kb-list .kb-item")) {
    li.classList.toggle("is-open", li.dataset.item === state.openId);
  }
}

/** The items containing the words in the search box, in the chosen language, by id. */
async function loadItems() {
  applyRole();
  const query = new URLSearchParams();
  const words = $("kb-q").value.trim();
  const language = $("kb-filter-language").value;
  if (words) query.set("q", words);
  if (language) query.set("language", language);
  const request = ++state.listRequest;
  const search = query.toString();
  const items = await api(search ? `/api/kb?${search}` : "/api/kb");
  if (request !== state.listRequest) return;
  $("kb-list").replaceChildren(...items.map(listItem));
  $("kb-count").textContent = String(items.length);
  $("kb-empty").textContent =
    words || language ? "Nessuna voce corrisponde alla ricerca." : "La base di conoscenza è vuota.";
  $("kb-empty").hidden = items.length > 0;
}

/** The view: its items and the unanswered questions (one failing does not hide the other). */
export async function loadKb() {
  const results = await Promise.allSettled([loadItems(), loadGaps()]);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

function searchSoon() {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => attempt(loadItems), SEARCH_DELAY_MS);
}

// ---- one item ----------------------------------------------------------------------------

/** Admins edit (the id only of a new item); everyone else reads. */
function applyRole() {
  const admin = mayEdit();
  for (const id of ["kb-question", "kb-answer", "kb-keywords", "kb-language"]) $(id).disabled = !admin;
  $("kb-id").disabled = !(admin && state.creating);
  $("kb-actions").hidden = !admin;
  $("kb-delete").hidden = state.creating || !$("kb-confirm").hidden;
  $("kb-new").hidden = !admin;
  $("kb-readonly").hidden = admin;
  $("kb-readonly-hint").hidden = admin;
  $("kb-placeholder-admin").hidden = !admin;
}

function clearErrors() {
  $("kb-error").hidden = true;
  $("kb-error").textContent = "";
  for (const id of Object.values(INPUTS)) $(id).removeAttribute("aria-invalid");
}

function showError(text, field) {
  $("kb-error").textContent = text;
  $("kb-error").hidden = false;
  const input = field && INPUTS[field] ? $(INPUTS[field]) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    if (!input.disabled) input.focus();
  }
}

function hideConfirm() {
  $("kb-confirm").hidden = true;
  $("kb-delete").hidden = state.creating || !mayEdit();
}

function showForm(title) {
  clearErrors();
  $("kb-placeholder").hidden = true;
  $("kb-form").hidden = false;
  $("kb-form-title").textContent = title;
  applyRole();
  hideConfirm();
  markOpen();
}

function showItem(item) {
  state.openId = item.id;
  state.creating = false;
  $("kb-id").value = item.id;
  $("kb-language").value = item.language;
  $("kb-question").value = item.question;
  $("kb-answer").value = item.answer;
  $("kb-keywords").value = item.keywords.join(", ");
  showForm(`Voce ${item.id}`);
}

function showPlaceholder() {
  state.openId = null;
  state.creating = false;
  state.itemRequest += 1;
  clearErrors();
  $("kb-form").hidden = true;
  $("kb-placeholder").hidden = false;
  markOpen();
}

function newItem() {
  state.openId = null;
  state.creating = true;
  state.itemRequest += 1;
  for (const id of ["kb-id", "kb-question", "kb-answer", "kb-keywords"]) $(id).value = "";
  $("kb-language").value = $("kb-filter-language").value || "it";
  showForm("Nuova voce");
  $("kb-id").focus();
}

/** Show one item (from the list or a source of a tried question). */
export async function openKbItem(itemId) {
  ctx.showView("kb");
  const request = ++state.itemRequest;
  try {
    const item = await api(`/api/kb/${enc(itemId)}`);
    if (request === state.itemRequest) showItem(item);
  } catch (error) {
    if (error.status === 404) {
      toast(`La voce «${itemId}» non esiste più.`, "error");
      await attempt(loadItems);
    } else if (error.status !== 401) toast(errorText(error), "error");
  }
}

function fieldOf(error) {
  const details = Array.isArray(error.details) ? error.details[0] : error.details;
  return details && details.field ? String(details.field) : null;
}

function reasonOf(error, field) {
  const raw = Array.isArray(error.details)
    ? String(error.details[0].message || error.message)
    : String(error.message || "").replace(`${field}: `, "");
  for (const [pattern, italian] of REASONS) {
    const match = raw.match(pattern);
    if (match) return italian(match[1]);
  }
  return raw;
}

/** A failed change, in Italian, beside the field it is about. */
function formError(error, itemId) {
  if (error.status === 401) return;
  if (error.status === 400) {
    const field = fieldOf(error);
    const name = FIELD_NAMES[field] || field || "un campo";
    showError(`Controlla il campo «${name}»: ${reasonOf(error, field)}.`, field);
  } else if (error.status === 409) {
    showError(`Esiste già una voce con ID «${itemId}»: scegline un altro.`, "id");
  } else if (error.status === 404) {
    showError(`La voce «${itemId}» non esiste più: forse l'ha eliminata un altro amministratore.`);
    attempt(loadItems);
  } else if (error.status === 403) {
    showError("Solo gli amministratori possono modificare la base di conoscenza.");
  } else showError(errorText(error));
}

function keywords() {
  return $("kb-keywords")
    .value.split(/[,\n]/)
    .map((word) => word.trim())
    .filter(Boolean);
}

async function save(event) {
  event.preventDefault();
  if (!mayEdit()) return;
  clearErrors();
  const creating = state.creating;
  const itemId = creating ? $("kb-id").value.trim() : state.openId;
  const body = {
    question: $("kb-question").value,
    answer: $("kb-answer").value,
    keywords: keywords(),
    language: $("kb-language").value,
  };
  const button = $("kb-save");
  button.disabled = true;
  try {
    const item = creating
      ? await api("/api/kb", { method: "POST", body: { id: itemId, ...body } })
      : await api(`/api/kb/${enc(itemId)}`, { method: "PUT", body });
    showItem(item);
    toast(creating ? `Voce «${item.id}» creata.` : `Voce «${item.id}» salvata.`);
    await attempt(loadItems);
  } catch (error) {
    formError(error, itemId);
  } finally {
    button.disabled = false;
  }
}

function askDelete() {
  if (!state.openId) return;
  $("kb-confirm-text").textContent = `Eliminare definitivamente «${state.openId}»?`;
  $("kb-delete").hidden = true;
  $("kb-confirm").hidden = false;
  $("kb-delete-no").focus();
}

async function confirmDelete(event) {
  const itemId = state.openId;
  if (!itemId || !mayEdit()) return;
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api(`/api/kb/${enc(itemId)}`, { method: "DELETE" });
    showPlaceholder();
    toast(`Voce «${itemId}» eliminata.`);
    await attempt(loadItems);
  } catch (error) {
    hideConfirm();
    formError(error, itemId);
  } finally {
    button.disabled = false;
  }
}

// ---- wiring ------------------------------------------------------------------------------

export function initKb(context) {
  ctx = context;
  fillSelect($("kb-filter-language"), "language", { blank: "Tutte" });
  fillSelect($("kb-language"), "language");
  $("kb-search").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(state.timer);
    attempt(loadItems);
  });
  $("kb-q").addEventListener("input", searchSoon);
  $("kb-filter-language").addEventListener("change", () => attempt(loadItems));
  $("kb-new").addEventListener("click", newItem);
  $("kb-form").addEventListener("submit", save);
  $("kb-delete").addEventListener("click", askDelete);
  $("kb-delete-no").addEventListener("click", () => {
    hideConfirm();
    $("kb-delete").focus();
  });
  $("kb-delete-yes").addEventListener("click", confirmDelete);
  initTrial(openKbItem);
  initGaps((sessionId) => ctx.openChat(sessionId));
}

/** Forget everything (logout): the next operator may have another role. */
export function resetKb() {
  clearTimeout(state.timer);
  state.listRequest += 1;
  $("kb-q").value = "";
  $("kb-filter-language").value = "";
  $("kb-list").replaceChildren();
  $("kb-count").textContent = "0";
  resetTrial();
  resetGaps();
  showPlaceholder();
}
