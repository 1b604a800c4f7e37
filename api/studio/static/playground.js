// Playground (/playground?model=…&explain=1): draw, and the prediction, the ten probability bars,
// the 28×28 the model saw and (on request) its saliency follow as you draw (throttled; one
// request in flight at a time).

import { get, list, post } from "./api.js";
import { drawProbabilities } from "./charts.js";
import { $, el, initKeyForm, notice, query, report, setQuery } from "./dom.js";
import { DrawingPad, paintPixels } from "./draw.js";

let inFlight = false;
let again = false;

const pad = new DrawingPad($("pad"), { onDraw: predict });

async function predict() {
  const model = $("model").value;
  if (!model || !pad.inked) return;
  if (inFlight) { again = true; return; } // the newest drawing is sent when this answer is in
  inFlight = true;
  try {
    const explain = $("explain").checked ? "&explain=true" : "";
    const answer = await post(`/v1/models/${model}/predict?return_preprocessed=true${explain}`, { images: [pad.png()] });
    show(answer);
  } catch (error) {
    $("prediction").textContent = error.message;
  } finally {
    inFlight = false;
    if (again) { again = false; predict(); }
  }
}

function show(answer) {
  const prediction = answer.predictions[0];
  const name = answer.classes[prediction.label];
  const confidence = (100 * prediction.probabilities[prediction.label]).toFixed(1);
  $("prediction").textContent = `${name === String(prediction.label) ? name : `${prediction.label} (${name})`}: ${confidence}%`;
  drawProbabilities($("bars"), answer.classes, prediction.probabilities);
  if (prediction.preprocessed) paintPixels($("seen"), prediction.preprocessed);
  $("saliency-figure").hidden = !prediction.saliency_overlay;
  if (prediction.saliency_overlay) $("saliency").src = prediction.saliency_overlay;
}

function clear() {
  pad.clear();
  $("prediction").textContent = "Draw something.";
  $("seen").getContext("2d").clearRect(0, 0, 112, 112);
}

async function loadModels() {
  try {
    // only models whose input is an image (the API filters; newest first, so [0] is the default)
    const models = await list("/v1/models", { input: "image" });
    const wanted = query().get("model");
    const options = models.map((model) => el("option", { value: model.id },
      `${model.name} (${model.dataset}${model.evaluation ? `, ${(100 * model.evaluation.accuracy).toFixed(1)}%` : ""})`));
    if (wanted && !models.some((model) => model.id === wanted)) {
      const model = await get(`/v1/models/${wanted}`); // say why it is not offered
      notice(`${model.name} was trained on ${model.dataset}, which is not images: pick an image model.`);
    }
    $("model").replaceChildren(...options);
    if (!models.length) {
      notice("No image model yet: train one on mnist or fashion-mnist in Build.");
      return;
    }
    $("model").value = models.some((model) => model.id === wanted) ? wanted : models[0].id;
    modelChosen();
  } catch (error) {
    report(error);
  }
}

function remember() {
  setQuery({ model: $("model").value, explain: $("explain").checked ? "1" : null });
}

function modelChosen() {
  remember();
  const option = $("model").selectedOptions[0];
  $("model-about").replaceChildren("Model ", el("a", { href: `/model?id=${$("model").value}` }, option ? option.textContent : ""));
  predict();
}

$("model").addEventListener("change", modelChosen);
$("explain").checked = query().get("explain") === "1";
$("explain").addEventListener("change", () => {
  remember();
  predict();
});
$("clear").addEventListener("click", clear);
initKeyForm(loadModels);
loadModels();
