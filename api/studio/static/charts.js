// Charts with plotly.js (served from the pip package `plotly`, loaded before this module as
// window.Plotly): training curves, per-layer health, probability bars, the confusion heatmap.

const Plotly = () => window.Plotly;
const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
// Colour-blind-safe (Okabe-Ito) and dark enough to read on white.
export const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];
const FONT = { family: "system-ui, sans-serif", size: 13, color: "#1d2330" };

function layout(title, yTitle, { yaxis = {}, ...rest } = {}) {
  return {
    title: { text: title, font: { size: 15 } },
    font: FONT,
    margin: { l: 56, r: 16, t: 40, b: 90 },
    hovermode: "x unified",
    xaxis: { title: { text: "epoch" }, tickformat: "d" },
    yaxis: { title: { text: yTitle }, ...yaxis },
    legend: { orientation: "h", y: -0.3, yanchor: "top" },
    ...rest,
  };
}

/** Draw (or redraw) `traces` in `div`; Plotly.react only redraws what changed. */
export function draw(div, traces, chartLayout) {
  return Plotly().react(div, traces, chartLayout, CONFIG);
}

/** Draw curves over epochs, with whole-number epoch ticks however few epochs there are. */
function drawEpochs(div, traces, chartLayout) {
  const last = Math.max(1, ...traces.flatMap((trace) => trace.x));
  chartLayout.xaxis.dtick = Math.max(1, Math.ceil(last / 10));
  chartLayout.xaxis.range = [0, last + 0.5];
  return draw(div, traces, chartLayout);
}

const present = (values) => values.some((value) => value !== null && value !== undefined);

/**
 * The traces of one run's history for `key` ("loss" or "accuracy"): training and, when the run
 * had validation data, validation (dashed), one point per epoch.
 */
export function historyTraces(metrics, key, { label = "", colour = COLOURS[0], validationColour } = {}) {
  const epochs = metrics.map((entry) => entry.epoch);
  const traces = [];
  for (const [field, part, dash, lineColour] of [
    [key, "train", "solid", colour], [`val_${key}`, "validation", "dash", validationColour || colour]]) {
    const values = metrics.map((entry) => entry[field] ?? null);
    if (!present(values)) continue;
    traces.push({
      x: epochs, y: values, name: label ? `${label} ${part}` : part, meta: field,
      mode: "lines+markers", line: { color: lineColour, dash, width: 2 }, marker: { size: 5 },
      hovertemplate: "%{y:.6g}",
    });
  }
  return traces;
}

// The second chart's score: accuracy for a classifier; a regression's history has none, and
// shows R² (1 is perfect, 0 no better than predicting the mean) in its place.
const SCORES = {
  accuracy: layout("Accuracy", "accuracy", { yaxis: { tickformat: ".0%", rangemode: "tozero" } }),
  r2: layout("R² (1 is perfect)", "r2"),
};
const scoreKey = (histories) =>
  histories.some((metrics) => metrics.some((entry) => entry.accuracy != null)) ? "accuracy" : "r2";

/** Loss and accuracy (regression: R²) curves of one run, train and validation on the same axes. */
export function drawHistory(lossDiv, accuracyDiv, metrics) {
  const options = { colour: COLOURS[0], validationColour: COLOURS[1] };
  const score = scoreKey([metrics]);
  drawEpochs(lossDiv, historyTraces(metrics, "loss", options), layout("Loss", "loss"));
  drawEpochs(accuracyDiv, historyTraces(metrics, score, options), SCORES[score]);
}

/** Several runs' curves overlaid by epoch: one colour per run, validation dashed. */
export function drawOverlay(lossDiv, accuracyDiv, runs) {
  const traces = (key) => runs.flatMap((run, index) =>
    historyTraces(run.metrics, key, { label: run.label, colour: COLOURS[index % COLOURS.length] }));
  const score = scoreKey(runs.map((run) => run.metrics));
  drawEpochs(lossDiv, traces("loss"), layout("Loss", "loss"));
  drawEpochs(accuracyDiv, traces(score), SCORES[score]);
}

const layerName = (layer) => `layer ${layer.layer + 1} (${layer.units} ${layer.activation})`;

/**
 * Per-layer health over epochs from `metrics[i].layers`: gradient norm (log scale) and the share
 * of dead (relu family) or saturated (sigmoid/tanh) units.
 */
