// mlcadence web UI: the entry module, no build step. Every page is rendered from the
// query string (so a URL is a shareable view) with data from the server's own
// JSON API; links and filters change the URL with pushState and re-render.
// Views beyond the core pages live in their own modules, imported here.

import { authorizedFetch, READ_ONLY_MESSAGE } from "./token.js";
import { IMAGE_ARTIFACTS, imagePreview } from "./preview.js";
import { runCard, sourceValue, uiConfig } from "./run_card.js";
import { compareViews } from "./compare.js";
import { modelDetails } from "./models_detail.js";

export { h, s, link, errorBox, fmtTime, fmtValue, api, ApiError, runView, params };

import { deploymentsPage } from "./deployments.js";

const API = "/ajax-api/2.0/mlflow/";
const PAGE_SIZE = 50;
const PARENT_TAG = "mlflow.parentRunId";
const GATE_PREFIX = "mlcadence.gate.";
const SOURCE_TAGS = [
  ["Source", "mlflow.source.name"],
  ["Git commit", "mlflow.source.git.commit"],
  ["Entry point", "mlflow.project.entryPoint"],
  ["Prefect flow", "mlcadence.prefect.flow_name"],
  ["Prefect flow run", "mlcadence.prefect.flow_run_name"],
  ["Prefect flow run id", "mlcadence.prefect.flow_run_id"],
  ["Deployment", "mlcadence.prefect.deployment"],
];
const TEXT_ARTIFACTS = /(\.(txt|log|json|ya?ml|csv|md|py|toml|cfg|ini)|(^|\/)MLmodel|(^|\/)MLproject)$/i;
const COLUMN_KINDS = { metrics: "metrics", params: "params", tags: "tags" };

// ---- small DOM helpers -------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children.flat(Infinity)) node.append(child instanceof Node ? child : String(child));
  return node;
}

function link(params, ...children) {
  return h("a", { href: "?" + new URLSearchParams(params), "data-nav": "" }, ...children);
}

function errorBox(message) {
  return h("div", { class: "error", role: "alert" }, message);
}

function fmtTime(ms) {
  if (!ms) return "";
  return new Date(Number(ms)).toISOString().replace("T", " ").slice(0, 19);
}

function fmtDuration(start, end) {
  if (!start || !end) return "";
  let secs = Math.round((Number(end) - Number(start)) / 1000);
  const parts = [];
  for (const [unit, size] of [["h", 3600], ["m", 60]]) {
    if (secs >= size) { parts.push(Math.floor(secs / size) + unit); secs %= size; }
  }
  parts.push(secs + "s");
  return parts.join(" ");
}

function fmtValue(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(+value.toPrecision(6));
  return value ?? "";
}

// ---- API ---------------------------------------------------------------------

class ApiError extends Error {}

async function api(path, { method = "GET", body, query } = {}) {
  let url = path.startsWith("/") ? path : API + path;
  if (query) url += "?" + new URLSearchParams(query);
  const response = await authorizedFetch(url, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text }; }
  if (response.status === 403) throw new ApiError(READ_ONLY_MESSAGE);
  if (!response.ok) throw new ApiError(data.message || `${response.status} ${response.statusText}`);
  return data;
}

function asMap(list) {
  return Object.fromEntries((list || []).map((item) => [item.key, item.value]));
}

function runView(run) {
  return {
    info: run.info,
    id: run.info.run_id,
    name: run.info.run_name || run.info.run_id,
    metrics: asMap(run.data.metrics),
    params: asMap(run.data.params),
    tags: asMap(run.data.tags),
  };
}

// ---- routing -----------------------------------------------------------------

const main = () => document.getElementById("main");
let renderToken = 0;

function params() {
  return new URLSearchParams(location.search);
}

function navigate(next, { replace = false } = {}) {
  const query = "?" + new URLSearchParams(next);
  if (replace) history.replaceState(null, "", query);
  else history.pushState(null, "", query);
  return render();
}

const VIEWS = {
  experiments: experimentsPage,
  runs: runsPage,
  run: runPage,
  compare: comparePage,
  models: modelsPage,
  model: modelPage,
  deployments: (root, query) => deploymentsPage(root, query, { h, link, errorBox, api }),
};

