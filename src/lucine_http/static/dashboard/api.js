// The dashboard's only way to the server: JSON over fetch with a bearer token.
// The token lives in sessionStorage (gone when the tab closes) and never in a URL.

const TOKEN_KEY = "lucine.dashboard.token";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    // 400s name the field: {field} from the domain, [{field, message}] from the decoder.
    this.details = details;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let unauthorized = () => {};

/** What to do when the server says the token is no good (401): show the login form. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** The token is no good any more (a 401, or the event stream said "revoked"): drop it. */
export function expired() {
  token.clear();
  unauthorized();
}

/**
 * Call the API. ``auth: false`` sends no token (login, the visitor's poll).
 * Resolves to the parsed JSON (null for 204); rejects with an ApiError.
 */
export async function api(path, { method = "GET", body, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const current = token.get();
    if (!current) {
      unauthorized();
      throw new ApiError(401, "not_authenticated", "not logged in");
    }
    headers.Authorization = `Bearer ${current}`;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network", "network error");
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      (data && data.code) || "http_error",
      (data && data.message) || response.statusText,
      response.headers.get("Retry-After"),
      data && data.details,
    );
    if (response.status === 401 && auth) expired();
    throw error;
  }
  return data;
}

export const enc = encodeURIComponent;
