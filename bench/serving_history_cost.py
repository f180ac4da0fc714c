"""serving_history_cost.py - what the inference servers' history costs (docs/servers.md).

Writes a real history with `gpuscope serve` on the simulator and one fixture vLLM server
for a few seconds, copies its newest server_window row into 90 days of 1-minute rows (the
default window and retention; the rate steps up halfway so the report has a trend), then
times `report --since 100d` and `query --servers` over them and prints bytes per row and
peak resident memory.  Loopback only, bounded (about a minute).  Run from the repository
root after `cmake --build build`:  python3 bench/serving_history_cost.py
"""
import os, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from fixture_servers import FixtureServer, Schedule
from harness import Agent, run, write_scenario
d = tempfile.mkdtemp(); db = os.path.join(d, "h.db")
scn = write_scenario({"name": "m", "gpus": [{"model": "NVIDIA H200", "metrics": {"util_gpu_pct": 90, "power_w": 400}}]})
with FixtureServer("vllm", Schedule(waiting=3)) as v:
    with Agent("--history", db, "--costly-interval", "1s", "--inference-poll", "500ms", "--inference-window", "2s",
               "--no-inference-discovery", "--inference-server", v.url + "#gpus=0", scenario=scn):
        time.sleep(8)
con = sqlite3.connect(db)
row = con.execute("SELECT * FROM server_window ORDER BY t DESC LIMIT 1").fetchone()
cols = [c[1] for c in con.execute("PRAGMA table_info(server_window)")]
size0 = os.path.getsize(db)
t_end = row[0]; N = 90 * 1440
rows = []
for i in range(N):
    r = list(row); r[0] = t_end - 60 * (i + 1); r[1] = 60.0
    r[cols.index("gen_tokens")] = 60000.0 * (1 + 0.3 * (i < N // 2))
    r[cols.index("joules")] = 24000.0
    rows.append(r)
con.executemany("INSERT INTO server_window VALUES (%s)" % ",".join("?" * len(cols)), rows)
con.commit(); con.execute("VACUUM"); con.close()
print("rows", N, "bytes/row %.0f" % ((os.path.getsize(db) - size0) / N))
for args in (["report", "--history", db, "--since", "100d", "--format", "json"],
             ["query", "--history", db, "--since", "100d", "--servers"]):
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "%M KB maxrss", "build/gpuscope"] + args, capture_output=True, text=True,
                       env=dict(os.environ, GPUSCOPE_SIM_LIB="build/sim/libgpuscope-nvml-sim.so"))
    print(args[0], "rc", p.returncode, "%.2f s" % (time.time() - t0), p.stderr.strip().splitlines()[-1], len(p.stdout))
os.unlink(scn)
import shutil  # noqa: E402
shutil.rmtree(d, ignore_errors=True)