async function render() {
  const token = ++renderToken;
  const query = params();
  const view = VIEWS[query.get("view")] ? query.get("view") : "experiments";
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    const current = a.dataset.view === view || (a.dataset.view === "models" && view === "model");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = h("div", {});
  main().setAttribute("aria-busy", "true");
  try {
    await VIEWS[view](root, query);
  } catch (exc) {
    root.replaceChildren(errorBox(exc instanceof ApiError ? exc.message : `Error: ${exc.message}`));
  }
  if (token === renderToken) {
    main().replaceChildren(root);
    main().removeAttribute("aria-busy");
  }
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-nav], nav a");
  if (!a || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  history.pushState(null, "", a.getAttribute("href"));
  render();
});
window.addEventListener("popstate", render);

// ---- experiments -------------------------------------------------------------

async function experimentsPage(root) {
  document.title = "Experiments · mlcadence";
  const { experiments = [] } = await api("experiments/search", {
    method: "POST",
    body: { max_results: 1000 },
  });
  const counts = await Promise.all(
    experiments.map((exp) =>
      api("runs/search", {
        method: "POST",
        body: { experiment_ids: [exp.experiment_id], max_results: 1000, order_by: ["attributes.start_time DESC"] },
      })
    )
  );
  const message = h("div", { id: "experiment-message" });
  const nameInput = h("input", { type: "text", id: "new-experiment", name: "name", required: true });
  const create = h(
    "form",
    {
      class: "toolbar", "aria-label": "Create an experiment",
      onsubmit: (event) => {
        event.preventDefault();
        changeExperiments(message, "experiments/create", { name: nameInput.value.trim() });
      },
    },
    h("label", { for: "new-experiment" }, "New experiment name", nameInput),
    h("button", { type: "submit" }, "Create")
  );
  const selected = new Set();
  const together = h("button", {
    type: "button", id: "runs-of-selected", disabled: true,
    onclick: () => navigate({ view: "runs", experiment: [...selected].join(",") }),
  }, "Runs of the selected experiments");
  const rows = experiments.map((exp, i) => {
    const runs = counts[i].runs || [];
    const latest = Math.max(
      Number(exp.last_update_time || 0),
      ...runs.map((r) => Math.max(Number(r.info.start_time || 0), Number(r.info.end_time || 0)))
    );
    const count = runs.length + (counts[i].next_page_token ? "+" : "");
    return h(
      "tr",
      { "data-experiment-id": exp.experiment_id },
      h("td", {}, h("input", {
        type: "checkbox", "aria-label": `Select ${exp.name}`,
        onchange: (event) => {
          if (event.target.checked) selected.add(exp.experiment_id);
          else selected.delete(exp.experiment_id);
          together.disabled = selected.size === 0;
        },
      })),
      h("td", {}, link({ view: "runs", experiment: exp.experiment_id }, exp.name)),
      h("td", { class: "num" }, count),
      h("td", {}, fmtTime(latest)),
      h(
        "td",
        {},
        h("button", { type: "button", "aria-label": `Rename ${exp.name}`, onclick: () => renameExperiment(exp, message) }, "Rename"),
        " ",
        exp.experiment_id === "0"
          ? ""
          : h("button", { type: "button", "aria-label": `Delete ${exp.name}`, onclick: () => deleteExperiment(exp, message) }, "Delete")
      )
    );
  });
  root.append(
    h("h1", {}, "Experiments"),
    experiments.length
      ? h(
          "table",
          { "aria-label": "Experiments" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "muted" }, "✓")), h("th", {}, "Name"), h("th", {}, "Runs"), h("th", {}, "Last activity"), h("th", {}, "Actions"))),
          h("tbody", {}, rows)
        )
      : h("p", { class: "muted" }, "No experiments yet."),
    experiments.length ? h("div", { class: "toolbar" }, together) : "",
    create,
    message
  );
}

