"""Turns the raw repetitions into medians, same-run ratios and the issue's targets, and renders them as markdown."""

import statistics

METRICS = (
    "req_s",
    "rows_s",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "server_cpu_ms_per_req",
    "client_cpu_ms_per_req",
    "foreign_cpu_pct",
)

# (numerator system, denominator system, workload, metric) measured in the same repetition
RATIOS = [
    ("ours", "reference", "seq1", "req_s"),
    ("ours", "reference", "par8", "req_s"),
    ("ours", "reference", "batch1000", "rows_s"),
    ("ours", "reference", "big100k", "rows_s"),
    ("ours", "reference", "proba1000", "rows_s"),
    ("ours-w2", "reference-w2", "seq1", "req_s"),
    ("ours-w2", "reference-w2", "par8", "req_s"),
    ("ours-w2", "reference-w2", "batch1000", "rows_s"),
    ("ours", "floor-http", "seq1", "req_s"),
    ("ours", "floor-http", "par8", "req_s"),
    ("ours", "floor-score", "seq1", "req_s"),
    ("ours", "floor-score", "par8", "req_s"),
    ("ours", "floor-compute", "batch1000", "rows_s"),
    ("ours", "floor-compute", "big100k", "rows_s"),
    ("ours", "floor-compute", "proba1000", "rows_s"),
    ("ours", "mlflow", "seq1", "req_s"),
    ("ours", "mlflow", "par8", "req_s"),
    ("ours", "mlflow", "batch1000", "rows_s"),
    ("ours", "mlflow", "proba1000", "rows_s"),
    ("reference", "floor-http", "seq1", "req_s"),
    ("reference", "floor-compute", "batch1000", "rows_s"),
    ("nocode-v2", "nocode", "seq1", "req_s"),
    ("nocode-v2", "nocode", "batch1000", "rows_s"),
    ("nocode-mlflow", "nocode", "seq1", "req_s"),
    ("nocode-mlflow", "nocode", "batch1000", "rows_s"),
]

# (ratio key or special name, threshold, description)
TARGETS = [
    ("ours/reference seq1 req_s", 3.0, "1-row sequential ≥ 3× the reference at its defaults"),
    ("ours/reference par8 req_s", 3.0, "1-row 8 connections ≥ 3× the reference at its defaults"),
    ("ours-w2/reference-w2 seq1 req_s", 2.0, "1-row sequential ≥ 2× the reference at equal worker count (2)"),
    ("ours-w2/reference-w2 par8 req_s", 2.0, "1-row 8 connections ≥ 2× the reference at equal worker count (2)"),
    ("ours/reference batch1000 rows_s", 3.0, "1000-row batch ≥ 3× the reference's rows/s"),
    ("ours/reference big100k rows_s", 3.0, "100 000-row request ≥ 3× the reference's rows/s"),
    ("ours/reference proba1000 rows_s", 3.0, "predict_proba 1000-row batch ≥ 3× the reference's rows/s"),
    ("ours/floor-compute batch1000 rows_s", 0.8, "1000-row batch ≥ 0.8× the compute floor"),
    ("ours/floor-http seq1 req_s", 0.7, "1-row sequential ≥ 0.7× the HTTP floor"),
    ("ours/floor-http par8 req_s", 0.7, "1-row 8 connections ≥ 0.7× the HTTP floor"),
]

# Issue 15, by server CPU per request (ours / the other, same repetition): (ratio key, at most, description)
CPU_TARGETS = [
    ("ours/reference seq1 req_s", 0.65, "1-row sequential: server CPU/request ≤ 0.65× the reference's (1 worker)"),
    ("ours/reference par8 req_s", 0.65, "1-row 8 connections: server CPU/request ≤ 0.65× the reference's (1 worker)"),
    ("ours-w2/reference-w2 seq1 req_s", 0.65, "1-row sequential: CPU/request ≤ 0.65× the reference's (2 workers)"),
    ("ours-w2/reference-w2 par8 req_s", 0.65, "1-row 8 connections: CPU/request ≤ 0.65× the reference's (2 workers)"),
    ("ours/floor-score seq1 req_s", 1.15, "1-row sequential: server CPU/request ≤ 1.15× the scoring floor's"),
    ("ours/floor-score par8 req_s", 1.15, "1-row 8 connections: server CPU/request ≤ 1.15× the scoring floor's"),
]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _valid(reps: list[dict]) -> list[dict]:
    """The repetitions in which every request got a 200: only those are measurements of scoring."""
    return [r for r in reps if not r["non200"] and not r["errors"]]


