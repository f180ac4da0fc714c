#!/usr/bin/env python3
"""bench/idle64.py [OUT] - writes a scenario of 64 idle simulated GPUs (the default
scenario's 8 GPUs eight times over, new UUIDs and bus ids, no processes, no faults or
events) for measuring what the agent's threads cost by themselves, e.g.

    python3 bench/idle64.py bench/out/idle64.json
    BUILD=build bench/agent_cpu.sh 65 -- --demo bench/out/idle64.json

Prints the path it wrote (default bench/out/idle64.json)."""
import copy
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "out", "idle64.json")
    d = json.load(open(os.path.join(ROOT, "sim", "scenarios", "default.json")))
    gpus = []
    for k in range(64):
        g = copy.deepcopy(d["gpus"][k % len(d["gpus"])])
        g["uuid"] = "GPU-%08x-0000-4000-8000-%012x" % (0x64000000 + k, k)
        g["pci_bus_id"] = "00000000:%02x:00.0" % (k + 1)
        g.pop("processes", None)
        g.pop("faults", None)
        gpus.append(g)
    d["gpus"], d["name"] = gpus, "idle-64"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(d, f)
    print(out)


if __name__ == "__main__":
    main()
