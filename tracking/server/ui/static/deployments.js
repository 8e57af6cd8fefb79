// The Deployments page: every model version a deploy tagged, with a live look
// at each (state, the version its /health reports, request metrics from its
// /metrics). The tracking server does the looking (/ui/deployments/health): the
// browser cannot read another origin, and the server only ever reads the
// endpoint recorded in the version's tags.

const STATES = {
  live: "live",
  replaced: "serves another version",
  unavailable: "up, no model loaded",
  unreachable: "unreachable",
  stopped: "stopped",
  error: "error",
};
const LIVE = new Set(["live"]);

function fmtSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 1 ? `${+(seconds * 1000).toPrecision(3)} ms` : `${+seconds.toPrecision(3)} s`;
}

function stateCell(ui, report) {
  const label = STATES[report.state] || report.state;
  const detail = report.state === "stopped" ? ` at ${report.stopped_at}` : "";
  return ui.h(
    "span",
    { class: `badge state ${LIVE.has(report.state) ? "promoted" : "rejected"}`, "data-state": report.state },
    label + detail
  );
}

function metricsCells(ui, metrics) {
  if (!metrics) return [ui.h("td", { colspan: 3, class: "muted" }, "–")];
  if (metrics.problem) return [ui.h("td", { colspan: 3, class: "muted" }, metrics.problem)];
  const latency = metrics.latency_seconds || {};
  return [
    ui.h("td", { class: "num", "data-field": "requests" }, metrics.requests),
    ui.h("td", { class: "num", "data-field": "errors" }, metrics.errors),
    ui.h(
      "td",
      { "data-field": "latency" },
      latency.count
        ? `p50 ${fmtSeconds(latency.p50)} · p95 ${fmtSeconds(latency.p95)} · p99 ${fmtSeconds(latency.p99)}`
        : "no requests yet"
    ),
  ];
}

function liveCells(ui, report) {
  return [
    ui.h("td", { "data-field": "state" }, stateCell(ui, report), report.problem ? ui.h("div", { class: "muted" }, report.problem) : ""),
    ui.h("td", { class: "num", "data-field": "served" }, report.served ? `v${report.served}` : "–"),
    ...metricsCells(ui, report.metrics),
  ];
}

async function probe(ui, row, deployment) {
  let cells;
  try {
    const report = await ui.api("/ui/deployments/health", { query: { name: deployment.name, version: deployment.version } });
    cells = liveCells(ui, report);
  } catch (exc) {
    cells = [ui.h("td", { colspan: 5 }, ui.errorBox(exc.message))];
  }
  row.querySelectorAll("td.live").forEach((td) => td.remove());
  for (const cell of cells) cell.classList.add("live");
  row.append(...cells);
}

export async function deploymentsPage(root, _query, ui) {
  document.title = "Deployments · mlcadence";
  const { deployments = [] } = await ui.api("/ui/deployments");
  root.append(ui.h("h1", {}, "Deployments"));
  if (!deployments.length) {
    root.append(ui.h("p", { class: "muted" }, "No model version has been deployed from this store (`mlcadence deploy`)."));
    return;
  }
  const header = ["Model", "Version", "Target", "Endpoint", "Deployed", "State", "Serves", "Requests", "Errors", "Latency"];
  const rows = deployments.map((d) =>
    ui.h(
      "tr",
      { "data-model": d.name, "data-version": d.version },
      ui.h("td", {}, ui.link({ view: "model", name: d.name }, d.name)),
      ui.h("td", { class: "num" }, d.version),
      ui.h("td", {}, d.target || ""),
      ui.h("td", { "data-field": "endpoint" }, ui.h("code", {}, d.endpoint)),
      ui.h("td", {}, d.deployed_at || "")
    )
  );
  const table = ui.h(
    "table",
    { id: "deployments", "aria-label": "Deployments" },
    ui.h("thead", {}, ui.h("tr", {}, header.map((c) => ui.h("th", { scope: "col" }, c)))),
    ui.h("tbody", {}, rows)
  );
  const refresh = async () => {
    table.setAttribute("aria-busy", "true");
    await Promise.all(rows.map((row, i) => probe(ui, row, deployments[i])));
    table.removeAttribute("aria-busy");
  };
  await refresh();
  root.append(
    ui.h("div", { class: "toolbar" }, ui.h("button", { type: "button", id: "refresh-deployments", onclick: refresh }, "Refresh health and metrics")),
    table
  );
}
