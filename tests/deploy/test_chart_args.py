#!/usr/bin/env python3
"""test_chart_args.py - the DaemonSet's command line is one the real binary runs.

Renders the chart (default values), takes the container's args, maps the pod's paths to a
temporary directory (/host, the history), the node name to "gpu-node-7" and the listen
address to a free loopback port, adds --demo, and starts the real gpuscope with them:
it must serve /health as the probes expect and label DCGM_FI_* series with the node name.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402
from test_manifests import CHART, HELM, find, yaml_docs  # noqa: E402


def main():
    text = subprocess.run([HELM, "template", "gpuscope", CHART, "--namespace", "gpuscope"], check=True,
                          capture_output=True, text=True).stdout
    ds = find(yaml_docs(text), "DaemonSet")[0]["spec"]["template"]["spec"]
    c = ds["containers"][0]
    args = list(c["args"])
    assert args[0] == "serve", args
    i = args.index("--listen")
    assert args[i + 1] == ":%d" % c["ports"][0]["containerPort"], args
    del args[i:i + 2]
    probe = c["readinessProbe"]["httpGet"]["path"]
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "host", "etc"))
        with open(os.path.join(tmp, "host", "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        mapped = []
        for a in args[1:]:
            a = a.replace("$(NODE_NAME)", "gpu-node-7")
            if a == "/host":
                a = os.path.join(tmp, "host")
            elif a.startswith("/var/lib/gpuscope/"):
                a = os.path.join(tmp, os.path.basename(a))
            mapped.append(a)
        print("gpuscope serve --demo", " ".join(mapped))
        with harness.Agent(*mapped) as agent:
            status, _, body = agent.get(probe)
            assert status == 200 and body.strip() == b"OK", (status, body)
            samples = harness.parse_exposition(agent.metrics_text())
            # dcgm-exporter's host label: Hostname, or hostname in its current releases.
            util = [dict(ls) for (n, ls) in samples if n == "DCGM_FI_DEV_GPU_UTIL"]
            hosts = {v for ls in util for k, v in ls.items() if k.lower() == "hostname"}
            assert util and hosts == {"gpu-node-7"}, util[:2]
            code = agent.stop()
            assert code == 0, agent.stderr()
    print(f"ok: the chart's args run the binary; {probe} answers OK; Hostname is the node's name")


if __name__ == "__main__":
    main()