def summarize(runs: dict) -> dict:
    """Median of each metric over the valid repetitions, plus the summed non-200 and error counts of all of them,
    per system/workload."""
    out = {}
    for system, by_workload in runs.items():
        for workload, reps in by_workload.items():
            valid = _valid(reps)
            entry = {m: _median([r[m] for r in valid]) for m in METRICS}
            entry.update(
                reps=len(reps),
                valid_reps=len(valid),
                client=reps[0]["client"],
                requests=sum(r["requests"] for r in reps),
                non200=sum(r["non200"] for r in reps),
                errors=sum(r["errors"] for r in reps),
                first_non200=next((r["first_non200"] for r in reps if r.get("first_non200")), ""),
            )
            out.setdefault(system, {})[workload] = entry
    return out


def ratios(runs: dict) -> dict:
    """Median over repetitions of the per-repetition ratio (pairs from the same repetition, so drift cancels).

    Only repetitions valid on both sides are paired. ``cpu_median`` is the same comparison by server CPU per
    request (denominator's CPU / numerator's CPU): it does not depend on how busy the machine was, so it is the
    check on a throughput ratio taken on a noisy machine.
    """
    out = {}
    for num, den, workload, metric in RATIOS:
        a = {r["rep"]: r for r in _valid(runs.get(num, {}).get(workload, []))}
        b = {r["rep"]: r for r in _valid(runs.get(den, {}).get(workload, []))}
        both = sorted(set(a) & set(b))
        pairs = [a[k][metric] / b[k][metric] for k in both if b[k][metric]]
        cpu = [
            b[k]["server_cpu_ms_per_req"] / a[k]["server_cpu_ms_per_req"] for k in both if a[k]["server_cpu_ms_per_req"]
        ]
        if pairs:
            out[f"{num}/{den} {workload} {metric}"] = {
                "median": statistics.median(pairs),
                "per_rep": pairs,
                "cpu_median": statistics.median(cpu) if cpu else None,
            }
    return out


def _memory_added_by_second_worker(instances: dict) -> dict | None:
    one, two = instances.get("ours-preload"), instances.get("ours-w2-preload")
    if not (one and two and one["memory"] and two["memory"]):
        return None
    pss = _median([m["total_pss_mb"] for m in two["memory"]]) - _median([m["total_pss_mb"] for m in one["memory"]])
    rss = _median([m["total_rss_mb"] for m in two["memory"]]) - _median([m["total_rss_mb"] for m in one["memory"]])
    return {"pss_mb": pss, "rss_mb": rss}


def cpu_at_most(ratio_table: dict, key: str, limit: float, text: str) -> dict:
    """A target on server CPU per request: the ratio ``key``'s numerator over its denominator (median of the
    same-repetition pairs) at most ``limit``."""
    inverse = ratio_table.get(key, {}).get("cpu_median")
    value = 1 / inverse if inverse else None
    return {
        "target": text,
        "key": f"{key} cpu",
        "threshold": limit,
        "value": value,
        "met": None if value is None else value <= limit,
    }


