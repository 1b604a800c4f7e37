// Shared page helpers: building elements, the header's API key form, notices, state in the URL.

import { apiKey, setApiKey } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** el("button", {type: "button", onclick}, "text", child, ...): an element with its children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null && child !== false));
  return node;
}

export function notice(text) {
  const box = $("notice");
  box.textContent = text || "";
  box.hidden = !text;
}

/** Show what went wrong in the header notice (and keep the promise chain quiet). */
export function report(error) {
  notice(error.status === 401 ? `${error.message} Enter an API key above.` : error.message);
}

/** The header's key form: one key per browser session; `onChange` reloads the page's data. */
export function initKeyForm(onChange) {
  const input = $("api-key");
  const state = $("key-state");
  const show = () => { state.textContent = apiKey() ? "key set for this session" : ""; };
  show();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey(input.value.trim());
    input.value = "";
    show();
    notice("");
    if (onChange) onChange();
  });
}

/** The page's state from its query string, e.g. query().get("id"). */
export const query = () => new URLSearchParams(location.search);

/** Replace the page's query string (without reloading), so a link reproduces the view. */
export function setQuery(values) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  const search = params.toString();
  history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}${location.hash}`);
}

export const percent = (value) => (value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`);

export function number(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  if (Number.isInteger(value)) return value.toLocaleString("en");
  return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3)
    ? value.toExponential(2) : value.toFixed(digits);
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.max(1, Math.round(seconds * 1000))} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${Math.round(seconds % 60)} s`
    : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export const link = (href, text) => el("a", { href }, text);
export const jobLink = (job) => link(`/job?id=${job.id}`, job.name || job.id);
export const modelLink = (model) => link(`/model?id=${model.id}`, model.name || model.id);

/** A plan's teaching warnings (POST /v1/plans) as a list: title, why, and what to do. */
export function warningList(warnings, attributes = {}) {
  return el("ul", attributes, warnings.map((warning) => el("li", { dataset: { rule: warning.id } },
    el("strong", {}, warning.title), el("br"), warning.reason, el("br"), el("em", {}, warning.suggestion))));
}

/** A <table> from column headings and rows of cells (text or nodes), scrolling sideways
 * inside its box when it is wider than the screen. */
export function table(headings, rows, caption) {
  return el("div", { class: "scroll" }, el("table", {},
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, headings.map((heading) => el("th", { scope: "col" }, heading)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((cell) => el("td", {}, cell)))))));
}
