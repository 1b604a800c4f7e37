// Runs (/): jobs with live progress and models; pick jobs to compare.

import { followEvents, list, terminal } from "./api.js";
import { $, el, initKeyForm, jobLink, modelLink, notice, percent, report, table } from "./dom.js";

const REFRESH_MS = 10000; // jobs submitted elsewhere; running ones also follow their streams
const MAX_STREAMS = 4; // each open stream holds a server thread
const streams = new Map(); // job id -> AbortController
let finalStatuses = new Set(); // the statuses a job ends in, from the API on the first refresh

function selected() {
  return [...document.querySelectorAll("input[name=compare]:checked")].map((box) => box.value);
}

function progressCell(job) {
  const progress = job.progress || {};
  const fraction = job.status === "succeeded" ? 1 : progress.fraction || 0;
  return el("span", { id: `progress-${job.id}` }, el("progress", { max: 1, value: fraction, "aria-label": `${job.name} progress` }),
    progress.epochs ? ` epoch ${progress.epoch}/${progress.epochs}` : "");
}

function jobRows(jobs) {
  return jobs.map((job) => {
    const last = job.metrics[job.metrics.length - 1] || {};
    return [
      el("input", { type: "checkbox", name: "compare", value: job.id, "aria-label": `compare ${job.name}`,
        onchange: () => { $("compare").disabled = selected().length < 2; } }),
      jobLink(job), job.dataset, el("span", { class: `status ${job.status}` }, job.status),
      progressCell(job), percent(last.accuracy), percent(last.val_accuracy),
      job.model_id ? el("a", { href: `/model?id=${job.model_id}` }, "model") : "",
    ];
  });
}

function follow(job) {
  if (streams.has(job.id) || streams.size >= MAX_STREAMS) return;
  const controller = new AbortController();
  streams.set(job.id, controller);
  followEvents(`/v1/jobs/${job.id}/events`, {
    signal: controller.signal,
    onEvent: (name, data) => {
      const cell = $(`progress-${job.id}`);
      if (name === "progress" && cell) cell.replaceWith(progressCell({ ...job, progress: data }));
      if (name === "status" && finalStatuses.has(data.status)) refresh();
    },
  }).catch(() => {}).finally(() => streams.delete(job.id));
}

async function refresh() {
  try {
    const [jobs, models, statuses] = await Promise.all([list("/v1/jobs", {}, 50), list("/v1/models", {}, 50), terminal()]);
    finalStatuses = statuses;
    const ticked = new Set(selected());
    $("jobs").replaceChildren(jobs.length
      ? table(["compare", "name", "dataset", "status", "progress", "accuracy", "val. accuracy", ""], jobRows(jobs))
      : el("p", { class: "muted" }, "No jobs yet."));
    for (const box of document.querySelectorAll("input[name=compare]")) box.checked = ticked.has(box.value);
    $("compare").disabled = selected().length < 2;
    $("models").replaceChildren(models.length
      ? table(["name", "dataset", "test accuracy", "status", "created"], models.map((model) => [
        modelLink(model), model.dataset, percent(model.evaluation && model.evaluation.accuracy),
        model.status, (model.created_at || "").replace("T", " ").slice(0, 19)]))
      : el("p", { class: "muted" }, "No models yet."));
    for (const job of jobs) if (!finalStatuses.has(job.status)) follow(job);
    notice("");
  } catch (error) {
    report(error);
  }
}

$("compare").addEventListener("click", () => { location.href = `/compare?jobs=${selected().join(",")}`; });
initKeyForm(refresh);
refresh();
setInterval(refresh, REFRESH_MS);
