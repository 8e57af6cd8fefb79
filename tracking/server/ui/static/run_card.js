// What a training run holds, read as a model card: the estimator and its
// params, the scores, the data it learnt from, where it was registered; then
// the evaluation the flow logged (confusion matrix, classification report).
// And the link from a run's Prefect tags to the Prefect UI's flow run page.

import { h, link, api, fmtValue, errorBox } from "./app.js";
import { authorizedFetch } from "./token.js";

const FLOW_RUN_ID_TAG = "mlcadence.prefect.flow_run_id";
const FLOW_RUN_NAME_TAG = "mlcadence.prefect.flow_run_name";
const DATASET_TAGS = [["Dataset source", "mlcadence.dataset.source"], ["Dataset digest", "mlcadence.dataset.digest"]];
const MODEL_NAME_TAG = "mlcadence.model.name";
const MODEL_VERSION_TAG = "mlcadence.model.version";
const GATE_DECISION_TAG = "mlcadence.gate.decision";
const ESTIMATOR_PARAM = "model";
const DATA_PARAM = /^data_/; // the dataset's description, shown with the dataset
const EVALUATION = { matrix: "evaluation/confusion_matrix.json", report: "evaluation/classification_report.txt" };

let config = null;

export async function uiConfig() {
  config ||= api("/ui/config").catch(() => ({}));
  return config;
}

// A source tag's value, as a link to the Prefect UI's flow run when the server knows that UI.
export function sourceValue(run, tag, prefectUi) {
  const value = run.tags[tag];
  const flowRunId = run.tags[FLOW_RUN_ID_TAG];
  if (!prefectUi || !flowRunId || (tag !== FLOW_RUN_ID_TAG && tag !== FLOW_RUN_NAME_TAG)) return value;
  return h("a", {
    href: `${prefectUi}/runs/flow-run/${encodeURIComponent(flowRunId)}`,
    class: "prefect-link", "data-tag": tag, rel: "noopener",
    "aria-label": `${value} in the Prefect UI`,
  }, value);
}

async function artifactText(runId, path) {
  const response = await authorizedFetch("/get-artifact?" + new URLSearchParams({ run_id: runId, path }));
  if (!response.ok) return null;
  return response.text();
}

function modelCard(run) {
  const estimator = run.params[ESTIMATOR_PARAM];
  const registered = run.tags[MODEL_NAME_TAG];
  const dataset = DATASET_TAGS.filter(([, tag]) => run.tags[tag]);
  if (!estimator && !registered && !dataset.length) return [];
  const hyper = Object.keys(run.params).filter((k) => k !== ESTIMATOR_PARAM && !DATA_PARAM.test(k)).sort();
  const metrics = Object.keys(run.metrics).sort();
  const facts = [
    ["Estimator", estimator],
    ["Parameters", hyper.length ? hyper.map((k) => `${k}=${run.params[k]}`).join(", ") : null],
    ["Metrics", metrics.length ? metrics.map((k) => `${k} ${fmtValue(run.metrics[k])}`).join(", ") : null],
    ...dataset.map(([label, tag]) => [label, run.tags[tag]]),
    ["Rows", run.params.data_rows ? `${run.params.data_rows} (${run.params.data_start} → ${run.params.data_end})` : null],
    ["Registered", registered
      ? link({ view: "model", name: registered }, `${registered} version ${run.tags[MODEL_VERSION_TAG] ?? "?"}`)
      : null],
    ["Gate", run.tags[GATE_DECISION_TAG]],
  ].filter(([, value]) => value);
  return [
    h("h2", { id: "model-card-heading" }, "Model card"),
    h("dl", { class: "facts", id: "model-card", "aria-labelledby": "model-card-heading" },
      facts.map(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k }, v)])),
  ];
}

function confusionTable(doc) {
  const labels = doc.labels || doc.matrix.map((_, i) => i);
  const rowsAre = doc.rows || "true", columnsAre = doc.columns || "predicted";
  return h(
    "table",
    { id: "confusion-matrix", class: "confusion" },
    h("caption", {}, `Confusion matrix: rows are the ${rowsAre} label, columns the ${columnsAre} label`),
    h("thead", {}, h("tr", {}, h("td", {}), labels.map((l) => h("th", { scope: "col" }, `${columnsAre} ${l}`)))),
    h("tbody", {}, doc.matrix.map((row, i) =>
      h("tr", {}, h("th", { scope: "row" }, `${rowsAre} ${labels[i]}`),
        row.map((count, j) => h("td", { class: `num${i === j ? " hit" : ""}`, "data-row": labels[i], "data-column": labels[j] }, count)))
    ))
  );
}

async function evaluation(run) {
  let files;
  try {
    files = (await api("artifacts/list", { query: { run_id: run.id, path: "evaluation" } })).files || [];
  } catch {
    return []; // no artifacts this server can read: the artifact browser says why
  }
  const present = new Set(files.map((f) => f.path));
  const [matrixText, report] = await Promise.all([
    present.has(EVALUATION.matrix) ? artifactText(run.id, EVALUATION.matrix) : null,
    present.has(EVALUATION.report) ? artifactText(run.id, EVALUATION.report) : null,
  ]);
  if (!matrixText && !report) return [];
  let matrix = "";
  if (matrixText) {
    try { matrix = confusionTable(JSON.parse(matrixText)); }
    catch { matrix = errorBox(`${EVALUATION.matrix} is not a confusion matrix ({"labels", "matrix"}).`); }
  }
  return [
    h("h2", {}, "Evaluation"),
    matrix,
    report ? h("h3", {}, "Classification report") : "",
    report ? h("pre", { class: "preview", id: "classification-report" }, report) : "",
  ];
}

export async function runCard(run) {
  return h("div", { id: "run-card" }, modelCard(run), await evaluation(run));
}
