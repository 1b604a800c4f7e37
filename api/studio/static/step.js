// Step (/step#body=…&step=n): one training step traced by POST /v1/trace, laid out layer by layer
// (W, b, z, a, δ, ∂C/∂W, ∂C/∂b, and W, b after the update); "Next step" continues from there.

import { ApiError, openapi, post } from "./api.js";
import { $, el, initKeyForm, report } from "./dom.js";

let body = null; // the trace request: model, inputs, labels, optimizer, seed, weights
let step = 0; // steps already applied to body.weights
let descriptions = {}; // TraceLayer field -> its formula, from the OpenAPI document
let symbols = {};

// What each layer shows, in the order of the algorithm (before the update, then after).
const LAYER_PARTS = ["W", "b", "z", "a", "delta", "dC_dW", "dC_db", "W_after", "b_after"];

function saveState() {
  history.replaceState(null, "", `${location.pathname}#body=${encodeURIComponent(JSON.stringify(body))}&step=${step}`);
  $("body").value = JSON.stringify(body, null, 2);
}

function readState() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.get("body")) return false;
  try {
    body = JSON.parse(params.get("body"));
    step = Number(params.get("step")) || 0;
    return true;
  } catch {
    return false;
  }
}

/** A numeric table; each cell keeps its exact value in data-value and is tinted by sign. */
function matrix(name, values, label) {
  const rows = Array.isArray(values[0]) ? values : [values];
  const largest = Math.max(1e-12, ...rows.flat().map(Math.abs));
  return el("figure", { class: "matrix-figure" },
    el("figcaption", {}, el("strong", {}, label), descriptions[name] ? ` ${descriptions[name]}` : ""),
    el("div", { class: "scroll" }, el("table", { class: "matrix", dataset: { name } },
      el("tbody", {}, rows.map((row) => el("tr", {}, row.map((value) => {
        const tint = (0.35 * Math.abs(value)) / largest;
        const colour = value >= 0 ? `rgba(0, 114, 178, ${tint})` : `rgba(213, 94, 0, ${tint})`;
        return el("td", { dataset: { value: String(value) }, style: `background:${colour}` }, value.toFixed(4));
    })))))));
}

function showTrace(trace) {
  symbols = trace.symbols || {};
  const loss = el("p", { class: "prediction" }, `${symbols.loss || "C"} = ${trace.loss.toFixed(6)}`);
  loss.dataset.value = String(trace.loss);
  loss.id = "loss";
  $("batch").replaceChildren(
    el("section", {}, matrix("inputs", trace.inputs, `${symbols.inputs || "a⁰"} inputs`)),
    el("section", {}, matrix("targets", trace.targets, "targets y")),
    el("section", {}, matrix("output", trace.output, `${symbols.output || "aᴸ"} output`)),
    el("section", {}, loss, el("p", { class: "muted" }, `after ${step} step${step === 1 ? "" : "s"}; `
      + `optimizer ${trace.optimizer.name}, learning rate ${trace.optimizer.learning_rate}`)));
  $("layers").replaceChildren(...trace.layers.map((layer) => el("section", { class: "card", dataset: { layer: layer.layer } },
    el("h2", {}, `Layer ${layer.l}: ${layer.units} ${layer.activation} units, ${layer.fan_in} inputs each`),
    el("div", { class: "layers" }, LAYER_PARTS.filter((part) => layer[part] !== undefined && layer[part] !== null)
      .map((part) => el("section", { dataset: { part } }, matrix(part, layer[part], symbols[part] || part)))))));
}

async function trace() {
  $("errors").replaceChildren();
  $("step-state").textContent = "Tracing…";
  try {
    const answer = await post("/v1/trace", body);
    showTrace(answer);
    $("step-state").textContent = `Step ${step + 1} shown.`;
    saveState();
    return answer;
  } catch (error) {
    $("step-state").textContent = "";
    if (error instanceof ApiError && error.status === 422) {
      $("errors").replaceChildren(...Object.entries(error.errors).map(([path, messages]) =>
        el("li", {}, `${path}: ${messages.join("; ")}`)));
    } else {
      report(error);
    }
    return null;
  }
}

let last = null;

async function nextStep() {
  if (!last) return;
  body.weights = last.layers.map((layer) => ({ W: layer.W_after, b: layer.b_after }));
  step += 1;
  last = await trace();
}

/** The form's fields shape the first hidden layer, the optimizer and the seed; any change starts again. */
function fromForm() {
  const hidden = body.model.layers[0];
  hidden.units = Number($("hidden-units").value);
  hidden.activation = $("hidden-activation").value;
  body.optimizer = { ...(body.optimizer || {}), name: "sgd", learning_rate: Number($("learning-rate").value) };
  body.seed = Number($("seed").value);
  delete body.weights;
  step = 0;
}

function toForm() {
  $("hidden-units").value = body.model.layers[0].units;
  $("hidden-activation").value = body.model.layers[0].activation;
  $("learning-rate").value = (body.optimizer && body.optimizer.learning_rate) ?? "";
  $("seed").value = body.seed ?? 0;
}

async function start() {
  try {
    const document = await openapi();
    const layerSchema = document.components.schemas.TraceLayer.properties;
    descriptions = Object.fromEntries(Object.entries(layerSchema).map(([key, value]) => [key, value.description ? `(${value.description})` : ""]));
    const activations = document.components.schemas.Layer.properties.activation.enum;
    $("hidden-activation").replaceChildren(...activations.map((name) => el("option", { value: name }, name)));
    if (!readState()) {
      // Start from the API's own example: XOR through a tiny network, plain SGD.
      body = JSON.parse(JSON.stringify(document.paths["/v1/trace"].post.requestBody.content["application/json"].example));
      body.seed = body.seed ?? 0;
      step = 0;
    }
    toForm();
    last = await trace();
  } catch (error) {
    report(error);
  }
}

$("setup").addEventListener("submit", async (event) => {
  event.preventDefault();
  fromForm();
  last = await trace();
});
$("next").addEventListener("click", nextStep);
$("use-body").addEventListener("click", async () => {
  try {
    body = JSON.parse($("body").value);
  } catch (error) {
    $("errors").replaceChildren(el("li", {}, `Not valid JSON: ${error.message}`));
    return;
  }
  step = 0;
  toForm();
  last = await trace();
});
initKeyForm(start);
start();
