// Validate every document of the given YAML files with kubernetes-models: the Kubernetes API
// schemas, and the prometheus-operator CRD schemas for ServiceMonitor. Prints one line per
// document; exits 1 if any is invalid or of a kind it has no schema for.
//
//   node validate.mjs FILE...
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as core from "kubernetes-models";
import * as monitoring from "@kubernetes-models/prometheus-operator";

// kubernetes-models exports one namespace per API group, named in camel case
// (networking.k8s.io → networkingK8sIo, the core group → its versions at the top), each with
// one per version (apps.v1.Deployment); so does the prometheus-operator package.
function model(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "") return core[version]?.[kind];
  const name = group.split(".").map((w, i) => (i ? w[0].toUpperCase() + w.slice(1) : w)).join("");
  return (core[name] ?? monitoring[name])?.[version]?.[kind];
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`${file}: YAML: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    const name = `${file}: ${obj.kind}/${obj.metadata?.name}`;
    const Model = model(obj.apiVersion ?? "", obj.kind ?? "");
    if (!Model) {
      console.log(`${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
      failed++;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`${name}: valid (${obj.apiVersion})`);
    } catch (e) {
      console.log(`${name}: ${e.message}`);
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);
