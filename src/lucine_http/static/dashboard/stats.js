// Statistics: today's numbers, the team right now, and 14 days drawn as an inline SVG chart.

import { api } from "./api.js";
import { $, badge, formatDay, formatDuration, h, label, s } from "./dom.js";

const DAYS = 14;
const number = new Intl.NumberFormat("it-IT", { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat("it-IT", { style: "percent", maximumFractionDigits: 0 });

function card(key, value, caption, hint) {
  return h(
    "div",
    { class: "stat", dataset: { stat: key } },
    h("span", { class: "stat-value", text: value }),
    h("span", { class: "stat-label", text: caption }),
    hint ? h("span", { class: "stat-hint", text: hint }) : null,
  );
}

function milliseconds(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${number.format(ms / 1000)} s`;
}

function renderNumbers(stats) {
  const { today, performance, operators } = stats;
  const satisfaction =
    performance.satisfaction === null ? "—" : `${number.format(performance.satisfaction)}/5`;
  $("stats-day").textContent = `Giornata del ${formatDay(stats.day)}`;
  $("stats-cards").replaceChildren(
    card("totalChats", number.format(today.totalChats), "Chat oggi"),
    card("aiResolved", number.format(today.aiResolved), "Risolte dall'assistente"),
    card("escalated", number.format(today.escalated), "Passate a un operatore"),
    card("abandoned", number.format(today.abandoned), "Abbandonate"),
    card(
      "assistantResponse",
      milliseconds(performance.avgAssistantResponseMs),
      "Risposta media dell'assistente",
    ),
    card(
      "operatorResponse",
      formatDuration(performance.avgOperatorFirstResponseSeconds),
      "Prima risposta media degli operatori",
    ),
    card(
      "satisfaction",
      satisfaction,
      "Soddisfazione",
      `${performance.ratings} ${performance.ratings === 1 ? "valutazione" : "valutazioni"}`,
    ),
    card(
      "slaCompliance",
      performance.slaCompliance === null ? "—" : percent.format(performance.slaCompliance),
      "SLA rispettati",
    ),
    card("online", number.format(operators.online), "Operatori online"),
    card("waiting", number.format(operators.waiting), "Chat in coda ora"),
  );
  $("team-body").replaceChildren(
    ...operators.list.map((op) =>
      h(
        "tr",
        {},
        h("td", { text: op.displayName }),
        h("td", {}, badge(label("availability", op.availability), op.availability.toLowerCase())),
        h("td", { text: `${op.load} / ${op.capacity}` }),
      ),
    ),
  );
}

/** A round step (1, 2, 5, 10, 20, 25, 50, ...) so that 4 steps cover ``value``. */
function axisStep(value) {
  const wanted = Math.max(1, Math.ceil(value / 4));
  const magnitude = 10 ** Math.floor(Math.log10(wanted));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    const step = factor * magnitude;
    if (step >= wanted && Number.isInteger(step)) return step;
  }
  return 10 * magnitude;
}

/** Bars of chats and escalations per day; built node by node, no library. */
export function drawChart(days) {
  const width = 760;
  const height = 280;
  const left = 40;
  const right = 12;
  const top = 18;
  const bottom = 34;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const step = axisStep(Math.max(0, ...days.map((d) => d.chats)));
  const max = step * 4;
  const y = (v) => top + plotH - (v / max) * plotH;
  const band = plotW / Math.max(1, days.length);
  const barW = Math.min(18, band * 0.32);

  const chart = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-labelledby": "chart-title",
  });
  chart.append(s("title", { id: "chart-title", text: `Chat e passaggi a operatore, ultimi ${days.length} giorni` }));

  const grid = s("g", { class: "chart-grid" });
  for (let i = 0; i <= 4; i += 1) {
    const value = step * i;
    const gy = y(value);
    grid.append(
      s("line", { x1: left, x2: width - right, y1: gy, y2: gy }),
      s("text", { x: left - 8, y: gy + 4, class: "chart-axis", "text-anchor": "end", text: number.format(value) }),
    );
  }
  chart.append(grid);

  days.forEach((day, i) => {
    const center = left + band * i + band / 2;
    const group = s("g", { class: "chart-day", dataset: { day: day.day } });
    group.append(
      s("title", { text: `${formatDay(day.day)}: ${day.chats} chat, ${day.escalated} passate a operatore` }),
    );
    const bars = [
      ["chart-bar-chats", day.chats, center - barW - 1],
      ["chart-bar-escalated", day.escalated, center + 1],
    ];
    for (const [cls, value, x] of bars) {
      const barTop = y(value);
      group.append(
        s("rect", { class: cls, x, y: barTop, width: barW, height: Math.max(0, top + plotH - barTop), rx: 2 }),
      );
      if (value > 0) {
        group.append(
          s("text", { class: "chart-value", x: x + barW / 2, y: barTop - 4, "text-anchor": "middle", text: value }),
        );
      }
    }
    group.append(
      s("text", { class: "chart-axis", x: center, y: height - bottom + 18, "text-anchor": "middle", text: formatDay(day.day) }),
    );
    chart.append(group);
  });
  chart.append(s("line", { class: "chart-baseline", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
  return chart;
}

export async function loadStats() {
  const [stats, days] = await Promise.all([
    api("/api/analytics/stats"),
    api(`/api/analytics/daily?days=${DAYS}`),
  ]);
  renderNumbers(stats);
  $("chart").replaceChildren(drawChart(days));
  $("stats-updated").textContent = `Aggiornato alle ${new Date().toLocaleTimeString("it-IT", { hour: "2-digit", minute: "2-digit" })}`;
}

export function resetStats() {
  $("stats-cards").replaceChildren();
  $("chart").replaceChildren();
  $("team-body").replaceChildren();
}
