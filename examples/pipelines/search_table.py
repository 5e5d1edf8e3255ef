#!/usr/bin/env python3
"""The tables of README.md's "Attribution and search" section, from a run of shirt-search.toml or
malignant-search.toml: every compressed arm's size, negative flips, critical-class recall and test-split gates; the
search's chosen configuration per seed; and where attribution pointed (mean harm per layer over seeds).

    /usr/bin/python3 search_table.py runs/shirt-search Shirt
"""
import json
import sqlite3
import statistics as st
import sys


def main(run, critical):
    db = sqlite3.connect(f"{run}/results.sqlite")
    report = json.load(open(f"{run}/report.json"))
    sizes = {}
    for arm, size in db.execute("select arm, size from cells where status = 'done'"):
        sizes.setdefault(arm, []).append(json.loads(size)["sparse_bytes"])
    stats = {}
    for metric, arm, result in db.execute("select metric_id, arm, result from metrics"):
        r = json.loads(result) if result else None
        if not r:
            continue
        if metric.endswith(".flips"):
            stats.setdefault(arm, {})["flips"] = r["summary"]["negative_flip_rate"]
        if metric.endswith(".paired_bootstrap"):
            for c in r["per_class"]:
                if c["name"] == critical:
                    stats.setdefault(arm, {}).update(change=c["recall_change"], upper=c["recall_drop_upper"])
    gates = {}
    for g in report["gates"]["results"]:
        gates.setdefault(g["arm"], []).append(g["passed"])
    dense = st.mean(sizes["dense"])
    print(f"| arm | size: non-zeros at their bits, of dense | negative flips | {critical} recall change "
          "[upper bound of its drop] | gates, test split |")
    print("|---|---:|---:|---:|---|")
    for arm, s in sizes.items():
        if arm == "dense":
            continue
        r = stats[arm]
        print(f"| {arm} | {100 * st.mean(s) / dense:.1f} % | {100 * r['flips']:.2f} % | "
              f"{100 * r['change']:+.2f} [{100 * r['upper']:.2f}] pts | {'passed' if all(gates[arm]) else 'FAILED'} |")
    print()
    for arm, seed, data in db.execute("select arm, seed, data from blobs where name = 'search' order by seed"):
        rec = json.loads(bytes(data))
        t = rec["trials"][rec["chosen"]] if rec["chosen"] is not None else None
        config = ", ".join(f"{k} {v}" for k, v in t["config"].items()) if t else "none passed"
        print(f"seed {seed}: {len(rec['trials'])} configurations, chose {config} "
              f"(validation: {100 * t['negative_flip_rate']:.2f} % negative flips)" if t else f"seed {seed}: {config}")
    print()
    for a in report.get("attribution", []):
        layers = a["aggregate"]["layers"]
        harm = ", ".join(f"{l['layer']} {l['harm']:.2f}" if l.get("harm") is not None else f"{l['layer']} -"
                         for l in layers)
        print(f"attribution {a['arm']}: mean harm {harm}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