def evaluate_targets(ratio_table: dict, instances: dict) -> list[dict]:
    """Each target with its measured value and whether it is met (None when it could not be measured)."""
    results = []
    for key, threshold, text in TARGETS:
        value = ratio_table.get(key, {}).get("median")
        results.append(
            {
                "target": text,
                "key": key,
                "threshold": threshold,
                "value": value,
                "cpu_value": ratio_table.get(key, {}).get("cpu_median"),
                "met": None if value is None else value >= threshold,
            }
        )
    results += [cpu_at_most(ratio_table, key, limit, text) for key, limit, text in CPU_TARGETS]
    ours = _median(instances.get("ours", {}).get("cold_start_s", []))
    ref = _median(instances.get("reference", {}).get("cold_start_s", []))
    results.append(
        {
            "target": "cold start to ready not slower than the reference (ours / reference ≤ 1)",
            "key": "cold_start ours/reference",
            "threshold": 1.0,
            "value": ours / ref if ours and ref else None,
            "met": None if not (ours and ref) else ours <= ref,
        }
    )
    added = _memory_added_by_second_worker(instances)
    results.append(
        {
            "target": "a second worker adds ≤ 60 MB (WORKER_PRELOAD=true; measured as PSS, RSS double-counts "
            "pages shared with the master)",
            "key": "second_worker_mb",
            "threshold": 60.0,
            "value": added["pss_mb"] if added else None,
            "rss_delta_mb": added["rss_mb"] if added else None,
            "met": None if added is None else added["pss_mb"] <= 60.0,
        }
    )
    return results


def _fmt(value, digits=1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(doc: dict) -> str:
    """The report as markdown: throughput/latency table, start-up/memory table, ratios and targets."""
    meta = doc["meta"]
    lines = [
        f"## Benchmark {meta['date']} ({meta['cores']} cores, {meta['client']}, median of {meta['reps']} "
        f"repetition(s))",
        "",
        "| system | workload | req/s | rows/s | p50 ms | p90 ms | p99 ms | server CPU ms/req | client CPU ms/req "
        "| other load % | non-200 / errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for system, by_workload in doc["summary"].items():
        for workload, s in by_workload.items():
            lines.append(
                f"| {system} | {workload} | {_fmt(s['req_s'])} | {_fmt(s['rows_s'], 0)} | {_fmt(s['p50_ms'], 2)} "
                f"| {_fmt(s['p90_ms'], 2)} | {_fmt(s['p99_ms'], 2)} | {_fmt(s['server_cpu_ms_per_req'], 2)} "
                f"| {_fmt(s['client_cpu_ms_per_req'], 2)} | {_fmt(s['foreign_cpu_pct'], 0)} "
                f"| {s['non200']} / {s['errors']} |"
            )
    lines += [
        "",
        "| instance | what | workers | cold start s | RSS total MB | RSS per worker MB | PSS total MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, info in doc["instances"].items():
        mem = info["memory"]
        per_worker = _median([_median(m["worker_rss_mb"]) for m in mem]) if mem else None
        lines.append(
            f"| {name} | {info['label']} | {_fmt(_median([m['workers'] for m in mem]) if mem else None, 0)} "
            f"| {_fmt(_median(info['cold_start_s']), 2)} "
            f"| {_fmt(_median([m['total_rss_mb'] for m in mem]) if mem else None, 0)} "
            f"| {_fmt(per_worker, 0)} | {_fmt(_median([m['total_pss_mb'] for m in mem]) if mem else None, 0)} |"
        )
    lines += [
        "",
        "| ratio A/B (same repetition) | median | per repetition | by server CPU per request (B's / A's) |",
        "|---|---|---|---|",
    ]
    for key, r in doc["ratios"].items():
        per_rep = ", ".join(f"{v:.2f}" for v in r["per_rep"])
        lines.append(f"| {key} | {r['median']:.2f} | {per_rep} | {_fmt(r['cpu_median'], 2)} |")
    lines += ["", "| target | measured | met | by server CPU per request |", "|---|---|---|---|"]
    for t in doc["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {_fmt(t['value'], 2)} | {met} | {_fmt(t.get('cpu_value'), 2)} |")
    failures = [f"- {name}: {f}" for name, info in doc["instances"].items() for f in info["failures"]]
    failures += [
        f"- {system} {workload}: {s['non200']} non-200 answers, the first: {s['first_non200']}"
        for system, by_workload in doc["summary"].items()
        for workload, s in by_workload.items()
        if s["non200"]
    ]
    if failures:
        lines += ["", "Failures:", *failures]
    return "\n".join(lines) + "\n"
