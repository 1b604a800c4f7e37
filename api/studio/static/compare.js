// Compare (/compare?jobs=a,b&sweep=id): the jobs' curves overlaid by epoch, beside a diff of
// their specs; and a sweep's table, parameters against the metric, and best curves (sweep.js).

import { get, list } from "./api.js";
import { drawOverlay } from "./charts.js";
import { $, el, initKeyForm, notice, query, report, setQuery, table } from "./dom.js";
import { initSweepPicker, showSweep } from "./sweep.js";

let chosen = (query().get("jobs") || "").split(",").filter(Boolean);
let sweepId = query().get("sweep") || "";
const records = new Map(); // job id -> job record

/** {"training.optimizer.name": "adam", "model.layers": "[...]", ...} for a job's settings. */
function flatten(value, prefix = "", into = {}) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, into);
  } else if (Array.isArray(value) && prefix.endsWith("layers")) {
    into[`${prefix} (widths)`] = value.map((layer) => layer.units).join("-");
    value.forEach((layer, index) => flatten(layer, `${prefix}[${index}]`, into));
  } else {
    into[prefix] = value === null || value === undefined ? "–" : JSON.stringify(value);
  }
  return into;
}

function showDiff(jobs) {
  const flat = jobs.map((job) => flatten({ dataset: job.dataset, ...job.spec }));
  const paths = [...new Set(flat.flatMap(Object.keys))].sort();
  const differ = paths.filter((path) => new Set(flat.map((settings) => settings[path] ?? "–")).size > 1);
  const same = paths.filter((path) => !differ.includes(path));
  const headings = ["setting", ...jobs.map((job) => job.name)];
  const rows = (keys) => keys.map((path) => [path, ...flat.map((settings) => settings[path] ?? "–")]);
  $("diff").replaceChildren(differ.length ? table(headings, rows(differ))
    : el("p", { class: "muted" }, "Their specs are the same."));
  $("same").replaceChildren(table(headings, rows(same)));
}

async function show() {
  setQuery({ jobs: chosen.join(","), sweep: sweepId });
  for (const box of document.querySelectorAll("#picker input")) box.checked = chosen.includes(box.value);
  try {
    for (const id of chosen) if (!records.has(id)) records.set(id, await get(`/v1/jobs/${id}`));
  } catch (error) {
    report(error);
    return;
  }
  const jobs = chosen.map((id) => records.get(id));
  if (jobs.length < 2 && !sweepId) notice("Pick at least two jobs, or a sweep, to compare.");
  else notice("");
  const names = jobs.map((job) => job.name);
  const label = (job) => (names.filter((name) => name === job.name).length > 1 ? `${job.name} ${job.id.slice(0, 6)}` : job.name);
  drawOverlay($("loss-chart"), $("accuracy-chart"), jobs.map((job) => ({ label: label(job), metrics: job.metrics })));
  showDiff(jobs);
}

async function start() {
  try {
    const jobs = await list("/v1/jobs", {}, 50);
    for (const id of chosen) {
      if (!jobs.some((job) => job.id === id)) jobs.push(await get(`/v1/jobs/${id}`));
    }
    for (const job of jobs) records.set(job.id, job);
    $("picker").replaceChildren(...jobs.map((job) => el("label", { class: "row" },
      el("input", { type: "checkbox", value: job.id, onchange: (event) => {
        chosen = event.target.checked ? [...chosen, job.id] : chosen.filter((id) => id !== job.id);
        show();
      } }), " ", job.name, el("span", { class: "muted" }, ` ${job.status} · ${job.id.slice(0, 8)}`))));
    show();
    await initSweepPicker((id) => {
      sweepId = id;
      if (sweepId) notice("");
      setQuery({ jobs: chosen.join(","), sweep: sweepId });
      showSweep(sweepId).catch(report);
    });
    await showSweep(sweepId);
  } catch (error) {
    report(error);
  }
}

initKeyForm(start);
start();
