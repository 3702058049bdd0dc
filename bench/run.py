#!/usr/bin/env python3
"""Measure mfastats against the floor and the seed page's SQL on databases made by bench/generate.py.

    .venv/bin/python bench/run.py --dbs mfastats_bench_100k,mfastats_bench_1m --runs 3 --index-effect

For each database, on the same data and with one fixed `--as-of`:
  (a) `mfastats report` for one domain (Kratos + audit) as a whole process, `--runs` times: median wall
      time and the process's peak RSS (`os.wait4` rusage of that child);
  (b) the seed page's five queries (bench/seed.sql) through `psql` on the denormalised shape;
  (c) the floor (bench/floor.sql): hand-written set-based SQL for every number of the domain's block;
then the ratios report/floor and report/seed, and how the times grow from the first to the last
database. `--index-effect` times the report on the last database again with the README's audit
indexes and drops them afterwards (the SDK table has only `(identifier, created_at)` by default).
`--wrk` load-tests `/api/report` of `mfastats serve` with wrk at 1..200 connections, if both exist.
Figures on a shared 2-core machine are noisy: run more `--runs` and read medians.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
from generate import ADVISED_INDEXES, DROP_ADVISED_INDEXES, SERVER  # noqa: E402

MFASTATS = str(Path(sys.executable).with_name("mfastats"))


def run_report(url: str, domain: str, as_of: str) -> tuple[float, int, str]:
    """`mfastats report` as its own process, reaped with wait4 so its own peak RSS is known."""
    argv = [MFASTATS, "report", "--kratos", f"{domain}={url}", "--audit", f"{domain}={url}",
            "--format", "json", "--as-of", as_of]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks = []
    while True:  # read stdout ourselves so the process can be reaped by wait4 (not by communicate)
        chunk = proc.stdout.read(65536)
        if not chunk:
            break
        chunks.append(chunk)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if proc.returncode not in (0, 2):
        raise SystemExit(f"mfastats report failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, usage.ru_maxrss // 1024, b"".join(chunks).decode()


def psql(url: str, script: Path, as_of_sql: str) -> float:
    started = time.monotonic()
    subprocess.run(["psql", "-X", "-q", "-v", f"as_of='{as_of_sql}'", "-f", str(script), url],
                   check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def median_of(runs: int, fn) -> tuple[float, list[float]]:  # noqa: ANN001
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def measure(db: str, args: argparse.Namespace, as_of: str, as_of_sql: str) -> dict[str, object]:
    url = f"{args.server}/{db}"
    with psycopg.connect(url) as conn:
        identities = conn.execute("SELECT count(*) FROM identities").fetchone()[0]
        audit = conn.execute("SELECT count(*) FROM ciam_security_audit_log").fetchone()[0]
    print(f"\n== {db}: {identities:,} identities, {audit:,} audit rows", flush=True)
    reports = [run_report(url, args.domain, as_of) for _ in range(args.runs)]
    walls = [w for w, _, _ in reports]
    rss = max(r for _, r, _ in reports)
    doc = json.loads(reports[-1][2])
    status = doc["domains"][0]["status"]
    print(f"report   median {statistics.median(walls):7.2f} s  runs [{fmt(walls)}]  peak RSS {rss} MB  status {status}",
          flush=True)
    seed, seed_runs = median_of(args.runs, lambda: psql(url, BENCH / "seed.sql", as_of_sql))
    print(f"seed SQL median {seed:7.2f} s  runs [{fmt(seed_runs)}]", flush=True)
    floor, floor_runs = median_of(args.runs, lambda: psql(url, BENCH / "floor.sql", as_of_sql))
    print(f"floor    median {floor:7.2f} s  runs [{fmt(floor_runs)}]", flush=True)
    report = statistics.median(walls)
    print(f"report/floor {report / floor:5.2f}   report/seed {report / seed:5.2f}", flush=True)
    return {"db": db, "identities": identities, "audit": audit, "report": report, "rss": rss, "seed": seed,
            "floor": floor, "doc": doc}


def index_effect(db: str, args: argparse.Namespace, as_of: str, as_of_sql: str, without: dict) -> None:
    url = f"{args.server}/{db}"
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.monotonic()
        for sql in ADVISED_INDEXES:
            conn.execute(sql)
        conn.execute("ANALYZE ciam_security_audit_log")
        built = time.monotonic() - started
    try:
        walls = [run_report(url, args.domain, as_of)[0] for _ in range(args.runs)]
        floor, _ = median_of(args.runs, lambda: psql(url, BENCH / "floor.sql", as_of_sql))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for sql in DROP_ADVISED_INDEXES:
                conn.execute(sql)
    with_index = statistics.median(walls)
    print(f"\n== audit index advice on {db} (indexes built in {built:.0f} s)")
    print(f"report without {without['report']:7.2f} s   with {with_index:7.2f} s  runs [{fmt(walls)}]  "
          f"({without['report'] / with_index:.2f}x)")
    print(f"floor  without {without['floor']:7.2f} s   with {floor:7.2f} s   report/floor with indexes "
          f"{with_index / floor:.2f}")


WRK_PERCENTILES = """done = function(summary, latency, requests)
  for _, p in pairs({50, 95, 99}) do io.write(string.format("p%d_us %d\\n", p, latency:percentile(p))) end
