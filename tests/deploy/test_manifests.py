#!/usr/bin/env python3
"""test_manifests.py - the Kubernetes assets under deploy/ against real tools.

    test_manifests.py drift      `helm lint --strict` passes the chart with each values file;
                                 deploy/kubernetes/ is the chart's current rendering
    test_manifests.py validate   every manifest, and the chart rendered with the default,
                                 full and minimal values, pass the Kubernetes OpenAPI
                                 schemas (tests/deploy/validate_k8s.mjs); a broken
                                 document fails them
    test_manifests.py promql     promtool checks the PrometheusRule groups the chart renders
                                 and the PromQL of the autoscaling rules

Tools come from the environment CTest sets: HELM, NODE, NODE_PATH, PROMTOOL.
"""
import filecmp
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(ROOT, "deploy")
CHART = os.path.join(DEPLOY, "helm", "gpuscope")
HELM = os.environ.get("HELM", "helm")


def helm_template(*values):
    cmd = [HELM, "template", "gpuscope", CHART, "--namespace", "gpuscope"]
    for v in values:
        cmd += ["-f", v]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def yaml_docs(text):
    """The documents of a rendering as JSON, through js-yaml (no YAML parser in Python's stdlib)."""
    js = ("const y=require('js-yaml');let s='';process.stdin.on('data',d=>s+=d);"
          "process.stdin.on('end',()=>console.log(JSON.stringify(y.loadAll(s).filter(d=>d))))")
    out = subprocess.run([os.environ.get("NODE", "node"), "-e", js], input=text, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def validate(paths, expect_ok=True):
    r = subprocess.run([os.environ.get("NODE", "node"), os.path.join(HERE, "validate_k8s.mjs")] + paths,
                       capture_output=True, text=True)
    print(r.stdout + r.stderr, end="")
    if (r.returncode == 0) != expect_ok:
        sys.exit(f"FAIL: validation of {paths} exited {r.returncode}, expected {'0' if expect_ok else 'non-zero'}")
    return r.stdout


def test_drift():
    for values in ([], ["-f", os.path.join(HERE, "values-full.yaml")], ["-f", os.path.join(HERE, "values-minimal.yaml")]):
        r = subprocess.run([HELM, "lint", "--strict", CHART] + values, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"FAIL: helm lint --strict {' '.join(values)}:\n{r.stdout}{r.stderr}")
    print("ok: helm lint --strict passes with the default, full and minimal values")
    for name in ("native", "dcgm"):
        ours = os.path.join(CHART, "rules", name + ".yml")
        theirs = os.path.join(DEPLOY, "prometheus", ("gpuscope" if name == "native" else name) + "-rules.yml")
        if not filecmp.cmp(ours, theirs, shallow=False):
            sys.exit(f"FAIL: {ours} differs from {theirs}: copy it (gpuscope export rules made the latter)")
    print("ok: the chart's built-in rules are deploy/prometheus/'s")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(DEPLOY, "render.py"), tmp], check=True,
                       env=dict(os.environ, HELM=HELM), capture_output=True)
        rendered = sorted(os.listdir(tmp))
        cmp = filecmp.dircmp(tmp, os.path.join(DEPLOY, "kubernetes"))
        bad = cmp.diff_files + cmp.left_only
        if bad:
            for name in bad:
                subprocess.run(["diff", "-u", os.path.join(DEPLOY, "kubernetes", name), os.path.join(tmp, name)])
            sys.exit(f"FAIL: deploy/kubernetes differs from the chart's rendering in {bad}: run deploy/render.py")
    print(f"ok: deploy/kubernetes matches the chart ({', '.join(rendered)})")


