// The knowledge base's "Prova una domanda": what the assistant would answer to a visitor
// opening a chat with a question, its confidence, the sources it cites and what else it found.

import { api } from "./api.js";
import { $, attempt, fillSelect, formatPercent, h, label } from "./dom.js";

let openItem = () => {};

function hitItem(hit) {
  return h(
    "li",
    { class: "kb-hit", dataset: { item: hit.id } },
    h(
      "button",
      {
        type: "button",
        class: "kb-hit-open",
        "aria-label": `${hit.id}: ${hit.question} (punteggio ${formatPercent(hit.score)})`,
        onclick: () => openItem(hit.id),
      },
      h("span", { class: "kb-id", text: hit.id }),
      h("span", { class: "kb-hit-question", text: hit.question }),
      h("span", { class: "kb-score", title: "Punteggio", text: formatPercent(hit.score) }),
    ),
  );
}

function renderTrial(trial) {
  const cited = new Set(trial.sources.map((hit) => hit.id));
  const others = trial.retrieved.filter((hit) => !cited.has(hit.id));
  $("kb-try-result").hidden = false;
  $("kb-try-confidence").textContent = `Confidenza ${formatPercent(trial.confidence)}`;
  $("kb-try-confidence").className = `badge badge-${trial.offerHuman ? "neutral" : "success"}`;
  $("kb-try-language-used").textContent = label("language", trial.language);
  $("kb-try-human").textContent = "Verrebbe proposto un operatore";
  $("kb-try-human").hidden = !trial.offerHuman;
  const reasons = trial.reasons.map((reason) => label("reason", reason));
  $("kb-try-reasons").textContent = reasons.length ? `Perché: ${reasons.join("; ")}.` : "";
  $("kb-try-reasons").hidden = !(trial.offerHuman && reasons.length);
  $("kb-try-answer").textContent = trial.answer;
  $("kb-try-sources").replaceChildren(...trial.sources.map(hitItem));
  $("kb-try-no-sources").hidden = trial.sources.length > 0;
  $("kb-try-retrieved").replaceChildren(...others.map(hitItem));
  $("kb-try-no-retrieved").hidden = others.length > 0;
}

async function tryQuestion(event) {
  event.preventDefault();
  const question = $("kb-try-question").value.trim();
  if (!question) return;
  const language = $("kb-try-language").value;
  await attempt(
    async () => {
      const trial = await api("/api/kb/try", {
        method: "POST",
        body: language ? { question, language } : { question },
      });
      renderTrial(trial);
    },
    { busy: event.submitter },
  );
}

/** ``open(id)`` shows an item when one of the hits is clicked. */
export function initTrial(open) {
  openItem = open;
  fillSelect($("kb-try-language"), "language", { blank: "Automatica" });
  $("kb-try-form").addEventListener("submit", tryQuestion);
}

export function resetTrial() {
  $("kb-try-form").reset();
  $("kb-try-result").hidden = true;
  $("kb-try-sources").replaceChildren();
  $("kb-try-retrieved").replaceChildren();
}
