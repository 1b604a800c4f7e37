// The sweep view of Compare (/compare?sweep=ID): the results table, each parameter against the
// metric (parallel coordinates), and the best configurations' curves overlaid by epoch.

import { get, list } from "./api.js";
import { drawOverlay, drawParallel } from "./charts.js";
import { $, el, jobLink, number, table } from "./dom.js";

export const BEST = 3; // configurations whose runs are overlaid

const short = (path) => path.split(".").pop();
const describe = (config) => Object.entries(config).map(([path, value]) => `${short(path)}=${value}`).join(", ");

function health(row) {
  const parts = row.health.diverged ? ["diverged"] : [];
  if (row.health.dead_relu !== null) parts.push(`dead ReLU ${(100 * row.health.dead_relu).toFixed(0)}%`);
  if (row.health.grad_norm_ratio !== null) parts.push(`grad ratio ${number(row.health.grad_norm_ratio, 2)}`);
  return parts.join(", ") || "ok";
}

function showTable(sweep) {
  const metric = sweep.metric.name;
  const headings = ["#", ...sweep.parameters_order, `${metric} mean ± std`,
    ...sweep.seeds.map((seed) => `seed ${seed}`), "health"];
  const rows = sweep.results.map((row) => [
    String(row.rank), ...sweep.parameters_order.map((path) => String(row.config[path])),
    row.mean === null ? "–" : `${number(row.mean)}${row.std === null ? "" : ` ± ${number(row.std)}`}`,
    ...row.runs.map((cell) => (cell.value === null ? cell.status || "–"
      : el("span", {}, jobLink({ id: cell.job_id, name: number(cell.value) }), ` @${cell.best_epoch}`))),
    health(row)]);
  const { progress } = sweep;
  $("sweep-summary").textContent = `${sweep.name}: ${sweep.status}, ${progress.finished}/${progress.runs} runs`
    + ` finished (${progress.succeeded} succeeded, ${progress.failed} failed, ${progress.cancelled} cancelled).`;
  $("sweep-table").replaceChildren(table(headings, rows, `${metric} at each run's best epoch, best first`));
}

/** Show one sweep; its runs' job records are read for the curves of the best configurations. */
export async function showSweep(id) {
  $("sweep-view").hidden = !id;
  if (!id) return;
  const sweep = await get(`/v1/sweeps/${id}`);
  sweep.parameters_order = Object.keys(sweep.parameters);
  $("sweep-picker").value = id;
  showTable(sweep);
  drawParallel($("sweep-parallel"), sweep);
  const cells = sweep.results.slice(0, BEST).flatMap((row) => row.runs.map((cell) => ({ row, cell })));
  // the runs' records are independent: ask for them all at once
  const runs = await Promise.all(cells.map(async ({ row, cell }) => ({
    label: `#${row.rank} ${describe(row.config)} seed ${cell.seed}`,
    metrics: (await get(`/v1/jobs/${cell.job_id}`)).metrics,
  })));
  drawOverlay($("sweep-loss"), $("sweep-accuracy"), runs);
}

/** Fill the sweep menu; `onPick(id)` when the learner chooses one. */
export async function initSweepPicker(onPick) {
  const sweeps = await list("/v1/sweeps", {}, 50);
  const picker = $("sweep-picker");
  picker.replaceChildren(el("option", { value: "" }, sweeps.length ? "– pick a sweep –" : "no sweeps yet"),
    ...sweeps.map((sweep) => el("option", { value: sweep.id },
      `${sweep.name} (${sweep.status}, ${sweep.progress.runs} runs)`)));
  picker.onchange = () => onPick(picker.value); // one handler, however often the page reloads its data
}
