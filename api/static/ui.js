// mlpq web UI: jobs with live progress (Server-Sent Events), models, a spec form, a digit canvas.
// Plain browser JavaScript, no build step; it uses only the public /v1 API.
"use strict";

const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const EXAMPLES = {
  mnist: {
    name: "mnist-mlp", dataset: "mnist",
    model: { layers: [{ units: 128, activation: "relu" }, { units: 10, activation: "softmax" }] },
    training: { epochs: 3, batch_size: 128, validation_split: 0.1 },
  },
  "fashion-mnist": {
    name: "fashion-mlp", dataset: "fashion-mnist",
    model: { layers: [{ units: 256, activation: "relu", dropout: 0.2 }, { units: 10, activation: "softmax" }] },
    training: { epochs: 5, optimizer: { name: "adam", learning_rate: 0.001 }, validation_split: 0.1 },
  },
  xor: {
    name: "xor", dataset: "xor",
    model: { layers: [{ units: 8, activation: "tanh" }, { units: 1, activation: "sigmoid" }],
             loss: "binary_cross_entropy", init: "xavier" },
    training: { epochs: 300, batch_size: 4, optimizer: { name: "adam", learning_rate: 0.05 } },
  },
};

// ---- talking to the API ------------------------------------------------------------------------

const keyInput = $("api-key");
keyInput.value = localStorage.getItem("mlpq-api-key") || "";
keyInput.addEventListener("change", () => {
  localStorage.setItem("mlpq-api-key", keyInput.value.trim());
  refresh();
});

function withKey(headers = {}) {
  const key = keyInput.value.trim();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: withKey(options.headers) });
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((body && body.message) || response.statusText);
    error.body = body;
    throw error;
  }
  return body;
}

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function parseFrame(frame) {
  const event = { name: "message" };
  for (const line of frame.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue; // blank, or a ": comment" keep-alive
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.name = value;
    else if (field === "data") event.data = (event.data ? event.data + "\n" : "") + value;
  }
  return event;
}

// An SSE reader over fetch (EventSource cannot send an Authorization header). It resumes
// with Last-Event-ID after a dropped connection and stops after the job's final status.
async function readEvents(url, signal, onEvent) {
  let lastId = null;
  while (!signal.aborted) {
    const headers = withKey(lastId ? { "Last-Event-ID": lastId } : {});
    const response = await fetch(url, { headers, signal });
    if (!response.ok || response.status === 204) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event.id) lastId = event.id;
        if (event.data === undefined) continue;
        const data = JSON.parse(event.data);
        onEvent(event.name, data);
        if (event.name === "status" && TERMINAL.has(data.status)) return;
      }
    }
    await sleep(2000);
  }
}

// ---- jobs ----------------------------------------------------------------------------------------

const jobs = new Map(); // id -> job record, kept current by its event stream
const streams = new Map(); // id -> AbortController of its event stream

function percent(value) {
  return value === null || value === undefined ? "" : `${(100 * value).toFixed(1)}%`;
}

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

function jobRow(job) {
  const last = job.metrics[job.metrics.length - 1] || {};
  const progress = job.progress || {};
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = job.status === "succeeded" ? 1 : progress.fraction || 0;
  const label = document.createElement("span");
  label.textContent = progress.epochs ? ` epoch ${progress.epoch}/${progress.epochs}` : "";
  const progressCell = document.createElement("span");
  progressCell.append(bar, label);
  const status = document.createElement("span");
  status.className = `status ${job.status}`;
  status.textContent = job.status + (job.error ? `: ${job.error.message}` : "");
  const actions = document.createElement("span");
  if (!TERMINAL.has(job.status)) {
    const cancel = document.createElement("button");
    cancel.textContent = job.cancel_requested ? "cancelling" : "cancel";
    cancel.disabled = job.cancel_requested;
    cancel.onclick = () => api(`/v1/jobs/${job.id}/cancel`, { method: "POST" }).then(refreshJobs, (e) => showNotice(e.message));
    actions.append(cancel);
  }
  const row = document.createElement("tr");
  row.id = `job-${job.id}`;
  row.title = job.id;
  row.append(cell(job.name), cell(job.dataset), cell(status), cell(progressCell),
             cell(percent(last.accuracy)), cell(percent(last.val_accuracy)), cell(actions));
  return row;
}

function renderJob(job) {
  jobs.set(job.id, job);
  const row = jobRow(job);
  const existing = $(`job-${job.id}`);
  if (existing) existing.replaceWith(row);
  else $("jobs").append(row);
}