async function changeExperiments(message, path, body) {
  try {
    await api(path, { method: "POST", body });
  } catch (exc) {
    message.replaceChildren(errorBox(exc.message));
    return;
  }
  await render();
}

function renameExperiment(exp, message) {
  const name = prompt(`New name for experiment '${exp.name}':`, exp.name);
  if (name && name.trim() && name.trim() !== exp.name) {
    changeExperiments(message, "experiments/update", { experiment_id: exp.experiment_id, new_name: name.trim() });
  }
}

function deleteExperiment(exp, message) {
  if (confirm(`Delete experiment '${exp.name}' and hide its runs? It can be restored.`)) {
    changeExperiments(message, "experiments/delete", { experiment_id: exp.experiment_id });
  }
}

// ---- runs --------------------------------------------------------------------

function splitColumn(column) {
  const dot = column.indexOf(".");
  return [column.slice(0, dot), column.slice(dot + 1)];
}

function orderKey(column) {
  const [kind, key] = splitColumn(column);
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${kind}.${key}` : `${kind}.\`${key}\``;
}

function columnValue(run, column) {
  const [kind, key] = splitColumn(column);
  if (kind === "attributes") return run.info[key];
  return run[COLUMN_KINDS[kind]]?.[key];
}

function nestRuns(runs) {
  // Children follow their parent when the parent is on the same page.
  const ids = new Set(runs.map((r) => r.id));
  const children = new Map();
  for (const run of runs) {
    const parent = run.tags[PARENT_TAG];
    if (parent && ids.has(parent)) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(run);
    }
  }
  const ordered = [];
  const visit = (run, depth) => {
    ordered.push({ run, depth, children: (children.get(run.id) || []).length });
    for (const child of children.get(run.id) || []) visit(child, depth + 1);
  };
  for (const run of runs) {
    const parent = run.tags[PARENT_TAG];
    if (!(parent && ids.has(parent))) visit(run, 0);
  }
  return ordered;
}

async function runsPage(root, query) {
  const experimentIds = (query.get("experiment") || "0").split(",").filter(Boolean);
  const names = await Promise.all(
    experimentIds.map((id) =>
      api("experiments/get", { query: { experiment_id: id } }).then(
        (r) => r.experiment,
        (exc) => { throw new ApiError(exc.message); }
      )
    )
  );
  for (const exp of names) {
    if (exp.lifecycle_stage === "deleted") {
      throw new ApiError(`Experiment '${exp.name}' (id ${exp.experiment_id}) was deleted; restore it to see its runs.`);
    }
  }
  document.title = `Runs of ${names.map((e) => e.name).join(", ")} · mlcadence`;

  const filterInput = h("input", {
    type: "search", id: "filter", name: "filter", value: query.get("filter") || "",
    placeholder: "metrics.accuracy > 0.55 and params.model = 'random_forest'",
    "aria-describedby": "filter-help",
  });
  const form = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": "Filter runs" },
    h("label", { for: "filter" }, "Filter (MLflow search syntax)", filterInput),
    h("button", { type: "submit" }, "Apply"),
    h("button", { type: "button", id: "compare", disabled: true }, "Compare selected")
  );
  const results = h("section", { id: "results", "aria-label": "Runs" });
  root.append(
    h("h1", {}, "Runs of ", names.map((e) => e.name).join(", ")),
    form,
    h("p", { id: "filter-help", class: "muted" }, "Example: metrics.rmse < 1 and tags.`mlflow.runName` LIKE 'sweep%'"),
    results
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const next = params();
    if (filterInput.value.trim()) next.set("filter", filterInput.value.trim());
    else next.delete("filter");
    next.delete("page_token");
    history.pushState(null, "", "?" + next);
    await loadRuns(results, next, form);
  });
  await loadRuns(results, query, form);
}

