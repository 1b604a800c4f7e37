// Job (/job?id=…): live curves over the event stream, per-layer health, progress with ETA,
// cancel, drawing against the job's latest weights while it trains, the spec.

import { followEvents, get, list, post, terminal } from "./api.js";
import { drawHealth, drawHistory, drawProbabilities } from "./charts.js";
import { $, duration, el, initKeyForm, notice, number, percent, query, report, table, warningList } from "./dom.js";
import { DrawingPad } from "./draw.js";

const jobId = query().get("id");
let job = null;
let stream = null;
let finalStatuses = new Set(); // the statuses a job ends in, from the API before the first render

function showProgress() {
  const progress = job.progress || {};
  const done = job.status === "succeeded";
  $("progress").value = done ? 1 : progress.fraction || 0;
  const parts = [`${job.status}`];
  if (progress.epochs) parts.push(`epoch ${progress.epoch} of ${progress.epochs}`);
  if (progress.batches && !finalStatuses.has(job.status)) parts.push(`batch ${progress.batch} of ${progress.batches}`);
  if (!finalStatuses.has(job.status) && progress.eta_seconds !== null && progress.eta_seconds !== undefined) {
    parts.push(`about ${duration(progress.eta_seconds)} left`);
  }
  if (job.stop_reason) parts.push(`stop reason: ${job.stop_reason}`);
  if (job.error) parts.push(`error: ${job.error.message}`);
  $("progress-text").textContent = parts.join(" · ");
  $("cancel").hidden = finalStatuses.has(job.status);
  $("cancel").disabled = Boolean(job.cancel_requested || job.stop_requested);
  // Stop-and-keep ends a running job after its current batch and saves what it learned.
  $("stop").hidden = job.status !== "running";
  $("stop").disabled = Boolean(job.cancel_requested || job.stop_requested);
  if (job.stop_requested && !finalStatuses.has(job.status)) $("stop").textContent = "Stopping after this batch…";
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

function showPlan() {
  const plan = job.plan;
  $("plan-section").hidden = !plan;
  if (!plan) return;
  const time = plan.time || {};
  const spent = job.metrics.reduce((total, entry) => total + (entry.seconds || 0), 0);
  const estimate = time.seconds_per_job === null || time.seconds_per_job === undefined
    ? time.note || "no time estimate"
    : `estimated ${duration(time.seconds_per_job)} of training`
      + (job.metrics.length ? `; the epochs so far took ${duration(spent)}` : "");
  $("plan").replaceChildren(
    el("p", {}, `${plan.parameters.toLocaleString("en")} parameters · ${plan.batches_per_epoch} batches per epoch · ${estimate}`),
    plan.warnings.length ? warningList(plan.warnings) : el("p", { class: "muted" }, "No teaching warnings."));
}

function showCurves() {
  drawHistory($("loss-chart"), $("accuracy-chart"), job.metrics);
  const withLayers = job.metrics.some((entry) => Array.isArray(entry.layers) && entry.layers.length);
  $("health").hidden = !withLayers;
  if (withLayers) drawHealth($("gradient-chart"), $("units-chart"), job.metrics);
  const columns = ["epoch", "loss", "accuracy", "val. loss", "val. accuracy", "learning rate", "seconds"];
  $("history").replaceChildren(table(columns, job.metrics.map((entry) => [
    String(entry.epoch), number(entry.loss), percent(entry.accuracy), number(entry.val_loss),
    percent(entry.val_accuracy), number(entry.learning_rate), number(entry.seconds, 2)])));
}

function render() {
  showSummary();
  showPlan();
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
      predict(); // the drawing, against this epoch's weights
    }
  } else if (name === "status") {
    Object.assign(job, data);
    if (finalStatuses.has(data.status)) load(); // the final record: model id, error, evaluation
    else { showSummary(); showProgress(); }
  }
}

// ---- drawing against the job's latest weights ------------------------------------------------

let pad = null;
let inFlight = false;
let again = false;

async function predict() {
  if (!pad || !pad.inked) return;
  if (inFlight) { again = true; return; }
  inFlight = true;
  try {
    const answer = await post(`/v1/jobs/${jobId}/predict`, { images: [pad.png()] });
    const prediction = answer.predictions[0];
    const name = answer.classes[prediction.label];
    $("prediction").textContent = `${name}: ${percent(prediction.probabilities[prediction.label])}`;
    $("prediction-source").textContent = `with the weights after epoch ${answer.epoch}`
      + `${answer.epochs ? ` of ${answer.epochs}` : ""} (${answer.weights})`;
    drawProbabilities($("bars"), answer.classes, prediction.probabilities);
  } catch (error) {
    $("prediction").textContent = error.message;
  } finally {
    inFlight = false;
    if (again) { again = false; predict(); }
  }
}

async function offerDrawing() {
  if (pad || job.status === "failed" || job.status === "cancelled") return;
  const dataset = (await list("/v1/datasets")).find((candidate) => candidate.name === job.dataset);
  if (!dataset || dataset.kind !== "image") return;
  $("draw").hidden = false;
  pad = new DrawingPad($("pad"), { onDraw: predict });
  $("clear").addEventListener("click", () => {
    pad.clear();
    $("prediction").textContent = "Draw something.";
  });
}

async function load() {
  if (!jobId) {
    notice("No job chosen: open one from Runs.");
    return;
  }
  try {
    [job, finalStatuses] = await Promise.all([get(`/v1/jobs/${jobId}`), terminal()]);
    render();
    await offerDrawing();
    if (!finalStatuses.has(job.status) && !stream) {
      stream = new AbortController();
      followEvents(`/v1/jobs/${jobId}/events`, { signal: stream.signal, onEvent })
        .catch(report).finally(() => { stream = null; });
    }
  } catch (error) {
    report(error);
  }
}

for (const action of ["cancel", "stop"]) {
  $(action).addEventListener("click", async () => {
    try {
      Object.assign(job, await post(`/v1/jobs/${jobId}/${action}`));
      showProgress();
    } catch (error) {
      report(error);
    }
  });
}

initKeyForm(load);
load();
