// Job (/job?id=…): live curves over the event stream, progress with ETA, cancel, the spec.

import { TERMINAL, followEvents, get, post } from "./api.js";
import { drawHistory } from "./charts.js";
import { $, duration, el, initKeyForm, notice, number, percent, query, report, table } from "./dom.js";

const jobId = query().get("id");
let job = null;
let stream = null;

function showProgress() {
  const progress = job.progress || {};
  const done = job.status === "succeeded";
  $("progress").value = done ? 1 : progress.fraction || 0;
  const parts = [`${job.status}`];
  if (progress.epochs) parts.push(`epoch ${progress.epoch} of ${progress.epochs}`);
  if (progress.batches && !TERMINAL.has(job.status)) parts.push(`batch ${progress.batch} of ${progress.batches}`);
  if (!TERMINAL.has(job.status) && progress.eta_seconds !== null && progress.eta_seconds !== undefined) {
    parts.push(`about ${duration(progress.eta_seconds)} left`);
  }
  if (job.stop_reason) parts.push(`stop reason: ${job.stop_reason}`);
  if (job.error) parts.push(`error: ${job.error.message}`);
  $("progress-text").textContent = parts.join(" · ");
  $("cancel").hidden = TERMINAL.has(job.status);
  $("cancel").disabled = Boolean(job.cancel_requested);
}

function showSummary() {
  document.title = `${job.name} · Job · mlpq studio`;
  $("job-name").textContent = `Job ${job.name}`;
  const summary = [el("span", { class: `status ${job.status}` }, job.status), ` · dataset ${job.dataset}`,
    ` · created ${(job.created_at || "").replace("T", " ").slice(0, 19)}`];
  if (job.model_id) summary.push(" · ", el("a", { href: `/model?id=${job.model_id}` }, "open the model"),
    " · ", el("a", { href: `/playground?model=${job.model_id}` }, "draw against it"));
  $("summary").replaceChildren(...summary);
  $("spec").textContent = JSON.stringify(job.spec, null, 2);
  const body = { name: job.name, dataset: job.dataset, ...job.spec };
  $("rebuild").href = `/build#spec=${encodeURIComponent(JSON.stringify(body))}`;
  $("compare-link").href = `/compare?jobs=${job.id}`;
  $("compare-link").hidden = false;
}

function showCurves() {
  drawHistory($("loss-chart"), $("accuracy-chart"), job.metrics);
  const columns = ["epoch", "loss", "accuracy", "val. loss", "val. accuracy", "learning rate", "seconds"];
  $("history").replaceChildren(table(columns, job.metrics.map((entry) => [
    String(entry.epoch), number(entry.loss), percent(entry.accuracy), number(entry.val_loss),
    percent(entry.val_accuracy), number(entry.learning_rate), number(entry.seconds, 2)])));
}

function render() {
  showSummary();
  showProgress();
  showCurves();
}

function onEvent(name, data) {
  if (name === "progress") {
    job.progress = data;
    showProgress();
  } else if (name === "epoch") {
    if (!job.metrics.some((entry) => entry.epoch === data.epoch)) {
      job.metrics.push(data);
      job.metrics.sort((a, b) => a.epoch - b.epoch);
      showCurves();
    }
  } else if (name === "status") {
    Object.assign(job, data);
    if (TERMINAL.has(data.status)) load(); // the final record: model id, error, evaluation
    else { showSummary(); showProgress(); }
  }
}

async function load() {
  if (!jobId) {
    notice("No job chosen: open one from Runs.");
    return;
  }
  try {
    job = await get(`/v1/jobs/${jobId}`);
    render();
    if (!TERMINAL.has(job.status) && !stream) {
      stream = new AbortController();
      followEvents(`/v1/jobs/${jobId}/events`, { signal: stream.signal, onEvent })
        .catch(report).finally(() => { stream = null; });
    }
  } catch (error) {
    report(error);
  }
}

$("cancel").addEventListener("click", async () => {
  try {
    Object.assign(job, await post(`/v1/jobs/${jobId}/cancel`));
    showProgress();
  } catch (error) {
    report(error);
  }
});

initKeyForm(load);
load();