async function loadRuns(results, query, form) {
  const experimentIds = (query.get("experiment") || "0").split(",").filter(Boolean);
  const body = {
    experiment_ids: experimentIds,
    filter: query.get("filter") || "",
    max_results: Number(query.get("page_size")) || PAGE_SIZE,
    order_by: query.get("sort") ? [query.get("sort")] : ["attributes.start_time DESC"],
  };
  if (query.get("page_token")) body.page_token = query.get("page_token");
  results.setAttribute("aria-busy", "true");
  let page;
  try {
    page = await api("runs/search", { method: "POST", body });
  } catch (exc) {
    results.replaceChildren(h("div", { class: "error", role: "alert", id: "filter-error" }, exc.message));
    results.removeAttribute("aria-busy");
    return;
  }
  const runs = (page.runs || []).map(runView);
  drawRuns(results, query, runs, page.next_page_token, form);
  results.removeAttribute("aria-busy");
}

function availableColumns(runs) {
  const seen = { metrics: new Set(), params: new Set(), tags: new Set() };
  for (const run of runs) {
    for (const kind of Object.keys(seen)) for (const key of Object.keys(run[kind])) seen[kind].add(key);
  }
  return Object.entries(seen).flatMap(([kind, keys]) => [...keys].sort().map((k) => `${kind}.${k}`));
}

function drawRuns(results, query, runs, nextToken, form) {
  const available = availableColumns(runs);
  let columns;
  if (query.has("columns")) columns = query.get("columns").split(",").filter(Boolean);
  else columns = available.filter((c) => !c.startsWith("tags.")).slice(0, 10);
  const sort = query.get("sort") || "";

  const chooser = h(
    "details",
    {},
    h("summary", {}, `Columns (${columns.length} shown)`),
    h(
      "fieldset",
      { class: "columns" },
      h("legend", {}, "Show columns"),
      available.map((column) =>
        h(
          "label",
          {},
          h("input", {
            type: "checkbox", value: column, checked: columns.includes(column),
            onchange: (event) => {
              const next = params();
              const chosen = new Set(columns);
              if (event.target.checked) chosen.add(column);
              else chosen.delete(column);
              next.set("columns", available.filter((c) => chosen.has(c)).join(","));
              history.replaceState(null, "", "?" + next);
              drawRuns(results, next, runs, nextToken, form);
            },
          }),
          column
        )
      )
    )
  );

  const sortButton = (label, column) => {
    const key = orderKey(column);
    const current = sort.startsWith(key + " ") || sort === key ? (sort.endsWith(" ASC") ? "ASC" : "DESC") : null;
    const nextDir = current === "DESC" ? "ASC" : "DESC";
    return h(
      "th",
      { scope: "col", "aria-sort": current ? (current === "ASC" ? "ascending" : "descending") : "none", "data-column": column },
      h(
        "button",
        {
          class: "sort", type: "button", "aria-label": `Sort by ${label}`,
          onclick: () => {
            const next = params();
            next.set("sort", `${key} ${nextDir}`);
            next.delete("page_token");
            history.pushState(null, "", "?" + next);
            loadRuns(results, next, form);
          },
        },
        label, current ? (current === "ASC" ? " ▲" : " ▼") : ""
      )
    );
  };

  const selected = new Set();
  const compareButton = form.querySelector("#compare");
  compareButton.disabled = true;
  compareButton.onclick = () => navigate({ view: "compare", runs: [...selected].join(",") });

  const rows = [];
  for (const { run, depth, children } of nestRuns(runs)) {
    const row = h(
      "tr",
      { class: depth ? "child" : "", "data-run-id": run.id, "data-parent": depth ? run.tags[PARENT_TAG] : null },
      h(
        "td",
        {},
        h("input", {
          type: "checkbox", "aria-label": `Select ${run.name}`,
          onchange: (event) => {
            if (event.target.checked) selected.add(run.id);
            else selected.delete(run.id);
            compareButton.disabled = selected.size < 2 || selected.size > 10;
          },
        })
      ),
      h(
        "td",
        {},
        depth ? "↳ " : "",
        link({ view: "run", run: run.id }, run.name),
        children
          ? h("button", {
              type: "button", class: "toggle", "aria-expanded": "true",
              "aria-label": `The ${children} child runs of ${run.name}`,  // aria-expanded says shown or hidden
              onclick: (event) => toggleChildren(event.currentTarget, run.id),
            }, `▾ ${children}`)
          : ""
      ),
      h("td", {}, run.info.status),
      h("td", {}, fmtTime(run.info.start_time)),
      h("td", {}, fmtDuration(run.info.start_time, run.info.end_time)),
      columns.map((column) => {
        const value = columnValue(run, column);
        return h("td", { class: typeof value === "number" ? "num" : "", "data-column": column }, fmtValue(value));
      })
    );
    rows.push(row);
  }

  const pager = h(
    "nav",
    { class: "toolbar", "aria-label": "Pages" },
    query.get("page_token")
      ? h("button", { type: "button", onclick: () => { const n = params(); n.delete("page_token"); navigate(n); } }, "First page")
      : "",
    nextToken
      ? h("button", { type: "button", id: "next-page", onclick: () => { const n = params(); n.set("page_token", nextToken); navigate(n); } }, "Next page")
      : ""
  );

  results.replaceChildren(
    chooser,
    runs.length
      ? h(
          "table",
          { id: "runs", "aria-label": "Runs" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, h("span", { class: "muted" }, "✓")),
              sortButton("Run", "attributes.run_name"),
              sortButton("Status", "attributes.status"),
              sortButton("Started", "attributes.start_time"),
              h("th", { scope: "col" }, "Duration"),
              columns.map((column) => sortButton(column, column))
            )
          ),
          h("tbody", {}, rows)
        )
      : h("p", { class: "muted", id: "no-runs" }, "No runs match."),
    pager
  );
}

