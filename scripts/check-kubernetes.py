#!/usr/bin/env python3
"""Validate deploy/kubernetes offline: schemas, cross-references, and the Clair config inside.

    scripts/check-kubernetes.py [--clair BINARY] [--kube-versions 1.27.0,1.37.0]

1. Every Kubernetes object against the API's JSON schemas, strictly (unknown fields are
   errors), for the oldest and newest Kubernetes version given: PyPI's kubernetes-validate.
2. Every object, ServiceMonitor included, against kubernetes-models (npm; the
   prometheus-operator package is generated from its CRD schemas): scripts/kubernetes-models.
3. What schemas cannot see: Deployment selectors match their pod labels; Services, PDBs and
   ServiceMonitors select some Deployment's pods; probes and targetPorts name ports the
   container has; ConfigMaps and Secrets referenced exist, with the keys referenced.
4. With --clair: each ConfigMap's config.yaml (with the Secret's drop-in beside it) passes
   `clair config check`.

Installs kubernetes-validate (pip) and the npm packages when missing, unless
CLAIR_SKIP_INSTALL=1.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "kubernetes"
MODELS = ROOT / "scripts" / "kubernetes-models"


def install():
    try:
        import kubernetes_validate  # noqa: F401
    except ImportError:
        if os.environ.get("CLAIR_SKIP_INSTALL") == "1":
            sys.exit("kubernetes-validate missing (pip install kubernetes-validate)")
        cmd = [sys.executable, "-m", "pip", "install", "-q", "kubernetes-validate"]
        if subprocess.run(cmd).returncode != 0:
            subprocess.run(cmd + ["--user", "--break-system-packages"], check=True)
    if not (MODELS / "node_modules" / "kubernetes-models").is_dir():
        if os.environ.get("CLAIR_SKIP_INSTALL") == "1":
            sys.exit(f"npm packages missing: npm ci --prefix {MODELS}")
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=MODELS, check=True)


def load(files):
    import yaml
    docs = []
    for f in files:
        for d in yaml.safe_load_all(f.read_text()):
            if d is not None:
                docs.append((f, d))
    return docs


def matches(selector, labels):
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        have = labels.get(e["key"])
        op = e["operator"]
        if (op == "In" and have not in e["values"]) or (op == "NotIn" and have in e["values"]) \
                or (op == "Exists" and have is None) or (op == "DoesNotExist" and have is not None):
            return False
    return True


def cross_check(docs):
    errors = []
    by_kind = {}
    for f, d in docs:
        by_kind.setdefault(d["kind"], []).append((f, d))
    pods = []  # (deployment name, pod labels, containers)
    for f, d in by_kind.get("Deployment", []):
        name = d["metadata"]["name"]
        labels = d["spec"]["template"]["metadata"].get("labels", {})
        if not matches(d["spec"]["selector"], labels):
            errors.append(f"{f.name}: Deployment/{name}: selector does not match its pod labels")
        spec = d["spec"]["template"]["spec"]
        pods.append((name, labels, spec["containers"]))
        for c in spec["containers"]:
            ports = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                p = c.get(probe, {}).get("httpGet")
                if p and p["port"] not in ports:
                    errors.append(f"{f.name}: Deployment/{name}: {probe} port {p['port']} is not a container port")
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    errors += check_ref(by_kind, "Secret", ref["name"], ref["key"], f"{f.name}: Deployment/{name}")
        for v in spec.get("volumes", []):
            sources = [v] + [s for s in (v.get("projected") or {}).get("sources", [])]
            for s in sources:
                for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                    ref = s.get(key)
                    if ref:
                        ref_name = ref.get("name") or ref.get("secretName")
                        for item in ref.get("items", []) or [{"key": None}]:
                            errors += check_ref(by_kind, kind, ref_name, item["key"], f"{f.name}: Deployment/{name}")
    services = {}
    for f, d in by_kind.get("Service", []):
        name = d["metadata"]["name"]
        services[name] = d
        chosen = [p for p in pods if matches({"matchLabels": d["spec"]["selector"]}, p[1])]
        if not chosen:
            errors.append(f"{f.name}: Service/{name}: selects no Deployment's pods")
        for port in d["spec"]["ports"]:
            for _, _, containers in chosen:
                names = {p.get("name") for c in containers for p in c.get("ports", [])}
                if isinstance(port["targetPort"], str) and port["targetPort"] not in names:
                    errors.append(f"{f.name}: Service/{name}: targetPort {port['targetPort']} is not a container port")
    for f, d in by_kind.get("PodDisruptionBudget", []):
        if not any(matches(d["spec"]["selector"], p[1]) for p in pods):
            errors.append(f"{f.name}: PodDisruptionBudget/{d['metadata']['name']}: selects no pods")
    for f, d in by_kind.get("ServiceMonitor", []):
        chosen = [s for s in services.values() if matches(d["spec"]["selector"], s["metadata"].get("labels", {}))]
        if not chosen:
            errors.append(f"{f.name}: ServiceMonitor/{d['metadata']['name']}: selects no Service")
        for ep in d["spec"]["endpoints"]:
            for s in chosen:
                if ep["port"] not in {p["name"] for p in s["spec"]["ports"]}:
                    errors.append(f"{f.name}: ServiceMonitor/{d['metadata']['name']}: Service/{s['metadata']['name']} has no port {ep['port']}")
    for f, d in by_kind.get("Ingress", []):
        for rule in d["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                svc = p["backend"]["service"]
                s = services.get(svc["name"])
                if s is None or svc["port"].get("name") not in {x["name"] for x in s["spec"]["ports"]}:
                    errors.append(f"{f.name}: Ingress/{d['metadata']['name']}: no Service {svc['name']} port {svc['port']}")
    return errors


def check_ref(by_kind, kind, name, key, where):
    objs = [d for _, d in by_kind.get(kind, []) if d["metadata"]["name"] == name]
    if not objs:
        return [f"{where}: {kind}/{name} is not defined in deploy/kubernetes"]
    data = {**(objs[0].get("data") or {}), **(objs[0].get("stringData") or {})}
    if key is not None and key not in data:
        return [f"{where}: {kind}/{name} has no key {key}"]
    return []


def config_check(clair, docs):
    errors = []
    secret = next((d for _, d in docs if d["kind"] == "Secret"), None)
    dropin = (secret or {}).get("stringData", {}).get("secrets.yaml")
    for f, d in docs:
        if d["kind"] != "ConfigMap" or "config.yaml" not in d.get("data", {}):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "config.yaml"
            cfg.write_text(d["data"]["config.yaml"])
            if dropin:
                (Path(tmp) / "config.yaml.d").mkdir()
                (Path(tmp) / "config.yaml.d" / "secrets.yaml").write_text(dropin)
            env = dict(os.environ, CLAIR_DATABASE_SOURCE="host=db.invalid user=clair dbname=clair sslmode=disable")
            r = subprocess.run([clair, "config", "check", str(cfg)], capture_output=True, text=True, env=env)
            label = f"{f.name}: ConfigMap/{d['metadata']['name']}: clair config check"
            print(f"{label}: exit {r.returncode}")
            if r.returncode != 0:
                errors.append(f"{label}: {r.stderr.strip()}")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clair", help="a clair binary: run `clair config check` on the ConfigMaps")
    ap.add_argument("--kube-versions", default="1.27.0,1.37.0")
    a = ap.parse_args()
    install()
    import kubernetes_validate
    files = sorted(DEPLOY.glob("*.yaml"))
    docs = load(files)
    errors = []
    for version in a.kube_versions.split(","):
        for f, d in docs:
            if d["apiVersion"].startswith("monitoring.coreos.com/"):
                continue  # no schema in kubernetes-validate: kubernetes-models checks it
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                errors.append(f"{f.name}: {d['kind']}/{d['metadata']['name']} (Kubernetes {version}): {e.message} at {'.'.join(map(str, e.path))}")
    print(f"kubernetes-validate --strict ({a.kube_versions}): {len(docs)} objects")
    r = subprocess.run(["node", str(MODELS / "validate.mjs"), *map(str, files)], capture_output=True, text=True)
    print(r.stdout, end="")
    if r.returncode != 0:
        errors.append(f"kubernetes-models: {r.stderr.strip() or 'invalid objects (above)'}")
    errors += cross_check(docs)
    if a.clair:
        errors += config_check(a.clair, docs)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    print(f"{len(docs)} objects in {len(files)} files: {'FAILED' if errors else 'ok'}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