def find(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def test_validate():
    manifests = [os.path.join(DEPLOY, "kubernetes", f) for f in sorted(os.listdir(os.path.join(DEPLOY, "kubernetes")))
                 if f.endswith(".yaml") and f != "values.yaml"]
    manifests += [os.path.join(DEPLOY, "autoscaling", f) for f in ("hpa.yaml", "keda-scaledobject.yaml")]
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"default": [], "full": [os.path.join(HERE, "values-full.yaml")],
                 "minimal": [os.path.join(HERE, "values-minimal.yaml")]}
        rendered = {}
        for name, values in cases.items():
            text = helm_template(*values)
            path = os.path.join(tmp, name + ".yaml")
            with open(path, "w") as f:
                f.write(text)
            rendered[name] = yaml_docs(text)
            manifests.append(path)
        # One run: the strict pass compiles every document at once.
        out = validate(manifests)
        print(f"ok: the manifests and the chart rendered with {', '.join(cases)} values: {out.strip().splitlines()[-1]}")

        # What the values promise shows in the rendering.
        full = rendered["full"]
        ds = find(full, "DaemonSet")[0]["spec"]["template"]["spec"]
        c = ds["containers"][0]
        assert "--web-config-file" in c["args"] and "--collectors" in c["args"], c["args"]
        assert c["args"][-2:] == ["--process-cap", "5"], c["args"]
        assert "tcpSocket" in c["livenessProbe"], "required client certificates need TCP probes"
        assert ds["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        vols = {v["name"]: v for v in ds["volumes"]}
        assert vols["history"]["hostPath"]["path"] == "/var/lib/gpuscope"
        web = find(full, "Secret")
        conf = [s for s in web if "web-config.yaml" in s.get("stringData", {})][0]["stringData"]["web-config.yaml"]
        assert re.search(r'prometheus: "\$2[aby]\$', conf), "basic auth users are stored as bcrypt hashes:\n" + conf
        assert "client_auth_type" in conf and "cert_file" in conf, conf
        cm = find(full, "ConfigMap")[0]
        assert "DCGM_FI_DEV_FB_USED" in cm["data"]["metrics"]
        assert find(full, "PodMonitor") and find(full, "ServiceMonitor")
        assert find(full, "PodMonitor")[0]["spec"]["podMetricsEndpoints"][0]["scheme"] == "https"
        groups = [g["name"] for g in find(full, "PrometheusRule")[0]["spec"]["groups"]]
        assert groups[-1] == "gpuscope" and len(groups) > 1, groups
        ep = find(full, "ServiceMonitor")[0]["spec"]["endpoints"][0]
        assert ep["tlsConfig"]["keySecret"]["name"] == "prometheus-client" and "basicAuth" in ep, ep

        default = rendered["default"]
        ds = find(default, "DaemonSet")[0]["spec"]["template"]["spec"]
        c = ds["containers"][0]
        assert ds["hostPID"] is True
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        assert c["securityContext"]["runAsNonRoot"] is True
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert "/host/var/lib/kubelet/pod-resources" in mounts, mounts
        assert not find(default, "PodMonitor") and not find(default, "PrometheusRule")

        minimal = rendered["minimal"]
        c = find(minimal, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]
        assert "--no-processes" in c["args"] and "--no-history" in c["args"], c["args"]
        assert [d["kind"] for d in minimal] == ["DaemonSet"], [d["kind"] for d in minimal]

        # The validator is not a rubber stamp: a port as a string and a DaemonSet without
        # its selector fail the schemas; a misspelt field (hostPid) and an unknown one
        # in a ServiceMonitor's endpoint fail the strict pass.
        def fresh(kind):
            return json.loads(json.dumps(find(default, kind)[0]))
        broken = fresh("DaemonSet")
        broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9400"
        del broken["spec"]["selector"]
        misspelt = fresh("DaemonSet")
        misspelt["spec"]["template"]["spec"]["hostPid"] = misspelt["spec"]["template"]["spec"].pop("hostPID")
        monitor = fresh("ServiceMonitor")
        monitor["spec"]["endpoints"][0]["honorLabel"] = True
        paths = []
        for i, doc in enumerate((broken, misspelt, monitor)):
            paths.append(os.path.join(tmp, "broken%d.yaml" % i))
            with open(paths[-1], "w") as f:
                json.dump(doc, f)  # JSON is YAML
        out = validate(paths, expect_ok=False)
        assert "containerPort" in out and "selector" in out, out
        assert '"hostPid"' in out and '"honorLabel"' in out, out
        assert out.strip().endswith("0 documents valid, 3 failed"), out
    print("ok: rendered values; broken, misspelt and unknown fields are refused")


def test_promql():
    promtool = os.environ.get("PROMTOOL", "promtool")
    with tempfile.TemporaryDirectory() as tmp:
        # Every rule group the chart renders into its PrometheusRule (built-in and added).
        for name, values in (("default", os.path.join(DEPLOY, "kubernetes", "values.yaml")),
                             ("full", os.path.join(HERE, "values-full.yaml"))):
            rule = find(yaml_docs(helm_template(values)), "PrometheusRule")[0]
            path = os.path.join(tmp, name + "-rules.json")
            with open(path, "w") as f:
                json.dump({"groups": rule["spec"]["groups"]}, f)
            subprocess.run([promtool, "check", "rules", path], check=True)

        # The autoscaling queries: prometheus-adapter's templates filled in as the adapter
        # does for an HPA on two pods, and KEDA's query as written.
        with open(os.path.join(DEPLOY, "autoscaling", "prometheus-adapter-values.yaml")) as f:
            adapter = yaml_docs(f.read())[0]
        exprs = {}
        for i, r in enumerate(adapter["rules"]["custom"]):
            exprs[f"adapter_series_{i}"] = r["seriesQuery"]
            q = (r["metricsQuery"].replace("<<.Series>>", "DCGM_FI_DEV_GPU_UTIL")
                 .replace("<<.LabelMatchers>>", 'exported_namespace="inference",exported_pod=~"vllm-a|vllm-b"')
                 .replace("<<.GroupBy>>", "exported_pod"))
            assert "<<" not in q, q
            exprs[f"adapter_metrics_{i}"] = q
        with open(os.path.join(DEPLOY, "autoscaling", "keda-scaledobject.yaml")) as f:
            keda = yaml_docs(f.read())[0]
        for i, t in enumerate(keda["spec"]["triggers"]):
            exprs[f"keda_{i}"] = t["metadata"]["query"]
        groups = {"groups": [{"name": "autoscaling", "rules": [
            {"record": "gpuscope:" + k, "expr": v} for k, v in sorted(exprs.items())]}]}
        path = os.path.join(tmp, "autoscaling-rules.json")
        with open(path, "w") as f:
            json.dump(groups, f)
        subprocess.run([promtool, "check", "rules", path], check=True)
    print(f"ok: promtool accepts the PrometheusRule groups and {len(exprs)} autoscaling queries")


if __name__ == "__main__":
    {"drift": test_drift, "validate": test_validate, "promql": test_promql}[sys.argv[1]]()