end
"""


def load_test(db: str, args: argparse.Namespace) -> None:
    """`/api/report` under wrk at 1..200 connections: requests/s and p50/p95/p99 (a Lua `done` hook,
    since wrk's own --latency table has no p95). The server answers from its stored, pre-serialised
    report, so this measures the web layer, not the databases."""
    if shutil.which("wrk") is None:
        print("\n== API load test skipped: wrk is not installed (apt-get install -y wrk)")
        return
    url = f"{args.server}/{db}"
    port, token = 18087, "bench-token-0123456789abcdef"
    script = Path(tempfile.mkdtemp()) / "percentiles.lua"
    script.write_text(WRK_PERCENTILES)
    proc = subprocess.Popen([MFASTATS, "serve", "--kratos", f"{args.domain}={url}", "--audit", f"{args.domain}={url}",
                             "--port", str(port), "--token", token, "--store", str(script.parent / "store.sqlite")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(600):
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/report", headers=auth)
                size = len(urllib.request.urlopen(request, timeout=60).read())
                break
            except OSError:
                if proc.poll() is not None:
                    print(f"\n== API load test skipped: mfastats serve exited: {proc.stderr.read().decode()[-500:]}")
                    return
                time.sleep(1)
        print(f"\n== API /api/report on {db} ({size} bytes; wrk, {args.wrk_seconds} s per step)")
        for connections in (1, 10, 50, 100, 200):
            threads = str(min(2, connections))  # wrk needs at least one connection per thread
            command = ["wrk", "-t", threads, "-c", str(connections), "-d", f"{args.wrk_seconds}s",
                       "-H", f"Authorization: Bearer {token}", "-s", str(script), f"http://127.0.0.1:{port}/api/report"]
            out = subprocess.run(command, capture_output=True, text=True).stdout
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
            errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            ms = {p: int(m.group(1)) / 1000 for p in (50, 95, 99)
                  if (m := re.search(rf"p{p}_us (\d+)", out))}
            print(f"  {connections:>3} connections: {rps.group(1) if rps else '?':>8} req/s   "
                  + "   ".join(f"p{p} {v:6.1f} ms" for p, v in ms.items())
                  + (f"   non-2xx {errors.group(1)}" if errors else ""))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbs", default="mfastats_bench_100k,mfastats_bench_1m",
                        help="databases from bench/generate.py, smallest first")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--domain", default="ciam")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--index-effect", action="store_true")
    parser.add_argument("--wrk", action="store_true", help="load-test mfastats serve with wrk")
    parser.add_argument("--wrk-only", action="store_true", help="only the load test (on the first of --dbs)")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    as_of, as_of_sql = now.strftime("%Y-%m-%dT%H:%M:%SZ"), now.strftime("%Y-%m-%d %H:%M:%S")
    if args.wrk_only:
        load_test(args.dbs.split(",")[0], args)
        return
    print(f"as_of {as_of}; {os.cpu_count()} CPUs; medians of {args.runs} runs")
    results = [measure(db, args, as_of, as_of_sql) for db in args.dbs.split(",")]
    if len(results) > 1:
        small, large = results[0], results[-1]
        factor = large["identities"] / small["identities"]
        print(f"\n== scaling {small['db']} -> {large['db']} ({factor:.0f}x identities, "
              f"{large['audit'] / small['audit']:.0f}x audit rows)")
        for key in ("report", "floor", "seed"):
            print(f"{key:<7} {small[key]:7.2f} s -> {large[key]:7.2f} s  ({large[key] / small[key]:.1f}x)")
        print(f"peak RSS {small['rss']} MB -> {large['rss']} MB")
    if args.index_effect:
        index_effect(results[-1]["db"], args, as_of, as_of_sql, results[-1])
    if args.wrk:
        load_test(results[0]["db"], args)
    else:
        print("\n== API load test skipped (pass --wrk)")


if __name__ == "__main__":
    main()