export function drawHealth(gradientDiv, unitsDiv, metrics) {
  const withLayers = metrics.filter((entry) => Array.isArray(entry.layers));
  const count = Math.max(0, ...withLayers.map((entry) => entry.layers.length));
  const gradient = [];
  const share = [];
  for (let index = 0; index < count; index += 1) {
    const rows = withLayers.map((entry) => entry.layers[index]).filter(Boolean);
    if (!rows.length) continue;
    const epochs = withLayers.filter((entry) => entry.layers[index]).map((entry) => entry.epoch);
    const colour = COLOURS[index % COLOURS.length];
    const name = layerName(rows[0]);
    gradient.push({ x: epochs, y: rows.map((row) => row.grad_norm), name, mode: "lines+markers",
      line: { color: colour }, hovertemplate: "%{y:.3e}" });
    for (const [field, what, dash] of [["dead_fraction", "dead", "solid"], ["saturated_fraction", "saturated", "dot"]]) {
      const values = rows.map((row) => row[field] ?? null);
      if (!present(values)) continue;
      share.push({ x: epochs, y: values, name: `${name} ${what}`, mode: "lines+markers",
        line: { color: colour, dash }, hovertemplate: "%{y:.1%}" });
    }
  }
  drawEpochs(gradientDiv, gradient, layout("Gradient norm per layer", "‖∂C/∂W‖", { yaxis: { type: "log" } }));
  drawEpochs(unitsDiv, share, layout("Dead or saturated units per layer", "share of units",
    { yaxis: { tickformat: ".0%", range: [0, 1] } }));
}

/** Ten (or however many) probability bars with class names, the predicted one highlighted. */
export function drawProbabilities(div, classes, probabilities) {
  const best = probabilities.indexOf(Math.max(...probabilities));
  const labels = classes.map((name, index) => (name === String(index) ? name : `${index} ${name}`));
  draw(div, [{
    type: "bar", orientation: "h", x: probabilities, y: labels,
    marker: { color: probabilities.map((_, index) => (index === best ? COLOURS[1] : COLOURS[0])) },
    text: probabilities.map((p) => `${(100 * p).toFixed(1)}%`), textposition: "outside", cliponaxis: false,
    hovertemplate: "%{y}: %{x:.4f}<extra></extra>",
  }], {
    font: FONT, margin: { l: 110, r: 48, t: 8, b: 32 }, height: 320, showlegend: false,
    xaxis: { range: [0, 1.15], tickformat: ".0%", fixedrange: true },
    yaxis: { autorange: "reversed", type: "category", fixedrange: true, automargin: true },
  });
}

/** The confusion matrix as a heatmap (rows true, columns predicted); onCell(true, predicted). */
export function drawConfusion(div, matrix, classes, onCell) {
  const names = classes.map((name, index) => (name === String(index) ? name : `${index} ${name}`));
  // Colour by log count so the off-diagonal mistakes stay visible beside the large diagonal.
  const z = matrix.map((row) => row.map((count) => Math.log10(1 + count)));
  draw(div, [{
    type: "heatmap", z, x: names, y: names, text: matrix, colorscale: "Blues", reversescale: true,
    showscale: false, texttemplate: "%{text}", hovertemplate: "true %{y}, predicted %{x}: %{text}<extra></extra>",
    xgap: 1, ygap: 1,
  }], {
    font: FONT, margin: { l: 100, r: 8, t: 8, b: 90 }, height: 480,
    xaxis: { title: { text: "predicted" }, type: "category", fixedrange: true, automargin: true },
    yaxis: { title: { text: "true" }, type: "category", autorange: "reversed", fixedrange: true, automargin: true },
  });
  div.removeAllListeners?.("plotly_click");
  div.on("plotly_click", (event) => {
    const point = event.points[0];
    onCell(point.pointIndex[0], point.pointIndex[1]);
  });
}

/**
 * A sweep's configurations as parallel coordinates: one axis per parameter (categories become
 * ticks), then the metric's mean across seeds; each line is one configuration, coloured by it.
 */
export function drawParallel(div, sweep) {
  const rows = sweep.results.filter((row) => row.mean !== null);
  const dimensions = Object.keys(sweep.parameters).map((path) => {
    const values = rows.map((row) => row.config[path]);
    const label = path.replace(/^(model|training)\./, ""); // short enough to sit over its axis
    if (values.every((value) => typeof value === "number")) {
      const positive = values.every((value) => value > 0);
      const spread = positive && Math.max(...values) / Math.min(...values) >= 20;
      // Log-spread settings (learning rates) on a log10 axis, labelled with the real values.
      return spread ? { label: `log10 ${label}`, values: values.map(Math.log10) } : { label, values };
    }
    const names = [...new Set(values.map(String))];
    return { label, values: values.map((value) => names.indexOf(String(value))),
      tickvals: names.map((_, index) => index), ticktext: names };
  });
  const metric = rows.map((row) => row.mean);
  dimensions.push({ label: `${sweep.metric.name} (mean)`, values: metric });
  draw(div, [{
    type: "parcoords", dimensions,
    line: { color: metric, colorscale: "Viridis", showscale: true, reversescale: sweep.metric.goal === "min" },
  }], { font: FONT, margin: { l: 90, r: 90, t: 100, b: 24 },
    title: { text: "Parameters against the metric", font: { size: 15 }, y: 0.97 } });
}
