// validate_k8s.mjs - validate Kubernetes YAML documents against the Kubernetes OpenAPI
// schemas (kubernetes-models: the API's schemas compiled with ajv; the Prometheus
// Operator's and KEDA's CRD schemas from their kubernetes-models packages).
//
//   node validate_k8s.mjs FILE...     exit 0 when every document validates, else 1
//
// A document of a kind with no schema here is an error, not a pass.  Node resolves the
// packages from NODE_PATH (scripts/deps.sh test installs them under .deps/node).
import { readFileSync } from "node:fs";
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

let failed = 0, checked = 0;
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
      checked++;
    } catch (e) {
      console.log(`${what}: ${e.message}`);
      failed++;
    }
  }
}
console.log(`${checked} documents valid, ${failed} failed`);
process.exit(failed ? 1 : 0);
