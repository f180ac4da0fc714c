#!/usr/bin/env python3
"""test_chart_args.py - the DaemonSet's command line is one the real binary runs.

Renders the chart, takes the container's args and the files the pod would mount (the web
config and TLS Secrets, the collectors ConfigMap), maps the pod's paths to a temporary
directory, the node name to "gpu-node-7" and the listen address to a free loopback port,
adds --demo, and starts the real gpuscope with them:
- default values: /health answers as the probes expect, and the DCGM_FI_* series carry
  the node's name as their host label;
- TLS (the chart's generated certificate), basic auth (Helm's bcrypt hashes) and a
  collectors CSV: /health answers over HTTPS without a password, the probe's way;
  /metrics is 401 without one and, with it, serves exactly the CSV's DCGM names.
"""
import base64
import os
import re
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402
from test_manifests import CHART, HELM, find, yaml_docs  # noqa: E402


def render(*values):
    cmd = [HELM, "template", "gpuscope", CHART, "--namespace", "gpuscope"]
    for v in values:
        cmd += ["-f", os.path.join(HERE, v)]
    return yaml_docs(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def pod_files(docs, tmp):
    """Writes what the pod mounts under tmp; returns {path in the pod: path here}."""
    spec = find(docs, "DaemonSet")[0]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    files = {}
    for m in spec["containers"][0]["volumeMounts"]:
        v = volumes[m["name"]]
        if "secret" in v:
            obj = [d for d in find(docs, "Secret") if d["metadata"]["name"] == v["secret"]["secretName"]][0]
            data = {k: base64.b64decode(x) for k, x in obj.get("data", {}).items()}
            data.update({k: x.encode() for k, x in obj.get("stringData", {}).items()})
        elif "configMap" in v:
            obj = [d for d in find(docs, "ConfigMap") if d["metadata"]["name"] == v["configMap"]["name"]][0]
            data = {k: x.encode() for k, x in obj["data"].items()}
        else:
            continue
        for key, content in data.items():
            if "subPath" in m and m["subPath"] != key:
                continue
            pod_path = m["mountPath"] if "subPath" in m else os.path.join(m["mountPath"], key)
            here = os.path.join(tmp, pod_path.strip("/").replace("/", "_"))
            with open(here, "wb") as f:
                f.write(content)
            files[pod_path] = here
    return files


def agent_args(docs, tmp):
    c = find(docs, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]
    args = list(c["args"])
    assert args[0] == "serve", args
    i = args.index("--listen")
    assert args[i + 1] == ":%d" % c["ports"][0]["containerPort"], args
    del args[i:i + 2]
    os.makedirs(os.path.join(tmp, "host", "etc"))
    with open(os.path.join(tmp, "host", "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    files = pod_files(docs, tmp)
    for pod_path, here in files.items():
        if pod_path.endswith("web-config.yaml"):  # the config names the pod's certificate paths
            text = open(here).read()
            for p, h in files.items():
                text = text.replace('"%s"' % p, '"%s"' % h)
            with open(here, "w") as f:
                f.write(text)
    mapped = []
    for a in args[1:]:
        a = a.replace("$(NODE_NAME)", "gpu-node-7")
        if a == "/host":
            a = os.path.join(tmp, "host")
        elif a.startswith("/var/lib/gpuscope/"):
            a = os.path.join(tmp, os.path.basename(a))
        mapped.append(files.get(a, a))
    print("gpuscope serve --demo", " ".join(mapped))
    return c, mapped


def test_default():
    with tempfile.TemporaryDirectory() as tmp:
        docs = render()
        c, args = agent_args(docs, tmp)
        probe = c["readinessProbe"]["httpGet"]
        with harness.Agent(*args) as agent:
            status, _, body = agent.get(probe["path"])
            assert probe["scheme"] == "HTTP" and status == 200 and body.strip() == b"OK", (status, body)
            samples = harness.parse_exposition(agent.metrics_text())
            # dcgm-exporter's host label: hostname (Hostname in releases before 4.x).
            util = [dict(ls) for (n, ls) in samples if n == "DCGM_FI_DEV_GPU_UTIL"]
            hosts = {v for ls in util for k, v in ls.items() if k.lower() == "hostname"}
            assert util and hosts == {"gpu-node-7"}, util[:2]
            assert agent.stop() == 0, agent.stderr()
    print("ok: default values: the args run the binary; /health answers OK; the host label is the node")


def test_tls_basic_auth_collectors():
    with tempfile.TemporaryDirectory() as tmp:
        docs = render("values-tls.yaml")
        c, args = agent_args(docs, tmp)
        probe = c["readinessProbe"]["httpGet"]
        assert probe["scheme"] == "HTTPS", probe
        ca = [h for p, h in pod_files(docs, tempfile.mkdtemp(dir=tmp)).items() if p.endswith("/ca.crt")][0]
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False  # the certificate names the Service, not 127.0.0.1
        csv = open(os.path.join(HERE, "values-tls.yaml")).read()
        want = set(re.findall(r"^\s+(DCGM_FI_\w+),", csv, re.M))
        with harness.Agent(*args) as agent:
            def get(path, auth=None):
                req = urllib.request.Request("https://127.0.0.1:%d%s" % (agent.port, path))
                if auth:
                    req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
                try:
                    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                        return r.status, r.read()
                except urllib.error.HTTPError as e:
                    return e.code, e.read()
            status, body = get(probe["path"])
            assert status == 200 and body.strip() == b"OK", (status, body)
            status, _ = get("/metrics")
            assert status == 401, status
            status, _ = get("/metrics", "prometheus:wrong")
            assert status == 401, status
            status, body = get("/metrics", "prometheus:s3cret")
            assert status == 200, status
            names = {n for (n, _) in harness.parse_exposition(body.decode()) if n.startswith("DCGM_FI_")}
            assert names == want, (names, want)
            assert agent.stop() == 0, agent.stderr()
    print("ok: TLS, basic auth and collectors from the chart: /health open over HTTPS, /metrics 401 "
          "without the password, exactly %s with it" % sorted(want))


if __name__ == "__main__":
    test_default()
    test_tls_basic_auth_collectors()
