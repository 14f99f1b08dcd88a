#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

  report.py parse WRK_OUTPUT             -> one JSON object: rps, p50/p99 in ms, errors, bytes/req
  report.py table RESULTS.jsonl CEILING [PG_RESULTS.jsonl]
      -> the Markdown results table, with PostgreSQL's figures beside SQLite's
  report.py count DB SQL                 -> the single integer a query returns (SQLite)
  report.py watch DB DONE_FILE           -> "yes" if anything was committed to the SQLite
      database DB between the start and the moment DONE_FILE exists (PRAGMA data_version)
  report.py record RESULTS.jsonl NAME RESULT_JSON RSS_KIB TARGET EXPR [CEILING]
      appends a row; EXPR (Python, over rps, p50, p99, ratio, rss_mib) decides "met?"; a
      RESULT_JSON with "error" set is marked ERROR and never met
"""
import json
import re
import sqlite3
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse(path):
    out = open(path, encoding="utf-8", errors="replace").read()
    r = {"rps": None, "p50": None, "p99": None, "non2xx3xx": 0, "socket_errors": 0,
         "requests": 0, "bytes": 0, "statuses": {}}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        if m:
            r[key] = ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        r["non2xx3xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["socket_errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read", out)
    if m:
        r["requests"] = int(m.group(1))
        r["bytes"] = float(m.group(2)) * SIZES[m.group(3)]
    m = re.search(r"^STATUS (.*)$", out, re.M)
    if m:
        r["statuses"] = {k: int(v) for k, v in (p.split("=") for p in m.group(1).split())}
    r["bytes_per_req"] = r["bytes"] / r["requests"] if r["requests"] else 0
    return r


def fmt(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, float) and v >= 1000:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def table(results_path, ceiling_rps, pg_path=None):
    ceiling = float(ceiling_rps) if ceiling_rps else None
    rows = [json.loads(line) for line in open(results_path, encoding="utf-8") if line.strip()]
    pg = {}
    if pg_path:
        for line in open(pg_path, encoding="utf-8"):
            if line.strip():
                r = json.loads(line)
                pg[r["scenario"]] = r
    lines = [
        "| scenario | req/s | p50 ms | p99 ms | × ceiling | peak RSS MiB | target | met? "
        "| PostgreSQL req/s | PostgreSQL p99 ms | PostgreSQL RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rps = r.get("rps")
        ratio = f"{rps / ceiling:.2f}" if (rps and ceiling and r.get("ratio", True)) else "—"
        rss = f"{r['rss_kib'] / 1024:.1f}" if r.get("rss_kib") else "—"
        lines.append(
            f"| {r['scenario']} | {fmt(rps, 0) if rps else '—'} | {fmt(r.get('p50'), 2)} | "
            f"{fmt(r.get('p99'), 2)} | {ratio} | {rss} | {r.get('target', '')} | "
            f"{r.get('met', '')} | {pg_cells(pg.get(r['scenario']))} |"
        )
    return "\n".join(lines)


def pg_cells(r):
    """The PostgreSQL columns of a row: req/s, p99, RSS (or ERROR)."""
    if r is None:
        return "— | — | —"
    if r.get("error"):
        return f"**ERROR**: {r['error']} | — | —"
    rps = r.get("rps")
    rss = f"{r['rss_kib'] / 1024:.1f}" if r.get("rss_kib") else "—"
    return f"{fmt(rps, 0) if rps else '—'} | {fmt(r.get('p99'), 2)} | {rss}"


def count(db, sql):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    return con.execute(sql).fetchone()[0]


def watch(db, done):
    import os
    import time
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    before = con.execute("pragma data_version").fetchone()[0]
    while not os.path.exists(done):
        time.sleep(0.05)
    after = con.execute("pragma data_version").fetchone()[0]
    return "no" if before == after else "yes"


def record(results, name, result_json, rss_kib, target, expr, ceiling=None):
    r = json.loads(result_json)
    r["scenario"] = name
    r["rss_kib"] = int(rss_kib) if rss_kib not in ("", "0", None) else None
    r["target"] = target
    ceiling = float(ceiling) if ceiling else None
    env = {
        "rps": r.get("rps") or 0.0,
        "p50": r.get("p50") if r.get("p50") is not None else float("inf"),
        "p99": r.get("p99") if r.get("p99") is not None else float("inf"),
        "ratio": (r.get("rps") or 0.0) / ceiling if ceiling else 0.0,
        "rss_mib": (r["rss_kib"] or 0) / 1024,
    }
    if r.get("error"):
        r["met"] = f"**ERROR**: {r['error']}"
    elif expr:
        r["met"] = "yes" if eval(expr, {}, env) else "**no**"
    else:
        r["met"] = ""
    with open(results, "a", encoding="utf-8") as f:
        f.write(json.dumps(r) + "\n")
    print(f"{name}: {r['met'] or 'recorded'}", file=sys.stderr)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "parse":
        print(json.dumps(parse(sys.argv[2])))
    elif cmd == "table":
        print(table(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None,
                    sys.argv[4] if len(sys.argv) > 4 else None))
    elif cmd == "record":
        record(*sys.argv[2:])
    elif cmd == "watch":
        print(watch(sys.argv[2], sys.argv[3]))
    elif cmd == "count":
        print(count(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(f"unknown command {cmd}")
