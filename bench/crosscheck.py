#!/usr/bin/env python3
"""crosscheck.py - gpuscope's /metrics against nvidia-smi, taken together.

Usage: crosscheck.py METRICS.txt SMI_BEFORE.csv SMI_AFTER.csv

bench/gpu.sh runs nvidia-smi, fetches /metrics, and runs nvidia-smi again,
with --query-gpu=uuid,utilization.gpu,memory.used,memory.total,
temperature.gpu,power.draw,clocks.sm,clocks.mem --format=csv,noheader,nounits.
A value is OK when it is within tolerance of either nvidia-smi reading (the
two bracket the moment /metrics was read).  GPUs are matched by UUID.
Exit status: 0 when all compared values are OK, 1 when one differs, 2 on
bad input.
"""
import re
import sys

SMI_FIELDS = ["uuid", "util", "fb_used", "fb_total", "temp", "power", "sm_clock", "mem_clock"]

# (gpuscope metric, nvidia-smi field, scale to nvidia-smi's unit, tolerance kind, tolerance)
CHECKS = [
    ("DCGM_FI_DEV_FB_USED", "fb_used", 1, "abs", 2),             # MiB
    ("gpuscope_memory_total_bytes", "fb_total", 1 / 2**20, "abs", 2),  # bytes -> MiB
    ("DCGM_FI_DEV_GPU_TEMP", "temp", 1, "abs", 2),                # C
    ("DCGM_FI_DEV_POWER_USAGE", "power", 1, "rel", 0.10),          # W
    ("DCGM_FI_DEV_SM_CLOCK", "sm_clock", 1, "rel", 0.05),          # MHz
    ("DCGM_FI_DEV_MEM_CLOCK", "mem_clock", 1, "rel", 0.05),        # MHz
    ("DCGM_FI_DEV_GPU_UTIL", "util", 1, "abs", 5),                # percent points
]

LINE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}\s+(\S+)')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def read_metrics(path):
    """{uuid: {metric: value}} for the metrics named in CHECKS."""
    wanted = {c[0] for c in CHECKS}
    out = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m or m.group(1) not in wanted:
                continue
            labels = {k.lower(): v for k, v in LABEL.findall(m.group(2))}
            uuid = labels.get("uuid")
            if uuid:
                out.setdefault(uuid, {})[m.group(1)] = float(m.group(3))
    return out


def read_smi(path):
    out = {}
    with open(path) as f:
        for line in f:
            cols = [c.strip() for c in line.split(",")]
            if len(cols) != len(SMI_FIELDS):
                continue
            row = dict(zip(SMI_FIELDS, cols))
            vals = {}
            for k in SMI_FIELDS[1:]:
                try:
                    vals[k] = float(row[k])
                except ValueError:  # [N/A], [Not Supported]
                    vals[k] = None
            out[row["uuid"]] = vals
    return out


def within(ours, theirs, kind, tol):
    if kind == "abs":
        return abs(ours - theirs) <= tol
    return ours == theirs or abs(ours - theirs) <= tol * abs(theirs)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    ours = read_metrics(sys.argv[1])
    before, after = read_smi(sys.argv[2]), read_smi(sys.argv[3])
    if not before:
        print("crosscheck: no nvidia-smi rows", file=sys.stderr)
        return 2
    ok = diff = missing = 0
    print(f"{'gpu':<8} {'metric':<28} {'gpuscope':>12} {'nvidia-smi':>12}  {'tolerance':<10} result")
    for uuid in sorted(before):
        g = ours.get(uuid, {})
        short = uuid[4:12] if uuid.startswith("GPU-") else uuid[:8]
        for metric, field, scale, kind, tol in CHECKS:
            smi = [s[field] for s in (before.get(uuid, {}), after.get(uuid, {}))
                   if s.get(field) is not None]
            tol_text = f"+-{tol:g}" if kind == "abs" else f"+-{tol * 100:g}%"
            if metric not in g or not smi:
                missing += 1
                have = f"{g[metric] * scale:.1f}" if metric in g else "absent"
                print(f"{short:<8} {metric:<28} {have:>12} {smi[0] if smi else 'n/a':>12}  "
                      f"{tol_text:<10} n/a")
                continue
            value = g[metric] * scale
            closest = min(smi, key=lambda s: abs(s - value))
            good = within(value, closest, kind, tol)
            ok += good
            diff += not good
            print(f"{short:<8} {metric:<28} {value:>12.1f} {closest:>12.1f}  {tol_text:<10} "
                  f"{'OK' if good else 'DIFF'}")
    print(f"crosscheck_ok {ok}")
    print(f"crosscheck_diff {diff}")
    print(f"crosscheck_na {missing}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
