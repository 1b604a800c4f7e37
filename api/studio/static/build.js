// Build (/build#spec=…): a form for a job's spec, every choice list read from the API (the
// OpenAPI document, /v1/datasets, /v1/examples); the API's 422 messages beside their fields;
// the raw JSON kept in sync; the spec in the URL so a link reproduces the form.

import { ApiError, list, post, schema } from "./api.js";
import { $, duration, el, initKeyForm, notice, report, table, warningList } from "./dom.js";

const choices = {}; // filled from the API by loadChoices()
let spec = null; // the job body being edited: {name, dataset, model, training}
let examples = [];

// ---- the spec and paths like "model.layers[0].units" ----------------------------------------

const splitPath = (path) => path.replace(/\[(\d+)\]/g, ".$1").split(".");
const fieldId = (path) => `f-${path.replace(/[^A-Za-z0-9]+/g, "-")}`;

function setAt(path, value) {
  const keys = splitPath(path);
  let node = spec;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === undefined || node[key] === null) node[key] = {};
    node = node[key];
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function getAt(path) {
  return splitPath(path).reduce((node, key) => (node === undefined || node === null ? undefined : node[key]), spec);
}

// ---- choice lists from the API ----------------------------------------------------------------

async function loadChoices() {
  const [layer, model, optimizer, training, datasets] = await Promise.all([
    schema("Layer"), schema("ModelSpec"), schema("Optimizer"), schema("TrainingConfig"), list("/v1/datasets")]);
  choices.activations = layer.properties.activation.enum;
  choices.dropout = layer.properties.dropout;
  choices.losses = model.properties.loss.enum;
  choices.lossDefault = model.properties.loss.default;
  choices.inits = model.properties.init.enum;
  choices.initDefault = model.properties.init.default;
  choices.optimizers = optimizer.properties.name.enum;
  choices.optimizerDefault = optimizer.properties.name.default;
  choices.hyperparameters = optimizer.properties.name["x-hyperparameters"];
  choices.hyperparameterRules = optimizer.properties;
  choices.training = training.properties;
  // by id: what a job names (a built-in's name; an uploaded table's id, whose name may repeat)
  choices.datasets = Object.fromEntries(datasets.map((dataset) => [dataset.id, dataset]));
  examples = await list("/v1/examples");
  $("example").append(...examples.map((example) => el("option", { value: example.name }, example.title || example.name)));
}

function exampleBody(example) {
  return JSON.parse(JSON.stringify(example.spec));
}

// ---- form controls ---------------------------------------------------------------------------

/** A labelled control bound to `path`, with its error message beside it. */
function field(path, label, control, hint) {
  control.id = fieldId(path);
  control.dataset.path = path;
  control.setAttribute("aria-describedby", `${control.id}-error`);
  return el("div", { class: "field", dataset: { for: path } },
    el("label", { for: control.id }, label), control,
    hint ? el("span", { class: "muted" }, hint) : null,
    el("span", { class: "field-error", id: `${control.id}-error`, "aria-live": "polite" }));
}

function select(options, value, kind = "string", blank = null, label = (option) => option) {
  const control = el("select", { dataset: { kind } },
    blank === null ? null : el("option", { value: "" }, blank),
    options.map((option) => el("option", { value: option }, label(option))));
  control.value = value ?? "";
  return control;
}

function numberInput(value, kind, rule = {}, placeholder) {
  const step = kind === "integer" ? "1" : "any";
  return el("input", {
    type: "number", step, inputmode: kind === "integer" ? "numeric" : "decimal",
    min: rule.minimum, max: rule.exclusiveMaximum ? undefined : rule.maximum,
    value: value ?? "", placeholder: placeholder ?? "", dataset: { kind },
  });
}

function layerFieldset(layer, index, count) {
  const path = `model.layers[${index}]`;
  const output = index === count - 1;
  const remove = el("button", {
    type: "button", class: "danger", disabled: count === 1, "aria-label": `remove layer ${index + 1}`,
    onclick: () => { spec.model.layers.splice(index, 1); changed(true); },
  }, "Remove");
  return el("fieldset", { dataset: { for: path } },
    el("legend", {}, `Layer ${index + 1}${output ? " (output)" : ""}`),
    el("div", { class: "fields" },
      field(`${path}.units`, "Units", numberInput(layer.units, "integer", { minimum: 1 })),
      field(`${path}.activation`, "Activation", select(choices.activations, layer.activation)),
      field(`${path}.dropout`, "Dropout", numberInput(layer.dropout, "number", choices.dropout, choices.dropout.default)),
      el("div", { class: "field" }, el("span", { "aria-hidden": "true" }, " "), remove)),
    el("span", { class: "field-error", id: `${fieldId(path)}-error` }));
}

