// Model (/model?id=…&true=&predicted=&layer=): test metrics, the confusion matrix whose cells
// open their mistakes, weights as pictures, training curves, the model card; download, delete.

import { download, get, list, objectUrl, remove, text } from "./api.js";
import { drawConfusion, drawHistory } from "./charts.js";
import { $, el, initKeyForm, notice, number, percent, query, report, setQuery, table } from "./dom.js";

const MISTAKES_SHOWN = 24;
const state = { true: query().get("true"), predicted: query().get("predicted"), layer: query().get("layer") || "0" };

const modelId = query().get("id");
let model = null;
let classes = [];
let datasetInfo = null;

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
  drawConfusion($("confusion"), matrix, classes, (trueClass, predicted) => showMistakes(trueClass, predicted));
  const options = () => classes.map((name, index) => el("option", { value: index }, name));
  $("true-class").replaceChildren(...options());
  $("predicted-class").replaceChildren(...options());
}

function remember() {
  setQuery({ id: modelId, true: state.true, predicted: state.predicted, layer: state.layer === "0" ? null : state.layer });
}

function mistakeFigure(mistake) {
  const ranked = mistake.probabilities.map((p, label) => [p, label]).sort((a, b) => b[0] - a[0]).slice(0, 3);
  const caption = `#${mistake.index}: ${mistake.true_class} seen as ${mistake.predicted_class} `
    + `(${percent(mistake.confidence)})`;
  return el("figure", { class: "mistake" },
    mistake.image ? el("img", { src: mistake.image, alt: caption }) : el("code", {}, JSON.stringify(mistake.inputs)),
    el("figcaption", {}, el("strong", {}, `${mistake.true_class} → ${mistake.predicted_class}`),
      el("br"), `test #${mistake.index}`, el("br"),
      ranked.map(([p, label]) => `${classes[label]} ${percent(p)}`).join(" · ")));
}

async function showMistakes(trueClass, predicted) {
  state.true = String(trueClass);
  state.predicted = String(predicted);
  remember();
  $("true-class").value = state.true;
  $("predicted-class").value = state.predicted;
  const cell = `true ${classes[trueClass]}, predicted ${classes[predicted]}`;
  if (trueClass === predicted) {
    $("mistakes-summary").textContent = `${cell}: the diagonal holds the correct predictions, not mistakes.`;
    $("mistakes").replaceChildren();
    return;
  }
  $("mistakes-summary").textContent = `Loading ${cell}…`;
  try {
    const answer = await get(`/v1/models/${modelId}/mistakes`, { true: trueClass, predicted, limit: MISTAKES_SHOWN });
    const shown = answer.mistakes.length;
    $("mistakes-summary").textContent = `${cell}: ${answer.total} of ${answer.test_size} test examples`
      + (shown < answer.total ? `, the ${shown} most confidently wrong shown.` : ".");
    $("mistakes").replaceChildren(...answer.mistakes.map(mistakeFigure));
  } catch (error) {
    $("mistakes-summary").textContent = error.message;
  }
}

async function showWeights() {
  const layers = model.spec.model.layers;
  $("layer").replaceChildren(...layers.map((layer, index) => el("option", { value: index },
    `${index + 1}: ${layer.units} ${layer.activation}`)));
  $("layer").value = state.layer;
  const index = Number($("layer").value);
  const image = datasetInfo && datasetInfo.kind === "image" && index === 0;
  $("weights-about").textContent = image
    ? "Each tile is one hidden unit's 784 incoming weights as a 28×28 picture: red pixels excite it, blue ones inhibit it."
    : "Rows are the units feeding in, columns this layer's units.";
  $("weights").alt = `weights of layer ${index + 1}`;
  try {
    const previous = $("weights").src;
    $("weights").src = await objectUrl(`/v1/models/${modelId}/weights/${index}.png`);
    if (previous.startsWith("blob:")) URL.revokeObjectURL(previous);
  } catch (error) {
    $("weights-about").textContent = error.message;
  }
}

async function showCard() {
  try {
    $("model-card").textContent = await text(`/v1/models/${modelId}/card`);
  } catch (error) {
    $("model-card").textContent = error.message;
  }
}

async function load() {
  if (!modelId) {
    notice("No model chosen: open one from Runs.");
    return;
  }
  try {
    model = await get(`/v1/models/${modelId}`);
    datasetInfo = (await list("/v1/datasets")).find((candidate) => candidate.name === model.dataset);
    const count = model.evaluation ? model.evaluation.confusion_matrix.length : 0;
    classes = datasetInfo ? datasetInfo.classes : Array.from({ length: count }, (_, index) => String(index));
    showSummary();
    showMetrics();
    showConfusion();
    drawHistory($("loss-chart"), $("accuracy-chart"), model.metrics || []);
    showWeights();
    showCard();
    if (state.true !== null && state.predicted !== null) showMistakes(Number(state.true), Number(state.predicted));
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
$("mistakes-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showMistakes(Number($("true-class").value), Number($("predicted-class").value));
});
$("layer").addEventListener("change", () => {
  state.layer = $("layer").value;
  remember();
  showWeights();
});
initKeyForm(load);
load();
