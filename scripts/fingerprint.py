#!/usr/bin/python3
"""SHA-256 of what a finished run computed, read from RUN_DIR/results.sqlite with sqlite3 only.

Mirrors tests/engine/run_fingerprint.h: each cell's arm, seed, status and compression records (in the order
Store::cells() lists them), its test-split predictions (the labels and fp16 probabilities blobs as stored), and every
metric result (metric id, arm, reference, result, in Store::metrics() order). Timings are left out: they differ
between any two runs. Two runs with equal fingerprints computed the same bits.

    /usr/bin/python3 scripts/fingerprint.py RUN_DIR [RUN_DIR...]      # one line per run: <sha256>  <run dir>
    /usr/bin/python3 scripts/fingerprint.py --extended RUN_DIR         # also memorization scores and model states

--extended adds a second hash over the memorization scores and every `blobs` row (model state, run-level blobs; the
attribution and search records without their "seconds").
"""
import hashlib
import json
import os
import sqlite3
import sys


def _connect(run_dir):
    path = os.path.join(run_dir, "results.sqlite")
    if not os.path.exists(path):
        raise SystemExit(f"fingerprint.py: no results.sqlite in {run_dir}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def fingerprint(run_dir):
    db = _connect(run_dir)
    h = hashlib.sha256()

    def feed(*parts):
        for p in parts:
            if p is None:
                h.update(b"\x00null")
            elif isinstance(p, bytes):
                h.update(len(p).to_bytes(8, "little") + p)
            else:
                s = str(p).encode()
                h.update(len(s).to_bytes(8, "little") + s)
        h.update(b"\n")

    # Store::cells(): arms table order, then arm name, then seed.
    cells = db.execute(
        "SELECT cells.arm, cells.seed, cells.status, cells.records FROM cells LEFT JOIN arms ON arms.name = cells.arm "
        "ORDER BY COALESCE(arms.position, 1000000000), cells.arm, cells.seed").fetchall()
    for arm, seed, status, records in cells:
        feed(arm, seed, status, records)
        row = db.execute("SELECT labels, probs FROM predictions WHERE arm = ? AND seed = ? AND split = 'test'",
                         (arm, seed)).fetchone()
        if row is not None:
            feed(b"labels", row[0], b"probs", row[1])
    # Store::metrics(): metric index, arms table order, arm, reference.
    for metric_id, arm, reference, result in db.execute(
            "SELECT metrics.metric_id, metrics.arm, metrics.reference, metrics.result FROM metrics "
            "LEFT JOIN arms ON arms.name = metrics.arm "
            "ORDER BY metrics.metric_index, COALESCE(arms.position, 1000000000), metrics.arm, metrics.reference"):
        feed(metric_id, arm, reference, result)
    return h.hexdigest()


# JSON blobs whose records carry their wall time ("seconds"): the attribution and search records.
_TIMED_BLOBS = {"attribution", "search"}


def _without_seconds(value):
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_seconds(v) for v in value]
    return value


def extended(run_dir):
    db = _connect(run_dir)
    h = hashlib.sha256()
    for split, n, scores in db.execute("SELECT split, n, scores FROM memorization ORDER BY split"):
        h.update(f"mem {split} {n}\n".encode() + scores)
    for arm, seed, name, data in db.execute("SELECT arm, seed, name, data FROM blobs ORDER BY arm, seed, name"):
        if name in _TIMED_BLOBS:  # the record as stored, less its timings (sorted keys: the same bytes for equal records)
            data = json.dumps(_without_seconds(json.loads(data)), sort_keys=True).encode()
        h.update(f"blob {arm} {seed} {name} {len(data)}\n".encode() + data)
    return h.hexdigest()


def main(argv):
    ext = "--extended" in argv
    dirs = [a for a in argv if a != "--extended"]
    if not dirs:
        raise SystemExit(__doc__)
    for d in dirs:
        line = fingerprint(d)
        if ext:
            line += "  ext:" + extended(d)
        print(f"{line}  {d}")


if __name__ == "__main__":
    main(sys.argv[1:])
