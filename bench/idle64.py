#!/usr/bin/env python3
"""bench/idle64.py [--workless] [OUT] - writes a scenario of 64 simulated GPUs with no
processes (the default scenario's 8 GPUs eight times over, new UUIDs and bus ids, no
processes, no faults or events; their load signals kept) for measuring what the agent's
threads cost by themselves, e.g.

    python3 bench/idle64.py bench/out/idle64.json
    BUILD=build bench/agent_cpu.sh 65 -- --demo bench/out/idle64.json

With --workless the GPUs run nothing at all (utilization 0, the simulator's idle power
and clocks: no load signal), as GPUs waiting for work do, which the sampler's idle rule
slows down (--idle-interval); default path bench/out/idle64-workless.json.

Prints the path it wrote (default bench/out/idle64.json)."""
import copy
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    args = sys.argv[1:]
    workless = "--workless" in args
    args = [a for a in args if a != "--workless"]
    name = "idle64-workless.json" if workless else "idle64.json"
    out = args[0] if args else os.path.join(ROOT, "bench", "out", name)
    d = json.load(open(os.path.join(ROOT, "sim", "scenarios", "default.json")))
    gpus = []
    for k in range(64):
        g = copy.deepcopy(d["gpus"][k % len(d["gpus"])])
        g["uuid"] = "GPU-%08x-0000-4000-8000-%012x" % (0x64000000 + k, k)
        g["pci_bus_id"] = "00000000:%02x:00.0" % (k + 1)
        g.pop("processes", None)
        g.pop("faults", None)
        if workless:
            g.pop("metrics", None)
            g.pop("description", None)
        gpus.append(g)
    d["gpus"], d["name"] = gpus, "idle-64-workless" if workless else "idle-64"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(d, f)
    print(out)


if __name__ == "__main__":
    main()
