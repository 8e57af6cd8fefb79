// The model page's details: each version's signature and input example (from
// the MLmodel file of the version's run artifacts) and the champion alias's
// moves, rollbacks included (the registered model's alias-history tag).

import { h, api, fmtValue } from "./app.js";

const HISTORY_TAG_PREFIX = "mlcadence.alias_history.";
const RUNS_SOURCE = /^runs:\/([^/]+)\/(.+)$/;
const MAX_VERSIONS = 10; // the newest ones; older versions are one click away in their runs
const MOVED_BY = { gate: "by the gate", hand: "by hand", rollback: "rollback" };

function columnsTable(id, caption, columns) {
  return h(
    "table",
    { id, class: "signature" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ["Name", "Type", "Required"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, columns.map((col, i) => {
      const type = col.type === "tensor" ? `tensor ${col["tensor-spec"]?.dtype ?? ""} ${JSON.stringify(col["tensor-spec"]?.shape ?? [])}` : col.type;
      return h("tr", { "data-column": col.name ?? `#${i}` },
        h("td", {}, col.name ?? h("span", { class: "muted" }, "(unnamed)")), h("td", {}, type), h("td", {}, col.required === false ? "no" : "yes"));
    }))
  );
}

function exampleTable(id, example) {
  // pandas "split" orient ({columns, data}) as MLflow saves a DataFrame example.
  if (!example || !Array.isArray(example.columns) || !Array.isArray(example.data)) {
    return example ? h("pre", { class: "preview", id }, JSON.stringify(example, null, 2)) : "";
  }
  return h(
    "table",
    { id, class: "example" },
    h("caption", {}, "Input example"),
    h("thead", {}, h("tr", {}, example.columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, example.data.map((row) => h("tr", {}, row.map((v) => h("td", { class: "num" }, fmtValue(v))))))
  );
}

async function versionSignature(version) {
  const match = RUNS_SOURCE.exec(version.source || "");
  const heading = h("h3", {}, `Version ${version.version}`, version.current_stage && version.current_stage !== "None" ? ` · stage ${version.current_stage}` : "");
  const section = (...body) => h("section", { class: "version-detail", "data-version": version.version, "aria-label": `Version ${version.version}` }, heading, ...body);
  if (!match) return section(h("p", { class: "muted" }, `Source ${version.source || "(none)"}: no run artifacts to read a signature from.`));
  let doc;
  try {
    doc = await api("/ui/model", { query: { run_id: match[1], path: match[2] } });
  } catch (exc) {
    return section(h("p", { class: "muted" }, `No signature: ${exc.message}`));
  }
  const { inputs, outputs } = doc.signature;
  const v = version.version;
  return section(
    inputs ? columnsTable(`signature-inputs-${v}`, "Inputs", inputs) : h("p", { class: "muted" }, "No input signature logged."),
    outputs ? columnsTable(`signature-outputs-${v}`, "Outputs", outputs) : "",
    doc.input_example ? exampleTable(`input-example-${v}`, doc.input_example) : h("p", { class: "muted" }, "No input example logged.")
  );
}

function aliasMoves(model) {
  const lists = (model.tags || [])
    .filter((t) => t.key.startsWith(HISTORY_TAG_PREFIX))
    .map((t) => {
      let moves = [];
      try { moves = JSON.parse(t.value); } catch { /* damaged: shown as none */ }
      return [t.key.slice(HISTORY_TAG_PREFIX.length), Array.isArray(moves) ? moves : []];
    });
  if (!lists.length) return [];
  return lists.map(([alias, moves]) => [
    h("h2", {}, `Alias history: ${alias}`),
    h(
      "ol",
      { class: "timeline", id: `alias-history-${alias}`, "aria-label": `Moves of the ${alias} alias, oldest first` },
      moves.map((m) => {
        const by = MOVED_BY[m.by] || m.by;
        return h("li", { "data-version": m.version, "data-by": m.by },
          h("strong", {}, `v${m.version}`), " ",
          h("span", { class: `badge ${m.by === "rollback" ? "rejected" : m.by === "gate" ? "promoted" : ""}` }, by), " ",
          m.previous === null || m.previous === undefined ? `took ${alias} (first holder)` : `took ${alias} from v${m.previous}`, " ",
          h("span", { class: "muted" }, m.at || ""));
      })
    ),
  ]);
}

export async function modelDetails(model, versions) {
  const newest = [...versions].sort((a, b) => Number(b.version) - Number(a.version)).slice(0, MAX_VERSIONS);
  return h(
    "div",
    { id: "model-details" },
    aliasMoves(model),
    h("h2", {}, "Signatures and input examples"),
    await Promise.all(newest.map(versionSignature))
  );
}
