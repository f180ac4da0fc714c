// validate_k8s.mjs - validate Kubernetes YAML documents against the Kubernetes OpenAPI
// schemas (kubernetes-models: the API's schemas compiled with ajv; the Prometheus
// Operator's and KEDA's CRD schemas from their kubernetes-models packages).
//
// Those compiled schemas, like the API's, let unknown fields through, where the API server
// drops them in silence (a misspelt `hostPid` is simply not there).  So a second, strict
// pass does what kubeconform's -strict does: each document is type-checked by the
// TypeScript compiler as a literal of the model's interface (generated from the same
// schemas), and an unknown field anywhere is an excess-property error.
//
//   node validate_k8s.mjs FILE...     exit 0 when every document validates, else 1
//
// A document of a kind with no schema here is an error, not a pass.  Node resolves the
// packages from NODE_PATH (scripts/deps.sh test installs them under .deps/node).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.NODE_PATH || join(process.cwd(), "node_modules");
const require = createRequire(join(modules, "_"));
const yaml = require("js-yaml");

// apiVersion -> module that exports the models of that group version.
// The Prometheus Operator's models are ES modules only: imported by their file.
async function modelsFor(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com")
    return import(pathToFileURL(join(modules, "@kubernetes-models/prometheus-operator", group, version, "index.js")));
  if (group === "keda.sh") return require("@kubernetes-models/keda").kedaSh?.[version];
  if (group === "kustomize.config.k8s.io") return null;
  return require(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
}

// The module of a kind's TypeScript interface (I<Kind>).
function typesFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  if (group === "keda.sh") return `@kubernetes-models/keda/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

// Type-checks every document at once; returns the messages, each naming its document.
function strictCheck(docs) {
  const ts = require("typescript");
  let src = "", line = 0;
  const spans = [];
  docs.forEach(({ doc, what }, i) => {
    const body = `import type { I${doc.kind} as T${i} } from ${JSON.stringify(typesFor(doc.apiVersion, doc.kind))};\n` +
      `export const d${i}: T${i} = ${JSON.stringify(doc, null, 1)};\n`;
    spans.push({ from: line, to: line + body.split("\n").length - 1, what });
    line += body.split("\n").length - 1;
    src += body;
  });
  const dir = mkdtempSync(join(tmpdir(), "validate-k8s-"));
  const file = join(dir, "documents.ts");
  writeFileSync(file, src);
  const program = ts.createProgram([file], {
    noEmit: true, strict: true, skipLibCheck: true, types: [],
    moduleResolution: ts.ModuleResolutionKind.Node10, baseUrl: "/", paths: { "*": [modules + "/*"] },
  });
  const out = ts.getPreEmitDiagnostics(program).map((d) => {
    const at = d.file ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const span = spans.find((s) => at >= s.from && at < s.to);
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n").split("\n").pop();
    const field = d.file ? src.split("\n")[at].trim() : "";
    return { what: span ? span.what : "?", message: `${text.replace(/ in type '.*'\.$/, ".")} (${field})` };
  });
  rmSync(dir, { recursive: true, force: true });
  return out;
}

let failed = 0, checked = 0;
const valid = [];
for (const file of process.argv.slice(2)) {
  let docs;
  try {
    docs = yaml.loadAll(readFileSync(file, "utf8")).filter((d) => d);
  } catch (e) {
    console.log(`${file}: not YAML: ${e.message}`);
    failed++;
    continue;
  }
  for (const doc of docs) {
    const what = `${file}: ${doc.kind ?? "?"}/${doc.metadata?.name ?? "?"}`;
    if (!doc.apiVersion || !doc.kind) {
      console.log(`${what}: no apiVersion or kind`);
      failed++;
      continue;
    }
    let models;
    try {
      models = await modelsFor(doc.apiVersion);
    } catch (e) {
      models = undefined;
    }
    if (models === null) continue; // kustomize's own file: not an API object
    const Model = models?.[doc.kind];
    if (!Model) {
      console.log(`${what}: no schema for ${doc.apiVersion} ${doc.kind}`);
      failed++;
      continue;
    }
    try {
      new Model(doc).validate();
      valid.push({ doc, what });
    } catch (e) {
      console.log(`${what}: ${e.message}`);
      failed++;
    }
  }
}
if (valid.length) {
  const errors = strictCheck(valid);
  const bad = new Set();
  for (const { what, message } of errors) {
    console.log(`${what}: ${message}`);
    bad.add(what);
  }
  failed += bad.size;
  checked = valid.length - bad.size;
}
console.log(`${checked} documents valid, ${failed} failed`);
process.exit(failed ? 1 : 0);