function addLayer() {
  const layers = spec.model.layers;
  const hidden = layers.length > 1 ? layers[layers.length - 2] : null;
  const activation = hidden ? hidden.activation
    : choices.activations.includes("relu") ? "relu" : choices.activations[0];
  layers.splice(Math.max(0, layers.length - 1), 0, { units: hidden ? hidden.units : 16, activation });
  changed(true);
}

function optimizerFields() {
  const optimizer = spec.training.optimizer || {};
  const name = optimizer.name || choices.optimizerDefault;
  const settings = Object.entries(choices.hyperparameters[name]).map(([key, fallback]) => {
    const path = `training.optimizer.${key}`;
    if (typeof fallback === "boolean") {
      const box = el("input", { type: "checkbox", dataset: { kind: "boolean" } });
      box.checked = optimizer[key] ?? fallback;
      return field(path, key.replace("_", " "), box);
    }
    const rule = choices.hyperparameterRules[key] || {};
    return field(path, key.replace("_", " "), numberInput(optimizer[key], "number", rule, fallback));
  });
  return el("fieldset", { dataset: { for: "training.optimizer" } }, el("legend", {}, "Optimizer"),
    el("div", { class: "fields" },
      field("training.optimizer.name", "Optimizer", select(choices.optimizers, name)), settings),
    el("span", { class: "field-error", id: `${fieldId("training.optimizer")}-error` }));
}

function trainingFields() {
  const training = spec.training;
  const rules = choices.training;
  const input = (key) => numberInput(training[key], rules[key].type, rules[key], rules[key].default);
  return el("fieldset", { dataset: { for: "training" } }, el("legend", {}, "Training"),
    el("div", { class: "fields" },
      field("training.epochs", "Epochs", input("epochs")),
      field("training.batch_size", "Batch size", input("batch_size")),
      field("training.validation_split", "Validation split", input("validation_split"), "share held out, 0 to <1"),
      field("training.seed", "Seed", input("seed"))),
    el("span", { class: "field-error", id: `${fieldId("training")}-error` }));
}

function renderForm() {
  spec.model = spec.model || { layers: [] };
  spec.model.layers = spec.model.layers || [];
  spec.training = spec.training || {};
  const datasetInfo = choices.datasets[spec.dataset];
  $("fields").replaceChildren(
    el("div", { class: "fields" },
      field("name", "Job name", el("input", { type: "text", value: spec.name || "", maxlength: 100,
        placeholder: "dataset and layer widths", dataset: { kind: "string" } })),
      field("dataset", "Dataset", select(Object.keys(choices.datasets), spec.dataset, "string", null, datasetLabel))),
    el("fieldset", { dataset: { for: "model.layers" } }, el("legend", {}, "Layers (input → output)"),
      datasetInfo ? el("p", { class: "muted" }, `input: ${datasetInfo.input_size} numbers`) : null,
      spec.model.layers.map((layer, index) => layerFieldset(layer, index, spec.model.layers.length)),
      el("button", { type: "button", class: "secondary", onclick: addLayer }, "Add a hidden layer"),
      el("span", { class: "field-error", id: `${fieldId("model.layers")}-error` })),
    el("div", { class: "fields" },
      field("model.loss", "Loss", select(choices.losses, spec.model.loss, "string", `default (${choices.lossDefault})`)),
      field("model.init", "Weight init", select(choices.inits, spec.model.init, "string", `default (${choices.initDefault})`))),
    optimizerFields(),
    trainingFields());
  describeDataset();
}

/** A built-in by its name; an uploaded table by its name and the start of its id (names repeat). */
function datasetLabel(id) {
  const name = choices.datasets[id].name;
  return name === id ? id : `${name} (${id.slice(0, 8)})`;
}

