// The studio's one way to the mlpq API: the API key, JSON requests, the one error shape,
// images behind the key, and Server-Sent Events read with fetch (so the key is sent).

const KEY_STORAGE = "mlpq.api-key"; // sessionStorage: kept for this browser session only
const RECONNECT_MS = 2000;

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function authorized(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

/** An answer in the API's one error shape: {code, status, message, errors: {path: [text]}}. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.errors = (body && body.errors) || {};
    this.type = body && body.type;
  }
}

export function withQuery(path, query) {
  const entries = Object.entries(query || {}).filter(([, value]) => value !== undefined && value !== null);
  return entries.length ? `${path}?${new URLSearchParams(entries)}` : path;
}

async function send(path, { method = "GET", body, query, signal, headers } = {}) {
  const init = { method, signal, headers: authorized(headers) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(withQuery(path, query), init);
  if (!response.ok) {
    const text = await response.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { parsed = { message: text.slice(0, 200) || response.statusText }; }
    throw new ApiError(response.status, parsed);
  }
  return response;
}

/** JSON from the API (null for 204); throws ApiError for any 4xx/5xx. */
export async function request(path, options = {}) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

/** A text answer, e.g. the Markdown model card. */
export async function text(path, options = {}) {
  return (await send(path, options)).text();
}

export const get = (path, query, options = {}) => request(path, { ...options, query });
export const post = (path, body, options = {}) => request(path, { ...options, method: "POST", body });
export const remove = (path) => request(path, { method: "DELETE" });

/** An object URL for an image (or any file) that needs the key: <img src> cannot send it. */
export async function objectUrl(path, query) {
  const response = await send(path, { query });
  return URL.createObjectURL(await response.blob());
}

/** Save a file from the API under `fileName`. */
export async function download(path, fileName) {
  const link = document.createElement("a");
  link.href = await objectUrl(path);
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

let openapiDocument;
/** The OpenAPI document: the source of every choice list (datasets, activations, ...). */
export function openapi() {
  openapiDocument = openapiDocument || request("/openapi.json");
  return openapiDocument;
}

/** A component schema of the OpenAPI document, e.g. schema("Layer"). */
export async function schema(name) {
  const document = await openapi();
  return document.components.schemas[name];
}

let terminalStatuses;
/** The statuses a job ends in and never leaves, as a Set: the API declares them (Job.status's x-terminal). */
export function terminal() {
  terminalStatuses = terminalStatuses || schema("Job").then((job) => new Set(job.properties.status["x-terminal"]));
  return terminalStatuses;
}

/** Every item of a paginated list, newest first (at most `limit`). */
export async function list(path, query = {}, limit = 100) {
  return get(path, { page_size: limit, ...query });
}

function parseFrame(frame) {
  const event = { name: "message", id: null, data: undefined };
  for (const line of frame.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue; // blank, or a ": comment" keep-alive
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.name = value;
    else if (field === "data") event.data = event.data === undefined ? value : `${event.data}\n${value}`;
  }
  return event;
}

const pause = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

/**
 * Follow a job's event stream: onEvent(name, data) for each `status`, `progress` and `epoch`
 * event, until the job's final status (or `signal` aborts). A dropped or time-limited stream
 * is resumed with Last-Event-ID, so no event is seen twice or missed.
 */
export async function followEvents(path, { signal, onEvent }) {
  const finished = await terminal();
  let lastId = null;
  while (!signal.aborted) {
    let response;
    try {
      response = await send(path, { signal, headers: lastId ? { "Last-Event-ID": lastId } : {} });
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status !== 503) throw error;
      await pause(RECONNECT_MS, signal);
      continue;
    }
    if (response.status === 204) return; // the job ended and nothing is left to send
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event.id) lastId = event.id;
          if (event.data === undefined) continue;
          const data = JSON.parse(event.data);
          onEvent(event.name, data);
          if (event.name === "status" && finished.has(data.status)) {
            reader.cancel().catch(() => {});
            return;
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    await pause(RECONNECT_MS, signal);
  }
}
