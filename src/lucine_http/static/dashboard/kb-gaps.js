// The knowledge base's "Domande senza risposta": what visitors asked that the assistant could
// not answer (low confidence, hedged or failed), grouped by meaning, the most frequent first.
// Visitors wrote these words: they reach the page as text only (dom.js's h and textContent).

import { api } from "./api.js";
import { $, attempt, formatDateTime, formatPercent, h } from "./dom.js";

let openChat = () => {};
let request = 0;

const times = (count) => (count === 1 ? "1 volta" : `${count} volte`);

/** One example; a button opening its chat. */
function example(gap, className) {
  return h(
    "button",
    {
      type: "button",
      class: `kb-gap-open ${className}`,
      title: `Apri la chat · ${formatDateTime(gap.at)} · confidenza ${formatPercent(gap.confidence)}`,
      dataset: { session: gap.sessionId },
      onclick: () => openChat(gap.sessionId),
    },
    gap.text,
  );
}

function groupItem(group) {
  const [first, ...others] = group.examples;
  return h(
    "li",
    { class: "kb-gap", dataset: { count: String(group.count) } },
    h(
      "div",
      { class: "kb-gap-head" },
      h("span", { class: "count kb-gap-count", title: `Chiesta ${times(group.count)}`, text: String(group.count) }),
      example(first, "kb-gap-title"),
      h("span", { class: "muted kb-gap-when", text: `Ultima: ${formatDateTime(group.lastAt)}` }),
    ),
    others.length
      ? h(
          "ul",
          { class: "kb-gap-examples", "aria-label": "Altri modi in cui è stata chiesta" },
          ...others.map((gap) => h("li", {}, example(gap, "kb-gap-example"))),
        )
      : null,
  );
}

/** The groups of the chosen period. */
export async function loadGaps() {
  const days = Number($("kb-gaps-days").value) || 30;
  const mine = ++request;
  const report = await api(`/api/kb/gaps?days=${days}`);
  if (mine !== request) return;
  const groups = report.groups.filter((group) => group.examples.length > 0);
  $("kb-gaps-list").replaceChildren(...groups.map(groupItem));
  $("kb-gaps-count").textContent = String(groups.length);
  $("kb-gaps-empty").textContent = `Nessuna domanda senza risposta negli ultimi ${report.days} giorni.`;
  $("kb-gaps-empty").hidden = groups.length > 0;
}

/** ``open(sessionId)`` shows a chat when an example is clicked. */
export function initGaps(open) {
  openChat = open;
  $("kb-gaps-days").addEventListener("change", () => attempt(loadGaps));
  $("kb-gaps-refresh").addEventListener("click", (event) => attempt(loadGaps, { busy: event.currentTarget }));
}

export function resetGaps() {
  request += 1;
  $("kb-gaps-days").value = "30";
  $("kb-gaps-list").replaceChildren();
  $("kb-gaps-count").textContent = "0";
  $("kb-gaps-empty").hidden = true;
}