function describeDataset() {
  const info = choices.datasets[spec.dataset];
  $("dataset-about").textContent = info
    ? `${info.name}: ${info.train_size.toLocaleString("en")} training and ${info.test_size.toLocaleString("en")} test samples, `
      + `${info.input_size} inputs, `
      + (info.classes ? `${info.num_classes} classes (${info.classes.join(", ")}).`
        : `a ${info.task} target (${info.target}).`)
    : "";
}

/** The value a control holds, typed as the API wants it (empty: the default, so omitted). */
function controlValue(control) {
  const kind = control.dataset.kind;
  if (kind === "boolean") return control.checked;
  const text = control.value.trim();
  if (text === "") return undefined;
  if (kind === "integer" || kind === "number") {
    const value = Number(text);
    return Number.isFinite(value) ? value : text; // the API names what is wrong with text
  }
  return text;
}

// ---- keeping form, JSON, URL and plan in step -------------------------------------------------

let planTimer = null;

function changed(structural = false) {
  if (structural) renderForm();
  $("json").value = JSON.stringify(spec, null, 2);
  $("json-error").textContent = "";
  history.replaceState(null, "", `${location.pathname}${location.search}#spec=${encodeURIComponent(JSON.stringify(spec))}`);
  clearTimeout(planTimer);
  planTimer = setTimeout(updatePlan, 300);
}

function onFieldEdit(event) {
  const control = event.target;
  const path = control.dataset && control.dataset.path;
  if (!path) return;
  setAt(path, controlValue(control));
  if (path === "training.optimizer.name") {
    const allowed = choices.hyperparameters[spec.training.optimizer.name] || {};
    for (const key of Object.keys(spec.training.optimizer)) {
      if (key !== "name" && !(key in allowed)) delete spec.training.optimizer[key];
    }
    changed(true);
  } else {
    if (path === "dataset") describeDataset();
    changed(false);
  }
}

function onJsonEdit() {
  try {
    const parsed = JSON.parse($("json").value);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("the body must be a JSON object");
    spec = parsed;
    renderForm();
    history.replaceState(null, "", `${location.pathname}${location.search}#spec=${encodeURIComponent(JSON.stringify(spec))}`);
    $("json-error").textContent = "";
    clearTimeout(planTimer);
    planTimer = setTimeout(updatePlan, 300);
  } catch (error) {
    $("json-error").textContent = `Not valid JSON yet: ${error.message}`;
  }
}

// ---- errors beside their fields ---------------------------------------------------------------

function clearErrors() {
  for (const node of document.querySelectorAll("#build .field-error")) if (node.id !== "json-error") node.textContent = "";
  for (const node of document.querySelectorAll("#build [aria-invalid]")) node.removeAttribute("aria-invalid");
  $("form-errors").replaceChildren();
}

/** Put each message of a 422 beside the field it names (or the nearest enclosing part). */
function showErrors(errors) {
  clearErrors();
  for (const [path, messages] of Object.entries(errors)) {
    const text = messages.join("; ");
    let target = path;
    while (target && !$(`${fieldId(target)}-error`)) {
      target = target.includes(".") || target.includes("[") ? target.replace(/(\.[^.[\]]+|\[\d+\])$/, "") : "";
    }
    if (target) {
      const box = $(`${fieldId(target)}-error`);
      box.textContent = box.textContent ? `${box.textContent}; ${text}` : text;
      const control = $(fieldId(target));
      if (control) control.setAttribute("aria-invalid", "true");
      if (target !== path) box.textContent = `${path}: ${box.textContent}`;
    } else {
      $("form-errors").append(el("li", {}, `${path || "request"}: ${text}`));
    }
  }
}

// ---- the plan -----------------------------------------------------------------------------------

function scaled(count, unit) {
  for (const [size, prefix] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (count >= size) return `${(count / size).toFixed(1)} ${prefix}${unit}`;
  }
  return `${count} ${unit}`;
}