function follow(job) {
  const controller = new AbortController();
  streams.set(job.id, controller);
  readEvents(`/v1/jobs/${job.id}/events`, controller.signal, (name, data) => {
    const current = jobs.get(job.id);
    if (name === "progress") current.progress = data;
    else if (name === "epoch" && !current.metrics.some((m) => m.epoch === data.epoch)) current.metrics.push(data);
    else if (name === "status") Object.assign(current, data);
    renderJob(current);
    if (name === "status" && TERMINAL.has(data.status)) { refreshJobs(); refreshModels(); }
  }).catch(() => {}).finally(() => streams.delete(job.id));
}

async function refreshJobs() {
  const list = await api("/v1/jobs?page_size=25");
  $("jobs").replaceChildren();
  for (const job of list) {
    renderJob(job);
    if (!TERMINAL.has(job.status) && !streams.has(job.id)) follow(job);
  }
}

// ---- models --------------------------------------------------------------------------------------

function sizeText(bytes) {
  return bytes > 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

async function download(model) {
  const response = await fetch(`/v1/models/${model.id}/download`, { headers: withKey() });
  if (!response.ok) return showNotice(`download failed: ${response.status}`);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `mlpq-model-${model.id}.zip`;
  link.click();
  URL.revokeObjectURL(link.href);
}

async function refreshModels() {
  const models = await api("/v1/models?page_size=25");
  const rows = models.map((model) => {
    const actions = document.createElement("span");
    const get = document.createElement("button");
    get.textContent = "download";
    get.onclick = () => download(model);
    const remove = document.createElement("button");
    remove.textContent = "delete";
    remove.onclick = () => confirm(`Delete model ${model.name}?`) &&
      api(`/v1/models/${model.id}`, { method: "DELETE" }).then(refreshModels, (e) => showNotice(e.message));
    actions.append(get, " ", remove);
    const row = document.createElement("tr");
    row.title = model.id;
    row.append(cell(model.name || model.id), cell(model.dataset || ""),
               cell(percent(model.evaluation && model.evaluation.accuracy)),
               cell(sizeText(model.size_bytes || 0)), cell((model.created_at || "").slice(0, 19)),
               cell(actions));
    return row;
  });
  $("models").replaceChildren(...rows);
  const options = [new Option("latest", "latest"),
                   ...models.filter((m) => m.status === "ready").map((m) => new Option(`${m.name} (${m.dataset})`, m.id))];
  const chosen = $("predict-model").value;
  $("predict-model").replaceChildren(...options);
  $("predict-model").value = options.some((o) => o.value === chosen) ? chosen : "latest";
}

// ---- submitting a spec -------------------------------------------------------------------------

function loadExample() {
  $("spec").value = JSON.stringify(EXAMPLES[$("example").value], null, 2);
}

$("example").addEventListener("change", loadExample);
$("submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("spec-errors").replaceChildren();
  let body;
  try {
    body = JSON.parse($("spec").value);
  } catch (error) {
    $("spec-errors").append(Object.assign(document.createElement("li"), { textContent: error.message }));
    return;
  }
  try {
    await api("/v1/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    refreshJobs();
  } catch (error) {
    const problems = (error.body && error.body.errors) || { request: [error.message] };
    for (const [path, messages] of Object.entries(problems)) {
      $("spec-errors").append(Object.assign(document.createElement("li"), { textContent: `${path}: ${messages.join("; ")}` }));
    }
  }
});

// ---- drawing a digit ---------------------------------------------------------------------------

const canvas = $("canvas");
const pen = canvas.getContext("2d");

function clearCanvas() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  $("prediction").textContent = "";
  $("probabilities").replaceChildren();
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

let drawing = false;
canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  pen.beginPath();
  pen.moveTo(...point(event));
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  pen.lineTo(...point(event));
  pen.strokeStyle = "#000";
  pen.lineWidth = 20;
  pen.lineCap = pen.lineJoin = "round";
  pen.stroke();
});
canvas.addEventListener("pointerup", () => { drawing = false; });

async function predict() {
  const png = canvas.toDataURL("image/png").split(",")[1];
  const model = $("predict-model").value;
  try {
    const result = await api(`/v1/models/${model}/predict`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ images: [png] }),
    });
    const prediction = result.predictions[0];
    $("prediction").textContent = `It looks like a ${prediction.label}`;
    $("probabilities").replaceChildren(...prediction.probabilities.map((p, label) => {
      const bar = document.createElement("div");
      bar.style.setProperty("--p", p);
      bar.textContent = `${label}: ${(100 * p).toFixed(1)}%`;
      return bar;
    }));
  } catch (error) {
    $("prediction").textContent = error.message;
  }
}

$("predict").addEventListener("click", predict);
$("clear").addEventListener("click", clearCanvas);

// ---- start ---------------------------------------------------------------------------------------

function refresh() {
  Promise.all([refreshJobs(), refreshModels()]).then(() => showNotice(""), (error) => showNotice(error.message));
}

loadExample();
clearCanvas();
refresh();
setInterval(refresh, 15000); // jobs submitted elsewhere; live ones are followed by their streams