function toggleChildren(button, parentId) {
  const open = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", String(!open));
  button.textContent = (open ? "▸ " : "▾ ") + button.textContent.slice(2);
  const hide = (id, hidden) => {
    for (const row of document.querySelectorAll(`tr[data-parent="${CSS.escape(id)}"]`)) {
      row.hidden = hidden;
      hide(row.dataset.runId, hidden);
    }
  };
  hide(parentId, open);
}

// ---- run ---------------------------------------------------------------------

async function runPage(root, query) {
  const runId = query.get("run") || "";
  let run;
  try {
    run = runView((await api("runs/get", { query: { run_id: runId } })).run);
  } catch (exc) {
    document.title = "Run not found · mlcadence";
    root.append(h("h1", {}, "Run"), errorBox(exc.message), h("p", {}, link({ view: "experiments" }, "Back to experiments")));
    return;
  }
  document.title = `${run.name} · mlcadence`;
  const exp = (await api("experiments/get", { query: { experiment_id: run.info.experiment_id } })).experiment;
  const prefectUi = (await uiConfig()).prefect_ui_url;
  const facts = [
    ["Run id", run.id],
    ["Experiment", link({ view: "runs", experiment: exp.experiment_id }, exp.name)],
    ["Status", run.info.status],
    ["Started", fmtTime(run.info.start_time)],
    ["Ended", fmtTime(run.info.end_time)],
    ["Duration", fmtDuration(run.info.start_time, run.info.end_time)],
    ...(run.tags[PARENT_TAG] ? [["Parent run", link({ view: "run", run: run.tags[PARENT_TAG] }, run.tags[PARENT_TAG])]] : []),
    ...SOURCE_TAGS.filter(([, tag]) => run.tags[tag]).map(([label, tag]) => [label, sourceValue(run, tag, prefectUi)]),
  ];
  root.append(
    h("h1", {}, "Run ", run.name),
    h("dl", { class: "facts", id: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    await runCard(run),
    h("h2", {}, "Metrics"),
    await metricCharts(run, query),
    h("h2", {}, "Parameters"),
    keyValueTable("params", run.params),
    h("h2", {}, "Tags"),
    keyValueTable("tags", run.tags),
    h("h2", {}, "Artifacts"),
    await artifactBrowser(run.id)
  );
}

function keyValueTable(id, map) {
  const keys = Object.keys(map).sort();
  if (!keys.length) return h("p", { class: "muted" }, "None.");
  return h(
    "table",
    { id, "aria-label": id },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"))),
    h("tbody", {}, keys.map((k) => h("tr", { "data-key": k }, h("td", {}, k), h("td", {}, fmtValue(map[k])))))
  );
}

const AXES = { step: "step", time: "seconds" };

async function metricCharts(run, query) {
  const keys = Object.keys(run.metrics).sort();
  if (!keys.length) return h("p", { class: "muted" }, "No metrics.");
  const histories = await Promise.all(
    keys.map((key) => api("metrics/get-history", { query: { run_id: run.id, metric_key: key } }))
  );
  const series = histories.map((history) => {
    const metrics = history.metrics || [];
    const t0 = Math.min(...metrics.map((m) => Number(m.timestamp || 0)));
    return metrics.map((m) => ({
      step: Number(m.step || 0),
      time: (Number(m.timestamp || 0) - t0) / 1000,
      value: Number(m.value),
    }));
  });
  const charts = h("div", { class: "charts" });
  const draw = (axis) => charts.replaceChildren(...keys.map((key, i) => chart(key, series[i], axis)));
  const axis = AXES[query.get("x")] ? query.get("x") : "step";
  const select = h(
    "select",
    {
      id: "x-axis",
      onchange: (event) => {
        const next = params();
        next.set("x", event.target.value);
        history.replaceState(null, "", "?" + next);
        draw(event.target.value);
      },
    },
    Object.entries({ step: "Step", time: "Time since the first point" }).map(([value, label]) =>
      h("option", { value, selected: value === axis }, label)
    )
  );
  draw(axis);
  return h("div", {}, h("div", { class: "toolbar" }, h("label", { for: "x-axis" }, "X axis", select)), charts);
}

function chart(key, points, axis = "step") {
  points = [...points].sort((a, b) => a[axis] - b[axis] || a.step - b.step);
  const width = 320, height = 160, pad = 34;
  const xs = points.map((p) => p[axis]), values = points.map((p) => p.value).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...values), Math.max(...values)];
  const x = (v) => pad + (x1 === x0 ? (width - 2 * pad) / 2 : ((v - x0) / (x1 - x0)) * (width - 2 * pad));
  const y = (v) => height - pad + 10 - (y1 === y0 ? (height - 2 * pad) / 2 : ((v - y0) / (y1 - y0)) * (height - 2 * pad));
  const finite = points.filter((p) => Number.isFinite(p.value));
  const last = [...points].sort((a, b) => a.step - b.step).pop();
  const unit = AXES[axis];
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": `${key} over ${points.length} points by ${unit}`, "data-metric": key, "data-axis": axis,
    },
    s("line", { class: "axis", x1: pad, y1: height - pad + 10, x2: width - pad / 2, y2: height - pad + 10 }),
    s("line", { class: "axis", x1: pad, y1: 10, x2: pad, y2: height - pad + 10 }),
    s("text", { x: 2, y: 14 }, fmtValue(y1)),
    s("text", { x: 2, y: height - pad + 10 }, fmtValue(y0)),
    s("text", { x: pad, y: height - 6 }, `${unit} ${fmtValue(x0)}`),
    s("text", { x: width - pad * 2, y: height - 6 }, `${unit} ${fmtValue(x1)}`),
    s("polyline", { class: "line", points: finite.map((p) => `${x(p[axis]).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ") }),
    finite.map((p) =>
      s(
        "circle",
        {
          class: "point", cx: x(p[axis]).toFixed(1), cy: y(p.value).toFixed(1), r: 2.5,
          "data-step": p.step, "data-time": p.time, "data-value": p.value,
        },
        s("title", {}, `step ${p.step} (${fmtValue(p.time)} s): ${p.value}`)
      )
    )
  );
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", {}, key, h("span", { class: "muted" }, ` — last ${fmtValue(last?.value)}`)),
    svg
  );
}

async function artifactBrowser(runId) {
  const preview = h("div", { id: "artifact-preview" });
  const listDir = async (path) => {
    const { files = [] } = await api("artifacts/list", { query: { run_id: runId, path } });
    return h(
      "ul",
      { class: "tree" },
      files.map((file) => {
        const name = file.path.split("/").pop();
        if (file.is_dir) {
          const item = h("li", {});
          const button = h("button", {
            type: "button", "aria-expanded": "false",
            onclick: async () => {
              const open = button.getAttribute("aria-expanded") === "true";
              button.setAttribute("aria-expanded", String(!open));
              if (open) item.querySelector("ul")?.remove();
              else item.append(await listDir(file.path));
            },
          }, name + "/");
          item.append(button);
          return item;
        }
        return h(
          "li",
          {},
          h("button", { type: "button", "data-path": file.path, onclick: () => showArtifact(runId, file.path, preview) }, name),
          h("span", { class: "muted" }, ` ${file.file_size ?? ""} bytes`)
        );
      })
    );
  };
  try {
    const tree = await listDir("");
    if (!tree.children.length) return h("p", { class: "muted" }, "No artifacts.");
    return h("div", { id: "artifacts" }, tree, preview);
  } catch (exc) {
    return errorBox(exc.message);
  }
}

async function showArtifact(runId, path, preview) {
  const heading = h("h3", {}, path);
  if (IMAGE_ARTIFACTS.test(path)) {
    preview.replaceChildren(heading, await imagePreview(runId, path));
    return;
  }
  if (!TEXT_ARTIFACTS.test(path)) {
    preview.replaceChildren(heading, h("p", { class: "muted" }, "No preview for this kind of file."));
    return;
  }
  const response = await authorizedFetch("/get-artifact?" + new URLSearchParams({ run_id: runId, path }));
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).message; } catch { /* plain text */ }
    preview.replaceChildren(heading, errorBox(message));
    return;
  }
  let body;
  if (/\.csv$/i.test(path)) body = csvTable(text);
  else if (/\.json$/i.test(path)) {
    try { body = h("pre", { class: "preview" }, JSON.stringify(JSON.parse(text), null, 2)); }
    catch { body = h("pre", { class: "preview" }, text); }
  } else body = h("pre", { class: "preview" }, text);
  preview.replaceChildren(heading, body);
}

function csvTable(text) {
  // Plain comma-separated rows; quoted fields with commas are kept whole.
  const rows = text.split(/\r?\n/).filter(Boolean).slice(0, 201).map((line) =>
    [...line.matchAll(/("([^"]|"")*"|[^,]*)(,|$)/g)].map((m) => m[1].replace(/^"|"$/g, "").replace(/""/g, '"')).slice(0, -1)
  );
  if (!rows.length) return h("p", { class: "muted" }, "Empty file.");
  return h(
    "table",
    { class: "csv", "aria-label": "CSV preview" },
    h("thead", {}, h("tr", {}, rows[0].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.slice(1).map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))
  );
}

// ---- compare -----------------------------------------------------------------

async function comparePage(root, query) {
  const ids = (query.get("runs") || "").split(",").filter(Boolean);
  if (ids.length < 2 || ids.length > 10) {
    throw new ApiError("Compare takes 2 to 10 runs: select them on a runs page (the runs= query parameter).");
  }
  const runs = (await Promise.all(ids.map((id) => api("runs/get", { query: { run_id: id } })))).map((r) => runView(r.run));
  document.title = "Compare runs · mlcadence";
  const section = (title, kind) => {
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r[kind])))].sort();
    if (!keys.length) return [];
    return [
      h("h2", {}, title),
      h(
        "table",
        { id: `compare-${kind}`, "aria-label": title },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), runs.map((r) => h("th", { scope: "col" }, link({ view: "run", run: r.id }, r.name))))),
        h(
          "tbody",
          {},
          keys.map((key) => {
            const values = runs.map((r) => r[kind][key]);
            const differs = new Set(values.map(String)).size > 1;
            return h(
              "tr",
              { class: differs ? "diff" : "", "data-key": key, "aria-label": differs ? `${key} differs` : null },
              h("th", { scope: "row" }, key, differs ? h("span", { class: "muted" }, " ≠") : ""),
              values.map((v) => h("td", { class: typeof v === "number" ? "num" : "" }, fmtValue(v)))
            );
          })
        )
      ),
    ];
  };
  root.append(h("h1", {}, `Compare ${runs.length} runs`), ...section("Metrics", "metrics"), ...section("Parameters", "params"));
  root.append(await compareViews(runs, query));
}

// ---- models ------------------------------------------------------------------

async function modelsPage(root) {
  document.title = "Models · mlcadence";
  const { registered_models: models = [] } = await api("registered-models/search", { query: { max_results: 1000 } });
  root.append(
    h("h1", {}, "Registered models"),
    models.length
      ? h(
          "table",
          { id: "models", "aria-label": "Registered models" },
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Latest version"), h("th", {}, "Aliases"), h("th", {}, "Updated"))),
          h(
            "tbody",
            {},
            models.map((m) =>
              h(
                "tr",
                { "data-model": m.name },
                h("td", {}, link({ view: "model", name: m.name }, m.name)),
                h("td", { class: "num" }, Math.max(0, ...(m.latest_versions || []).map((v) => Number(v.version))) || ""),
                h("td", {}, (m.aliases || []).map((a) => h("span", { class: "badge" }, `${a.alias} → v${a.version}`))),
                h("td", {}, fmtTime(m.last_updated_timestamp))
              )
            )
          )
        )
      : h("p", { class: "muted" }, "No registered models yet.")
  );
}

async function modelPage(root, query) {
  const name = query.get("name") || "";
  const model = (await api("registered-models/get", { query: { name } })).registered_model;
  document.title = `${name} · mlcadence`;
  const filter = `name='${name.replaceAll("'", "\\'")}'`;
  const { model_versions: versions = [] } = await api("model-versions/search", { query: { filter, max_results: 1000 } });
  versions.sort((a, b) => Number(a.version) - Number(b.version));
  const aliasesOf = {};
  for (const a of model.aliases || []) (aliasesOf[a.version] ||= []).push(a.alias);
  const gate = (v) => {
    const out = {};
    for (const t of v.tags || []) if (t.key.startsWith(GATE_PREFIX)) out[t.key.slice(GATE_PREFIX.length)] = t.value;
    return out;
  };
  const decisionBadge = (decision) => (decision ? h("span", { class: `badge ${decision}` }, decision) : "");

  const timeline = versions
    .filter((v) => gate(v).decision)
    .map((v) => {
      const g = gate(v);
      const scores = g.metric
        ? `${g.metric}: challenger ${g.challenger_score}` + (g.champion_score ? ` vs champion v${g.champion_version} ${g.champion_score}` : " (no champion to beat)")
        : "";
      const test = g.test ? ` · ${g.test}, p = ${g.p_value}` : "";
      return h(
        "li",
        { "data-version": v.version, "data-decision": g.decision },
        h("strong", {}, `v${v.version}`), " ", decisionBadge(g.decision), " ",
        h("span", { class: "muted" }, fmtTime(v.last_updated_timestamp || v.creation_timestamp)), " ",
        scores, test,
        g.reason ? h("div", { class: "muted" }, g.reason) : ""
      );
    });

  root.append(
    h("h1", {}, "Model ", name),
    model.description ? h("p", {}, model.description) : "",
    h("h2", {}, "Versions"),
    h(
      "table",
      { id: "versions", "aria-label": "Versions" },
      h("thead", {}, h("tr", {}, ["Version", "Aliases", "Stage", "Created", "Source run", "Gate"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        versions.map((v) =>
          h(
            "tr",
            { "data-version": v.version },
            h("td", { class: "num" }, v.version),
            h("td", {}, (aliasesOf[v.version] || []).map((a) => h("span", { class: "badge" }, a))),
            h("td", {}, v.current_stage || ""),
            h("td", {}, fmtTime(v.creation_timestamp)),
            h("td", {}, v.run_id ? link({ view: "run", run: v.run_id }, v.run_id.slice(0, 12)) : ""),
            h("td", {}, decisionBadge(gate(v).decision))
          )
        )
      )
    ),
    h("h2", {}, "Champion history"),
    timeline.length
      ? h("ol", { class: "timeline", id: "timeline", "aria-label": "Gate decisions" }, timeline)
      : h("p", { class: "muted" }, "No gate decisions recorded on this model's versions."),
    await modelDetails(model, versions)
  );
}

render();
