"""The table of ./scripts/bench (SPEC §13) from the phases' JSON lines: per server and
operation, throughput, latency and server CPU per operation; the floors; the ratios against
the goals. Usage: report.py RESULTS.jsonl SECONDS WORKERS"""
import json
import sys

path, seconds, workers = sys.argv[1], sys.argv[2], sys.argv[3]
phases, rss, floors = [], {}, {}
for line in open(path):
    row = json.loads(line)
    if "result" in row:
        phases.append(row)
    elif "peak_rss_mb" in row:
        rss[row["server"]] = row["peak_rss_mb"]
    elif "floor" in row:
        floors[row["floor"]] = row


def per_cpu_second(requests, cpu):
    return requests / cpu if cpu > 0 else float("inf")


print(f"\n== SPEC §13: {workers} workers, {seconds} s per phase; server CPU from /proc "
      "(Gatehouse + every PostgreSQL process, or the peer's node process)")
print(f"{'server':<9} {'operation':<9} {'source':<6} {'ops/s':>7} {'p50 ms':>7} {'p99 ms':>8} "
      f"{'err':>4} {'app ms/op':>9} {'db ms/op':>8} {'ops/CPU-s':>9}")
table = {}
for p in phases:
    r = p["result"]
    n = max(r["requests"], 1)
    cpu = r["server_cpu_s"] + r["db_cpu_s"]
    rate = per_cpu_second(r["requests"], cpu)
    table[(p["server"], p["op"], p["source"])] = (rate, cpu / n, r["db_cpu_s"] / n)
    print(f"{p['server']:<9} {p['op']:<9} {p['source']:<6} {r['per_second']:>7} {r['p50_ms']:>7.2f} "
          f"{r['p99_ms']:>8.2f} {r['errors']:>4} {1000 * r['server_cpu_s'] / n:>9.3f} "
          f"{1000 * r['db_cpu_s'] / n:>8.3f} {rate:>9.0f}")
print("peak RSS: " + ", ".join(f"{s} {mb} MB" for s, mb in rss.items()))

print("\n== floors: the operation's own SQL through pgbench, PostgreSQL CPU only")
floor_rate = {}
for name, f in floors.items():
    rate = per_cpu_second(f["transactions"], f["db_cpu_s"])
    floor_rate[name] = rate
    print(f"{name:<14} {f['transactions']:>7} transactions  {1000 * f['db_cpu_s'] / max(f['transactions'], 1):.3f} ms/op"
          f"  {rate:>6.0f} per PostgreSQL CPU-second")

print("\n== goals: durable PostgreSQL, operations per server CPU-second, against the peer in this run")
goals = [("metadata", "many", 10.0), ("refresh", "many", 2.0), ("flow", "many", 2.0),
         ("register", "many", 1.0), ("register", "one", 1.0)]
for op, source, goal in goals:
    ours, peer = table.get(("postgres", op, source)), table.get(("peer", op, source))
    if not ours or not peer:
        continue
    ratio = ours[0] / peer[0]
    sqlite = table.get(("sqlite", op, source))
    extra = f"   (SQLite {sqlite[0] / peer[0]:.2f}×)" if sqlite else ""
    print(f"{op:<9} {source:<5} {ours[0]:>7.0f} vs peer {peer[0]:>7.0f} per CPU-s = {ratio:>6.3f}×"
          f"  goal ≥ {goal:g}×  {'met' if ratio >= goal else 'SHORT'}{extra}")
for op, source, name in [("register", "many", "register-many"), ("register", "one", "register-one"),
                         ("refresh", "many", "refresh")]:
    ours = table.get(("postgres", op, source))
    if not ours or name not in floor_rate:
        continue
    floor_ms = 1 / floor_rate[name]
    ratio = ours[1] / floor_ms
    print(f"{op:<9} {source:<5} {1000 * ours[1]:.3f} ms/op (db {1000 * ours[2]:.3f}) vs floor "
          f"{1000 * floor_ms:.3f} = {ratio:.2f}×  goal ≤ 1.25×  {'met' if ratio <= 1.25 else 'SHORT'}")
for server, mb in rss.items():
    if server != "peer":
        print(f"peak RSS {server:<8} {mb} MB  goal ≤ 64 MB  {'met' if mb <= 64 else 'SHORT'}")
