// Model (/model?id=…): test metrics, the confusion matrix, training curves, download and delete.

import { download, get, list, remove } from "./api.js";
import { drawConfusion, drawHistory } from "./charts.js";
import { $, el, initKeyForm, notice, number, percent, query, report, table } from "./dom.js";

const modelId = query().get("id");
let model = null;
let classes = [];

function showSummary() {
  document.title = `${model.name} · Model · mlpq studio`;
  $("model-name").textContent = `Model ${model.name}`;
  const parts = [`dataset ${model.dataset}`, `${(model.size_bytes / 1024).toFixed(1)} kB`,
    `saved ${(model.created_at || "").replace("T", " ").slice(0, 19)}`, `status ${model.status}`];
  $("summary").replaceChildren(parts.join(" · "),
    model.job_id ? el("span", {}, " · ", el("a", { href: `/job?id=${model.job_id}` }, "its job")) : null);
}

function showMetrics() {
  const evaluation = model.evaluation;
  if (!evaluation) {
    $("metrics").replaceChildren(el("p", { class: "muted" }, "No test-set evaluation."));
    return;
  }
  $("metrics").replaceChildren(
    el("p", {}, el("strong", {}, `accuracy ${percent(evaluation.accuracy)}`), ` · loss ${number(evaluation.loss)}`),
    table(["class", "precision", "recall"], classes.map((name, index) => [
      name, percent(evaluation.precision[index]), percent(evaluation.recall[index])])));
}

function showConfusion() {
  const matrix = model.evaluation && model.evaluation.confusion_matrix;
  if (!matrix) return;
  drawConfusion($("confusion"), matrix, classes, () => {});
}

async function load() {
  if (!modelId) {
    notice("No model chosen: open one from Runs.");
    return;
  }
  try {
    model = await get(`/v1/models/${modelId}`);
    const dataset = (await list("/v1/datasets")).find((candidate) => candidate.name === model.dataset);
    const count = model.evaluation ? model.evaluation.confusion_matrix.length : 0;
    classes = dataset ? dataset.classes : Array.from({ length: count }, (_, index) => String(index));
    showSummary();
    showMetrics();
    showConfusion();
    drawHistory($("loss-chart"), $("accuracy-chart"), model.metrics || []);
  } catch (error) {
    report(error);
  }
}

$("download").addEventListener("click", () =>
  download(`/v1/models/${modelId}/download`, `mlpq-model-${modelId}.zip`).catch(report));
$("delete").addEventListener("click", async () => {
  if (!confirm(`Delete model ${model ? model.name : modelId} and its files? This cannot be undone.`)) return;
  try {
    await remove(`/v1/models/${modelId}`);
    location.href = "/";
  } catch (error) {
    report(error);
  }
});
initKeyForm(load);
load();
