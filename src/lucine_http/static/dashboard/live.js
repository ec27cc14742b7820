// The operators' event stream: Server-Sent Events read with fetch, because the token must
// travel in the Authorization header and EventSource cannot send one. Events only say
// "something changed"; the dashboard then fetches what they concern. While the stream is
// down the dashboard polls, and the stream is retried with a growing pause.

import { expired, token } from "./api.js";

const STREAM_PATH = "/api/operators/stream";
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;
// The server sends a keep-alive every 15 s: this much silence means a dead connection.
const SILENCE_MS = 60000;

/**
 * Split a stream of text into SSE events: ``event:`` and ``data:`` lines, a blank line ends
 * one. Comments (``:``), ``id:`` and ``retry:`` are skipped, and so is an event whose data
 * is empty (the server's keep-alive is a comment followed by an empty ``data:`` line).
 */
export class SseParser {
  constructor(dispatch) {
    this.dispatch = dispatch;
    this.rest = "";
    this.kind = "";
    this.data = [];
  }

  push(text) {
    let chunk = this.rest + text;
    // A CR at the end may be the first half of a CRLF: keep it for the next chunk.
    const held = chunk.endsWith("\r") ? "\r" : "";
    if (held) chunk = chunk.slice(0, -1);
    const lines = chunk.split(/\r\n|\r|\n/);
    this.rest = lines.pop() + held;
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      const data = this.data.join("\n");
      const kind = this.kind || "message";
      this.kind = "";
      this.data = [];
      if (data !== "") this.dispatch(kind, data);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.kind = value;
    else if (field === "data") this.data.push(value);
  }
}

function parseData(data) {
  try {
    const value = JSON.parse(data);
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Open the stream and keep it open until ``stop()``.
 *
 * ``onMode("stream" | "polling")`` is called when the stream becomes usable (its "ready"
 * event) and when it is lost; ``onEvent(kind, data)`` for every other event. A 401 or a
 * "revoked" event drops the token and shows the login form (via api.js), and ends the
 * stream for good. Anything else that breaks it (network, another status, the server
 * ending it, a minute of silence) is retried after 2 s, doubling up to 30 s.
 */
export function openLive({ onEvent, onMode }) {
  const stopping = new AbortController();
  let mode = null;
  let connection = null;

  function setMode(next) {
    if (next === mode || stopping.signal.aborted) return;
    mode = next;
    onMode(next);
  }

  /** One connection, until it ends; whether it got as far as "ready", or "revoked". */
  async function connect() {
    const current = token.get();
    if (!current) return "revoked";
    connection = new AbortController();
    const aborted = () => connection.abort();
    stopping.signal.addEventListener("abort", aborted, { once: true });
    let silence = null;
    const listen = () => {
      clearTimeout(silence);
      silence = setTimeout(() => connection.abort(), SILENCE_MS);
    };
    let outcome = "failed";
    try {
      listen();
      const response = await fetch(STREAM_PATH, {
        headers: { Accept: "text/event-stream", Authorization: `Bearer ${current}` },
        credentials: "omit",
        cache: "no-store",
        signal: connection.signal,
      });
      if (response.status === 401) return "revoked";
      if (!response.ok || !response.body) return "failed";
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser((kind, data) => {
        if (outcome === "revoked") return;
        if (kind === "ready") {
          outcome = "ready";
          setMode("stream");
        } else if (kind === "revoked") {
          outcome = "revoked";
          connection.abort();
        } else onEvent(kind, parseData(data));
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        listen();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch {
      // Aborted, or the network failed: the caller decides what comes next.
    } finally {
      clearTimeout(silence);
      stopping.signal.removeEventListener("abort", aborted);
    }
    return outcome;
  }

  async function run() {
    let retry = RETRY_FIRST_MS;
    while (!stopping.signal.aborted) {
      const outcome = await connect();
      if (stopping.signal.aborted) return;
      if (outcome === "revoked") {
        stopping.abort();
        expired();
        return;
      }
      setMode("polling");
      // A stream that worked for a while starts the pauses over; one that never did backs off.
      if (outcome === "ready") retry = RETRY_FIRST_MS;
      await pause(retry, stopping.signal);
      if (outcome !== "ready") retry = Math.min(retry * 2, RETRY_MAX_MS);
    }
  }

  setMode("polling");
  run();
  return {
    /** Close the stream and stop retrying (logout). */
    stop: () => stopping.abort(),
    mode: () => mode,
  };
}
