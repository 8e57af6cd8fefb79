// The compare page's charts: every metric's history overlaid, one line per
// run, and a scatter of one param against one metric (a point per run).
// Colours are the --series-N variables of style.css, set for light and dark.

import { h, s, api, fmtValue, params } from "./app.js";

const WIDTH = 380, HEIGHT = 200, PAD = { left: 46, right: 12, top: 12, bottom: 30 };
const COLOURS = 10; // --series-0 … --series-9: one per run, 2 to 10 runs

function linear([d0, d1], [r0, r1]) {
  return (v) => (d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0));
}

function extent(values) {
  return [Math.min(...values), Math.max(...values)];
}

function frame(label, xLabel, [x0, x1], [y0, y1]) {
  const bottom = HEIGHT - PAD.bottom;
  return [
    s("line", { class: "axis", x1: PAD.left, y1: bottom, x2: WIDTH - PAD.right, y2: bottom }),
    s("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }),
    s("text", { x: 2, y: PAD.top + 4 }, fmtValue(y1)),
    s("text", { x: 2, y: bottom }, fmtValue(y0)),
    x0 === null ? "" : s("text", { x: PAD.left, y: HEIGHT - 6 }, fmtValue(x0)),
    x1 === null ? "" : s("text", { x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end" }, fmtValue(x1)),
    s("text", { x: (PAD.left + WIDTH - PAD.right) / 2, y: HEIGHT - 6, "text-anchor": "middle" }, xLabel),
    s("title", {}, label),
  ];
}

function legend(runs) {
  return h(
    "ul",
    { class: "legend", "aria-label": "Runs" },
    runs.map((run, i) => h("li", { "data-run-id": run.id }, h("span", { class: `swatch series-${i % COLOURS}`, "aria-hidden": "true" }), run.name))
  );
}

// ---- overlaid metric histories ---------------------------------------------

async function histories(runs, keys) {
  const requests = runs.flatMap((run) =>
    keys.map((key) =>
      run.metrics[key] === undefined
        ? Promise.resolve([])
        : api("metrics/get-history", { query: { run_id: run.id, metric_key: key } }).then((r) =>
            (r.metrics || []).map((m) => ({ step: Number(m.step || 0), value: Number(m.value) }))
          )
    )
  );
  const flat = await Promise.all(requests);
  return runs.map((_, i) => Object.fromEntries(keys.map((key, j) => [key, flat[i * keys.length + j]])));
}

function overlaidChart(key, runs, series) {
  const all = series.flatMap((byKey) => byKey[key].filter((p) => Number.isFinite(p.value)));
  const xs = extent(all.map((p) => p.step)), ys = extent(all.map((p) => p.value));
  const x = linear(xs, [PAD.left, WIDTH - PAD.right]);
  const y = linear(ys, [HEIGHT - PAD.bottom, PAD.top]);
  const lines = runs.map((run, i) => {
    const points = series[i][key].filter((p) => Number.isFinite(p.value)).sort((a, b) => a.step - b.step);
    if (!points.length) return "";
    const colour = `series-${i % COLOURS}`;
    return s(
      "g",
      { class: `run ${colour}`, "data-run-id": run.id },
      s("polyline", { class: "line", points: points.map((p) => `${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ") }),
      points.map((p) =>
        s("circle", { class: "point", cx: x(p.step).toFixed(1), cy: y(p.value).toFixed(1), r: 2.5, "data-step": p.step, "data-value": p.value },
          s("title", {}, `${run.name}, step ${p.step}: ${p.value}`))
      )
    );
  });
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", {}, key),
    s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, role: "img", "data-metric": key,
      "aria-label": `${key} by step for ${runs.length} runs` },
      frame(`${key} by step`, "step", xs, ys), lines)
  );
}

// ---- scatter: one param against one metric ---------------------------------

function placement(values) {
  // Numbers are placed by value; anything else by category, in sorted order.
  const numeric = values.every((v) => v !== "" && Number.isFinite(Number(v)));
  if (numeric) {
    const domain = extent(values.map(Number));
    return { numeric, domain, position: (v) => Number(v), ticks: [] };
  }
  const categories = [...new Set(values)].sort();
  return { numeric, domain: [-0.5, categories.length - 0.5], position: (v) => categories.indexOf(v), ticks: categories };
}

function scatter(runs, paramKey, metricKey) {
  const shown = runs.map((run, i) => ({ run, i })).filter(({ run }) => run.params[paramKey] !== undefined && Number.isFinite(run.metrics[metricKey]));
  const missing = runs.filter((run) => !shown.some((p) => p.run === run));
  if (!shown.length) return h("p", { class: "muted", id: "scatter-empty" }, `No run has both ${paramKey} and ${metricKey}.`);
  const place = placement(shown.map(({ run }) => run.params[paramKey]));
  const ys = extent(shown.map(({ run }) => run.metrics[metricKey]));
  const inset = place.numeric ? 12 : 0; // points at the extremes stay off the axes
  const x = linear(place.domain, [PAD.left + inset, WIDTH - PAD.right - inset]);
  const y = linear(ys, [HEIGHT - PAD.bottom - 8, PAD.top + 8]);
  const ticks = place.ticks.map((label, k) => s("text", { class: "tick", x: x(k), y: HEIGHT - PAD.bottom + 12, "text-anchor": "middle" }, label));
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", {}, `${metricKey} by ${paramKey}`),
    s(
      "svg",
      { id: "scatter", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, role: "img",
        "aria-label": `${metricKey} against parameter ${paramKey}, one point per run`, "data-param": paramKey, "data-metric": metricKey,
        "data-placement": place.numeric ? "numeric" : "categorical" },
      frame(`${metricKey} by ${paramKey}`, paramKey, place.numeric ? place.domain : [null, null], ys),
      ticks,
      shown.map(({ run, i }) =>
        s("circle", { class: `point series-${i % COLOURS}`, r: 5, "data-run-id": run.id,
          cx: x(place.position(run.params[paramKey])).toFixed(1), cy: y(run.metrics[metricKey]).toFixed(1),
          "data-x": run.params[paramKey], "data-y": run.metrics[metricKey] },
          s("title", {}, `${run.name}: ${paramKey} = ${run.params[paramKey]}, ${metricKey} = ${run.metrics[metricKey]}`))
      )
    ),
    missing.length ? h("p", { class: "muted" }, `Not shown (no value): ${missing.map((r) => r.name).join(", ")}`) : ""
  );
}

function scatterView(runs, query) {
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  if (!paramKeys.length || !metricKeys.length) return "";
  const chosen = {
    param: paramKeys.includes(query.get("sx")) ? query.get("sx") : paramKeys[0],
    metric: metricKeys.includes(query.get("sy")) ? query.get("sy") : metricKeys[0],
  };
  const plot = h("div", { id: "scatter-plot", class: "charts" });
  const draw = () => plot.replaceChildren(scatter(runs, chosen.param, chosen.metric));
  const select = (id, label, keys, which, urlKey) =>
    h("label", { for: id }, label,
      h("select", {
        id,
        onchange: (event) => {
          chosen[which] = event.target.value;
          const next = params();
          next.set(urlKey, event.target.value);
          history.replaceState(null, "", "?" + next);
          draw();
        },
      }, keys.map((k) => h("option", { value: k, selected: k === chosen[which] }, k))));
  draw();
  return [
    h("h2", {}, "Parameter against metric"),
    h("div", { class: "toolbar" },
      select("scatter-x", "X axis (parameter)", paramKeys, "param", "sx"),
      select("scatter-y", "Y axis (metric)", metricKeys, "metric", "sy")),
    plot,
  ];
}

export async function compareViews(runs, query) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const series = keys.length ? await histories(runs, keys) : [];
  return h(
    "section",
    { id: "compare-charts", "aria-label": "Charts" },
    keys.length ? [h("h2", {}, "Metric histories"), legend(runs), h("div", { class: "charts" }, keys.map((key) => overlaidChart(key, runs, series)))] : "",
    scatterView(runs, query)
  );
}
