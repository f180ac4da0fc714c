#!/usr/bin/env python3
"""fleet_gen.py - OpenMetrics for a simulated fleet, for `promtool tsdb create-blocks-from
openmetrics` (bench/fleet_report.sh).

    fleet_gen.py TEMPLATE NODES DAYS INTERVAL_S END_UNIX OUTDIR

TEMPLATE is one scrape of `gpuscope serve --demo` (/metrics). Every DCGM_FI_* series of it
is copied to NODES hosts (hostname node-0001...) with their own UUIDs, over DAYS days
ending at END_UNIX, one sample every INTERVAL_S seconds. A gauge keeps its template value
times a slow daily wave and a per-GPU factor (so GPUs differ and a day has a shape); a
counter grows at the rate that makes its template value one day's worth. Labels are the
agent's own, so the report reads the fleet exactly as it reads gpuscope agents. Written
as OUTDIR/block-START.om, one file per 2 h block, each for its own promtool run.
"""
import math
import os
import re
import sys
import zlib

BLOCK_S = 7200  # promtool's (and Prometheus') block length
LINE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)\{(.*)\}\s+(\S+)$')


def main():
    template, nodes, days, interval, end, outdir = sys.argv[1:7]
    nodes, days, interval, end = int(nodes), float(days), int(interval), int(end)
    types, series = {}, []
    for line in open(template):
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split()[:4]
            types[name] = kind
            continue
        m = LINE.match(line.strip())
        if not m or not m.group(1).startswith('DCGM_FI_'):
            continue
        value = float(m.group(3))
        if not math.isfinite(value):
            continue
        labels = re.sub(r'(hostname|Hostname|instance)="[^"]*",?', '', m.group(2)).rstrip(',')
        series.append((m.group(1), labels, value))
    if not series:
        sys.exit('fleet_gen: no DCGM_FI_* series in ' + template)
    start = end - int(days * 86400)
    by_name = {}
    for name, labels, value in series:
        by_name.setdefault(name, []).append((labels, value))
    fleet = []  # (name, kind, [(labels, value, factor)]) with every host's copies
    for name, members in by_name.items():
        copies = []
        for node in range(nodes):
            host = 'node-%04d' % node
            for labels, value in members:
                lab = re.sub(r'UUID="GPU-([0-9a-f]{8})', lambda m: 'UUID="GPU-%08x' % (
                    (int(m.group(1), 16) + node * 7919) & 0xffffffff), labels)
                lab = 'hostname="%s",%s' % (host, lab) if lab else 'hostname="%s"' % host
                factor = 0.6 + 0.4 * ((node * 31 + zlib.crc32(lab.encode()) % 97) % 100) / 100.0
                copies.append((lab, value, factor))
        fleet.append((name, types.get(name, 'gauge'), copies))
    # One file per 2 h TSDB block (promtool aligns blocks to multiples of 2 h): promtool
    # reads its whole input once per block it writes, so one 7-day file costs 84 passes.
    os.makedirs(outdir, exist_ok=True)
    first = start // BLOCK_S * BLOCK_S
    for b0 in range(first, end + 1, BLOCK_S):
        steps = [t for t in range(max(start, b0), min(end, b0 + BLOCK_S - 1) + 1)
                 if (t - start) % interval == 0]
        if not steps:
            continue
        with open(os.path.join(outdir, 'block-%d.om' % b0), 'w') as out:
            for name, kind, copies in fleet:
                # Declared gauges: OpenMetrics wants counters named *_total, DCGM's are
                # not, and a range query does not read the type.
                out.write('# TYPE %s gauge\n' % name)
                for lab, value, factor in copies:
                    lines = []
                    for t in steps:
                        if kind == 'counter':
                            v = value * (t - start) / 86400.0
                        else:
                            wave = 1.0 + 0.2 * math.sin(2 * math.pi * (t % 86400) / 86400.0)
                            v = value * factor * wave
                        lines.append('%s{%s} %.6g %d\n' % (name, lab, v, t))
                    out.write(''.join(lines))
            out.write('# EOF\n')


if __name__ == '__main__':
    main()