function showPlan(plan) {
  const time = plan.time || {};
  const speed = time.speed;
  const timing = time.seconds_per_job === null || time.seconds_per_job === undefined
    ? time.note || "no time estimate"
    : `about ${duration(time.seconds_per_epoch)} per epoch, ${duration(time.seconds_per_job)} in all`
      + (speed && speed.worker ? ` (speed measured by ${speed.worker})` : "");
  $("plan").replaceChildren(
    el("p", {}, el("strong", {}, `${plan.parameters.toLocaleString("en")} parameters`),
      ` · ${scaled(plan.memory.total_bytes, "B")} of memory at batch ${plan.batch_size}`),
    el("p", {}, `${plan.samples.training.toLocaleString("en")} training rows`
      + (plan.samples.validation ? `, ${plan.samples.validation.toLocaleString("en")} for validation` : "")
      + `; ${plan.batches_per_epoch} batch${plan.batches_per_epoch === 1 ? "" : "es"} per epoch; ${scaled(plan.flops.per_epoch, "FLOP")} per epoch, `
      + `${scaled(plan.flops.per_job, "FLOP")} for ${plan.epochs} epochs`),
    el("p", { id: "plan-time" }, timing),
    table(["layer", "units", "activation", "inputs", "parameters"], plan.layers.map((layer) => [
      String(layer.layer + 1), String(layer.units), layer.activation, String(layer.fan_in),
      layer.parameters.toLocaleString("en")])),
    el("h3", {}, plan.warnings.length ? "Warnings" : "No warnings"),
    warningList(plan.warnings, { id: "plan-warnings" }));
}

let planRequest = 0;

/** The plan of the spec as it stands; its 422s go beside the fields, as the job's would. */
async function updatePlan() {
  describeDataset();
  const ticket = ++planRequest;
  try {
    const plan = await post("/v1/plans", spec);
    if (ticket !== planRequest) return; // an answer to an older edit
    clearErrors();
    showPlan(plan);
  } catch (error) {
    if (ticket !== planRequest) return;
    if (error instanceof ApiError && error.status === 422) {
      showErrors(error.errors);
      $("plan").replaceChildren(el("p", { class: "errors" }, "Fix the fields marked in red to see the plan."));
    } else {
      report(error);
    }
  }
}

// ---- submitting ---------------------------------------------------------------------------------

async function submit(event) {
  event.preventDefault();
  $("submit").disabled = true;
  $("submit-state").textContent = "Submitting…";
  try {
    const job = await post("/v1/jobs", spec);
    $("submit-state").textContent = "Queued; opening the job…";
    location.href = `/job?id=${job.id}`;
  } catch (error) {
    $("submit-state").textContent = "";
    if (error instanceof ApiError && error.status === 422) {
      showErrors(error.errors);
      $("submit-state").textContent = "Not sent: fix the fields marked in red.";
    } else {
      report(error);
    }
  } finally {
    $("submit").disabled = false;
  }
}

function loadExample(name) {
  const example = examples.find((candidate) => candidate.name === name);
  if (!example) return;
  spec = exampleBody(example);
  const expect = example.expect
    ? `Expect ${example.expect.metric} ≥ ${example.expect.min}${example.expect.epochs_note ? ` (${example.expect.epochs_note})` : ""}.`
    : "";
  $("example-about").textContent = [example.description, example.idea, expect].filter(Boolean).join(" ");
  setQueryExample(name);
  clearErrors();
  changed(true);
}

/** ?example=NAME in the URL while the form still holds that example as loaded. */
function setQueryExample(name) {
  const search = name ? `?example=${encodeURIComponent(name)}` : "";
  history.replaceState(null, "", `${location.pathname}${search}${location.hash}`);
}

function initialSpec() {
  const match = location.hash.match(/^#spec=(.*)$/);
  if (match) {
    try {
      return JSON.parse(decodeURIComponent(match[1]));
    } catch {
      notice("The spec in this link is not valid JSON; starting from an example.");
    }
  }
  return null;
}

async function start() {
  try {
    await loadChoices();
  } catch (error) {
    report(error);
    return;
  }
  spec = initialSpec();
  const wanted = new URLSearchParams(location.search).get("example");
  if (spec) {
    changed(true);
  } else if (examples.length) {
    $("example").value = wanted && examples.some((example) => example.name === wanted) ? wanted : examples[0].name;
    loadExample($("example").value);
  } else {
    spec = { dataset: Object.keys(choices.datasets)[0], model: { layers: [] }, training: {} };
    changed(true);
  }
}

$("fields").addEventListener("input", onFieldEdit);
$("json").addEventListener("input", onJsonEdit);
$("example").addEventListener("change", () => loadExample($("example").value));
$("build").addEventListener("submit", submit);
initKeyForm(start);
start();
