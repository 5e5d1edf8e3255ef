#!/usr/bin/python3
"""The statistics behind examples/pipelines/README.md, computed from the example runs.

    /usr/bin/python3 examples/pipelines/findings.py [RUNS_DIR]      # default: examples/pipelines/runs

Reads each run's report.json (what compaudit computed: PIE nulls, Welch tests, trend tests, memorization
intervals) and results.sqlite (every model's test predictions), and adds the comparisons the engine does not make
by itself because they are between arms or between runs:
- paired differences between two arms of the same seeds (seed k of both arms starts from the same dense model),
  with a Student-t 95% interval and a paired t-test;
- the long-tail contrast of finding 2 (do rare classes lose more recall than common ones?) with a power
  calculation: the K at which a paired t-test on the observed per-seed variance reaches power 0.8;
- the augmentation sweep of finding 7 (best magnitude per sparsity, and whether the benefit of a stronger
  magnitude falls with sparsity: a within-seed permutation test of Spearman's rho, as compaudit's trend test).
Every number is a pure function of the stored runs: the same runs give the same output.
"""
import json
import math
import os
import sqlite3
import sys
import warnings

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

ALPHA = 0.05
warnings.filterwarnings("ignore", category=RuntimeWarning)   # scipy's non-central t at huge effects
PERMUTATIONS = 10000


# ---------------------------------------------------------------- reading runs

class Run:
    """One run directory: its report.json and the test predictions of every (arm, seed) in results.sqlite."""

    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "report.json")) as f:
            self.report = json.load(f)
        self.name = self.report["run"]["name"]
        self.arms = {a["name"]: a for a in self.report["arms"]}
        self._db = sqlite3.connect(f"file:{os.path.join(path, 'results.sqlite')}?mode=ro", uri=True)
        split = self.report["data"].get("evaluation_split", "test")
        (blob,) = self._db.execute("select targets from splits where name = ?", (split,)).fetchone()
        self.targets = np.frombuffer(blob, dtype="<i2").astype(np.int64)
        self.split = split

    def predictions(self, arm):
        """{seed: predicted labels on the evaluation split} for the done cells of `arm`."""
        out = {}
        for seed, label_bytes, labels in self._db.execute(
                "select seed, label_bytes, labels from predictions where arm = ? and split = ?", (arm, self.split)):
            out[seed] = np.frombuffer(labels, dtype="i1" if label_bytes == 1 else "<i2").astype(np.int64)
        return out

    def probabilities(self, arm):
        """{seed: [N, C] float32 probabilities} (stored as fp16) for arms whose metrics asked for them."""
        out = {}
        for seed, n, c, probs in self._db.execute(
                "select seed, n, num_classes, probs from predictions where arm = ? and split = ?", (arm, self.split)):
            if probs is not None:
                out[seed] = np.frombuffer(probs, dtype="<f2").astype(np.float32).reshape(n, c)
        return out

    def top1(self, arm):
        return {m["seed"]: m["top1"] for m in self.arms[arm]["models"]}

    def metric(self, arm, suffix):
        """The result of the metric whose id ends in `suffix`, against the arm's own reference."""
        arm_rec = self.arms[arm]
        results = [m for m in arm_rec["metrics"] if m["id"].endswith(suffix)]
        own = [m for m in results if m["reference"] == arm_rec["reference"]]
        chosen = (own or results or [None])[0]
        return chosen["result"] if chosen else None

    def findings(self, kind, subject=None):
        return [f for f in self.report["findings"]
                if f["kind"] == kind and (subject is None or f["subject"] == subject)]


def load_runs(root):
    runs = {}
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if os.path.isfile(os.path.join(path, "report.json")) and os.path.isfile(os.path.join(path, "results.sqlite")):
            run = Run(path)
            runs[run.name] = run
        elif entry == "augment-sweep":  # augment_sweep.py's runs: runs/augment-sweep/M<m>/
            for sub in sorted(os.listdir(path)):
                p = os.path.join(path, sub)
                if os.path.isfile(os.path.join(p, "report.json")):
                    run = Run(p)
                    runs[run.name] = run
    return runs


# ---------------------------------------------------------------- statistics

def t_interval(values, confidence=0.95):
    v = np.asarray(values, dtype=float)
    n = len(v)
    mean = float(v.mean())
    if n < 2:
        return mean, None, None
    sd = float(v.std(ddof=1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return mean, [mean - half, mean + half], sd


def paired(a, b):
    """a − b over the seeds both have: mean, 95% t-interval, paired t-test p, K, sd of the differences."""
    seeds = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)
    mean, ci, sd = t_interval(d)
    p = float(stats.ttest_1samp(d, 0.0).pvalue) if len(d) > 1 and sd and sd > 0 else None
    return {"diff": mean, "ci": ci, "p": p, "k": len(d), "sd": sd, "k_needed": k_needed(mean, sd)}


def k_needed(mean, sd, power=0.8, alpha=ALPHA):
    """Smallest K at which a two-sided paired (one-sample) t-test detects `mean` with per-seed sd `sd`."""
    if sd is None or sd == 0 or mean == 0:
        return None
    effect = abs(mean) / sd
    k = TTestPower().solve_power(effect_size=effect, alpha=alpha, power=power, alternative="two-sided")
    return int(math.ceil(k)) if k < 1e6 else None


def block_spearman(levels, values, permutations=PERMUTATIONS, seed=0):
    """Spearman's rho between level and value over seeds x levels; under 'no trend' the level labels are
    exchangeable within a seed, so each permutation shuffles them within every seed. values: [S, L]."""
    values = np.asarray(values, dtype=float)
    s, l = values.shape
    x = np.tile(np.asarray(levels, dtype=float), s)
    rho = stats.spearmanr(x, values.ravel()).statistic
    rng = np.random.RandomState(seed)
    count = 0
    for _ in range(permutations):
        shuffled = np.stack([row[rng.permutation(l)] for row in values])
        r = stats.spearmanr(x, shuffled.ravel()).statistic
        count += abs(r) >= abs(rho) - 1e-12
    return float(rho), (1 + count) / (1 + permutations)


def modal(labels, num_classes):
    """Modal label per example over models [K, N]; ties to the largest label (compaudit's rule)."""
    counts = np.zeros((num_classes, labels.shape[1]), dtype=np.int64)
    for c in range(num_classes):
        counts[c] = (labels == c).sum(axis=0)
    return num_classes - 1 - np.argmax(counts[::-1], axis=0)


def recall_per_class(pred, targets, num_classes):
    return np.array([(pred[targets == c] == c).mean() for c in range(num_classes)])


def fmt_pct(x, digits=2):
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def fmt_pp(x, digits=2):
    return "n/a" if x is None else f"{100 * x:+.{digits}f} pp"


def fmt_ci_pp(ci, digits=2):
    return "n/a" if ci is None else f"[{100 * ci[0]:+.{digits}f}, {100 * ci[1]:+.{digits}f}] pp"


def fmt_p(p):
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-4 else "< 1e-4"


def describe_paired(label, r):
    return (f"{label}: {fmt_pp(r['diff'])}, 95% CI {fmt_ci_pp(r['ci'])}, paired t p = {fmt_p(r['p'])}, "
            f"K = {r['k']}" + (f", K for power 0.8: {r['k_needed']}" if r.get("k_needed") else ""))


def pie_line(run, arm):
    pie = run.metric(arm, ".pie")
    if pie is None:
        return None, f"{arm}: no PIE result"
    s, ci = pie["summary"], pie.get("intervals", {}).get("pie_fraction_ci")
    text = (f"{arm} vs {run.arms[arm]['reference']}: PIE {fmt_pct(s['pie_fraction'])} "
            f"[95% CI {fmt_pct(ci[0]) if ci else 'n/a'}, {fmt_pct(ci[1]) if ci else 'n/a'}], "
            f"floor {fmt_pct(s['pie_fraction_null_mean'])}, p = {fmt_p(s['pie_p_value'])}, "
            f"{'above noise' if s['above_noise'] else 'not above noise'}")
    return pie, text


def welch_line(run, arm):
    w = run.metric(arm, ".recall_welch")
    if w is None:
        return None, f"{arm}: no Welch result"
    s = w["summary"]
    impacted = [c["name"] for c in w["per_class"] if c.get("impacted")]
    tested = [c for c in w["per_class"] if c.get("p") is not None]
    bh = multipletests([c["p"] for c in tested], alpha=w["alpha"], method="fdr_bh")[0] if tested else []
    bh_names = [c["name"] for c, hit in zip(tested, bh) if hit]
    text = (f"{arm}: impacted {s['impacted_classes']} ({w['correction']}, alpha {w['alpha']}) {impacted}; "
            f"status {s['status']}; K needed {s.get('k_needed_min')}..{s.get('k_needed_max')}; "
            f"with Benjamini–Hochberg: {len(bh_names)} {bh_names}; p of the impacted: "
            + ", ".join(f"{c['name']} {fmt_p(c['p'])} (d {100 * c['d']:+.2f} pp)" for c in w["per_class"]
                        if c.get("impacted")))
    return w, text


def family(run, base):
    """Arms of one swept family, by level."""
    arms = [a for a in run.report["arms"] if a["base_name"] == base and a["sweep"]]
    return sorted(arms, key=lambda a: a["level"])


# ---------------------------------------------------------------- per pipeline

def pie_audit(run, out):
    ref_of = {a: run.arms[a]["reference"] for a in run.arms}
    prune = family(run, "prune")
    out.append(f"## {run.name} (K = {len(run.report['run']['settings']['seeds'])})")
    out.append("Finding 1 — top-1 of each pruned arm minus its control, paired by seed:")
    for a in prune:
        out.append("  " + describe_paired(a["name"] + " − " + ref_of[a["name"]],
                                           paired(run.top1(a["name"]), run.top1(ref_of[a["name"]]))))
    for a in run.report["arms"]:
        if a["reference"] and not a["sweep"] and a["reference"] == "dense":
            out.append("  " + describe_paired(a["name"] + " − dense", paired(run.top1(a["name"]), run.top1("dense"))))
    out.append("PIE fractions (engine: bootstrap CI over seed pairs, permutation floor and p):")
    for a in run.report["arms"][1:]:
        out.append("  " + pie_line(run, a["name"])[1])
    for f in run.findings("pie_trend"):
        out.append(f"  trend {f['subject']}: {f['text']}")
    out.append("Finding 2 (first half) — impacted classes:")
    for a in run.report["arms"][1:]:
        out.append("  " + welch_line(run, a["name"])[1])
    for f in run.findings("impacted_trend"):
        out.append(f"  {f['text']}")
    class_disparity_trend(run, prune, out)
    pie_removal(run, out)


def class_disparity_trend(run, prune, out):
    """Per seed and level, the spread over classes of the recall change against the reference (what makes a class
    'impacted'); tested for a trend across levels within seeds, as compaudit tests the PIE trend."""
    if len(prune) < 2:
        return
    nc = run.report["data"]["num_classes"]
    refs = {a["name"]: run.predictions(a["reference"]) for a in prune}
    cands = {a["name"]: run.predictions(a["name"]) for a in prune}
    seeds = sorted(set.intersection(*[set(cands[a["name"]]) & set(refs[a["name"]]) for a in prune]))
    values = np.zeros((len(seeds), len(prune)))
    for j, a in enumerate(prune):
        for i, s in enumerate(seeds):
            delta = (recall_per_class(cands[a["name"]][s], run.targets, nc)
                     - recall_per_class(refs[a["name"]][s], run.targets, nc))
            values[i, j] = np.sqrt(np.mean((delta - delta.mean()) ** 2))
    rho, p = block_spearman([a["level"] for a in prune], values)
    means = " → ".join(f"{100 * v:.2f}" for v in values.mean(axis=0))
    out.append(f"  class-level disparity (rms over classes of the recall change minus its mean, pp): {means}; "
               f"Spearman ρ = {rho:+.2f} with level, within-seed permutation p = {fmt_p(p)} "
               f"({len(seeds)} seeds × {len(prune)} levels)")


def pie_removal(run, out):
    out.append("Finding 3 — top-1 without the PIEs (gain = without − with), each population:")
    for a in run.report["arms"][1:]:
        pie = run.metric(a["name"], ".pie")
        if not pie:
            continue
        s = pie["summary"]
        if s.get("top1_ref_without_pies") is None:
            continue
        out.append(f"  {a['name']} (PIEs {fmt_pct(s['pie_fraction'])}): reference "
                   f"{fmt_pp(s['top1_ref_without_pies'] - s['top1_ref'])}, candidate "
                   f"{fmt_pp(s['top1_cand_without_pies'] - s['top1_cand'])}")


def quant_vs_prune(run, out):
    out.append(f"## {run.name} (K = {len(run.report['run']['settings']['seeds'])})")
    for a in run.report["arms"][1:]:
        out.append("  " + pie_line(run, a["name"])[1])
        out.append("  " + welch_line(run, a["name"])[1])
        size = run.metric(a["name"], ".size")
        if size:
            s = size["summary"]
            out.append(f"    size: bytes ratio {s.get('bytes_ratio')}, sparse bytes ratio {s.get('sparse_bytes_ratio')}, "
                       f"norm loss mean {s.get('norm_loss_mean')}, " +
                       ", ".join(f"{k} {v}" for k, v in s.items() if k.startswith("realized")))
    # per-seed disagreement with the dense model of the same seed: int8 against 90% pruning
    per_seed = {}
    for a in run.report["arms"][1:]:
        pie = run.metric(a["name"], ".pie")
        if pie:
            per_seed[a["name"]] = {r["seed"]: r["disagreement"] for r in pie["per_seed"]}
    q8 = next((n for n in per_seed if "int8" in n), None)
    p90 = next((n for n in per_seed if n.endswith("0.9")), None)
    if q8 and p90:
        out.append("  Finding 4 — per-seed disagreement with the same seed's dense model: " +
                   describe_paired(f"{p90} − {q8}", paired(per_seed[p90], per_seed[q8])))


def long_tail(run, out):
    out.append(f"## {run.name} (K = {len(run.report['run']['settings']['seeds'])})")
    nc = run.report["data"]["num_classes"]
    names = run.report["data"]["class_names"]
    train_counts = next(s["class_counts"] for s in run.report["data"]["splits"] if s["name"] == "train")
    order = np.argsort(train_counts)          # rarest first
    rare, common = order[: nc // 2], order[nc // 2:]
    out.append(f"  training examples per class: {train_counts}; rare half: {[names[c] for c in rare]}")
    for a in run.report["arms"][1:]:
        out.append("  " + pie_line(run, a["name"])[1])
        out.append("  " + welch_line(run, a["name"])[1])
    for f in run.findings("impacted_trend"):
        out.append(f"  {f['text']}")
    prune = family(run, "prune")
    class_disparity_trend(run, prune, out)
    out.append("Finding 2 on long-tailed data — does recall fall more on the rare half of the classes?")
    for a in prune:
        name, ref = a["name"], a["reference"]
        cand, refp = run.predictions(name), run.predictions(ref)
        seeds = sorted(set(cand) & set(refp))
        contrast = {}
        for s in seeds:
            delta = (recall_per_class(cand[s], run.targets, nc) - recall_per_class(refp[s], run.targets, nc))
            contrast[s] = delta[rare].mean() - delta[common].mean()
        r = paired(contrast, {s: 0.0 for s in seeds})
        out.append("  " + describe_paired(f"{name}: recall change rare − common (vs {ref})", r))
        w = run.metric(name, ".recall_welch")
        rows = sorted(w["per_class"], key=lambda c: train_counts[c["class"]])
        out.append("    per class (rarest first) d / p / k_needed: " + "; ".join(
            f"{c['name']} {100 * c['d']:+.2f} / {fmt_p(c['p'])} / {c.get('k_needed')}" for c in rows))
        pie = run.metric(name, ".pie")
        share = {c["class"]: c["pie_fraction"] or 0.0 for c in pie["per_class"]}
        data_share = {c["class"]: c["data_fraction"] for c in pie["per_class"]}
        rare_share = sum(share[c] for c in rare)
        ratio = [share[c] / data_share[c] for c in range(nc)]
        rho, p = stats.spearmanr(train_counts, ratio)
        out.append(f"    PIEs on the rare half: {fmt_pct(rare_share)} of PIEs (data share "
                   f"{fmt_pct(sum(data_share[c] for c in rare))}); Spearman ρ(training count, PIE over-index) = "
                   f"{rho:+.2f}, p = {fmt_p(p)} over {nc} classes")
        rare_share_null(run, name, ref, rare, out)


def rare_share_null(run, name, ref, rare, out, bootstrap=1000):
    """The rare half's share of the PIEs: a bootstrap interval over seed pairs and a floor from within-pair swaps
    (the PIE null compaudit uses), so the share is compared with what seed noise alone gives."""
    nc = run.report["data"]["num_classes"]
    cand, refp = run.predictions(name), run.predictions(ref)
    seeds = sorted(set(cand) & set(refp))
    a = np.stack([refp[s] for s in seeds])
    b = np.stack([cand[s] for s in seeds])
    is_rare = np.isin(run.targets, rare)

    def share(x, y):
        pies = modal(x, nc) != modal(y, nc)
        return is_rare[pies].mean() if pies.any() else np.nan

    observed = share(a, b)
    rng = np.random.RandomState(0)
    boots, nulls = [], []
    for _ in range(bootstrap):
        idx = rng.randint(0, len(seeds), len(seeds))
        boots.append(share(a[idx], b[idx]))
        swap = rng.randint(0, 2, len(seeds)).astype(bool)
        x = np.where(swap[:, None], b, a)
        y = np.where(swap[:, None], a, b)
        nulls.append(share(x, y))
    lo, hi = np.nanquantile(boots, [0.025, 0.975])
    out.append(f"    rare half's share of PIEs {fmt_pct(observed)} [95% bootstrap CI {fmt_pct(lo)}, {fmt_pct(hi)}]; "
               f"under within-pair swaps (seed noise) {fmt_pct(float(np.nanmean(nulls)))}, "
               f"share of swaps at least as rare-heavy: p = {fmt_p((1 + np.sum(np.array(nulls) >= observed)) / (1 + bootstrap))}")


def memorization(run, out):
    out.append("Finding 5 — mismatch against memorization (engine: bootstrap over training examples):")
    for a in run.report["arms"][1:]:
        m = run.metric(a["name"], ".memorization")
        if not m:
            continue
        s, iv = m["summary"], m.get("intervals", {})
        bins = ", ".join(f"[{b['lo']:.1f},{b['hi']:.1f}) {fmt_pct(b['mismatch_rate'], 1)} (n={b['n']})"
                         for b in m["bins"] if b["n"])
        rho_ci = iv.get("spearman")
        auc_ci = iv.get("auc")
        out.append(f"  {a['name']} vs {a['reference']}: mismatch {fmt_pct(s['mismatch_rate'])}, Spearman "
                   f"{s['spearman']:+.3f} [{rho_ci[0]:+.3f}, {rho_ci[1]:+.3f}], AUC {s['auc']:.3f} "
                   f"[{auc_ci[0]:.3f}, {auc_ci[1]:.3f}], mean mem mismatched {s['mean_mem_mismatched']:.3f} vs "
                   f"matched {s['mean_mem_matched']:.3f}")
        out.append(f"    bins: {bins}")
        if "subsets" in m:
            out.append(f"    subsets: {m['subsets']}")


def classdep(run, out):
    out.append(f"## {run.name} (K = {len(run.report['run']['settings']['seeds'])})")
    per = {}
    for a in run.report["arms"]:
        cc = run.metric(a["name"], ".critical_class")
        if not cc:
            continue
        per[a["name"]] = {m["seed"]: m for m in cc["models"]["candidate"]}
        s = cc["summary"]
        out.append(f"  {a['name']} (ref {a['reference'] or '-'}): top-1 {fmt_pct(a['top1']['mean'])}, FN "
                   f"{s['fn_cand_mean']:.2f}, FP {s['fp_cand_mean']:.2f}, AUC {s['auc_cand_mean']:.4f}")
        for stat, d in sorted((cc.get("paired") or {}).items()):   # the metric's own paired tests vs the reference
            if isinstance(d, dict) and d.get("n"):
                out.append(f"    vs {a['reference']}: {stat} {d['mean']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}], "
                           f"p = {fmt_p(d['p'])}, K = {d['n']}" if d.get("lo") is not None else
                           f"    vs {a['reference']}: {stat} {d['mean']:+.4f}, p = {fmt_p(d.get('p'))}")
        verdicts = {k: v for k, v in s.items() if isinstance(v, bool)}
        if verdicts:
            out.append(f"    verdicts: {verdicts}")
    for level in sorted({a["level"] for a in run.report["arms"] if a["base_name"] == "classdep"}):
        cd = next(a["name"] for a in run.report["arms"] if a["base_name"] == "classdep" and a["level"] == level)
        lt = next((a["name"] for a in run.report["arms"] if a["base_name"] == "lottery" and a["level"] == level), None)
        if not lt:
            continue
        for key in ("fn", "fp", "auc"):
            r = paired({s: m[key] for s, m in per[cd].items()}, {s: m[key] for s, m in per[lt].items()})
            unit = "" if key == "auc" else " examples"
            ci = r["ci"]
            out.append(f"  {cd} − {lt}: {key} {r['diff']:+.4f}{unit}, 95% CI [{ci[0]:+.4f}, {ci[1]:+.4f}], "
                       f"paired t p = {fmt_p(r['p'])}, K = {r['k']}")
        matched_fpr(run, cd, lt, out)


def matched_fpr(run, cd, lt, out, target=0.05):
    """FNR of the critical class at the threshold where each model's FPR is at most `target` (threshold-free of
    the default 0.5 cut that the class weight moves)."""
    settings = run.metric(cd, ".critical_class")
    positive = settings.get("positive_class", 0)
    pa, pb = run.probabilities(cd), run.probabilities(lt)
    y = run.targets == positive

    def fnr_at(prob):
        score = prob[:, positive]
        neg = np.sort(score[~y])[::-1]
        allowed = int(math.floor(target * len(neg)))
        thr = neg[allowed] if allowed < len(neg) else -np.inf   # predict positive only above this score
        return float(np.mean(score[y] <= thr))

    if not pa or not pb:
        return
    r = paired({s: fnr_at(p) for s, p in pa.items()}, {s: fnr_at(p) for s, p in pb.items()})
    out.append(f"  FNR at FPR ≤ {target:.0%} (fp16 probabilities from the store): " +
               describe_paired(f"{cd} − {lt}", r))


def truncation(run, out):
    out.append(f"## {run.name} (K = {len(run.report['run']['settings']['seeds'])})")
    levels = sorted({a["level"] for a in run.report["arms"] if a["sweep"]})
    for lv in levels:
        arm = {a["base_name"]: a["name"] for a in run.report["arms"] if a["sweep"] and a["level"] == lv}
        if "deep" in arm and "early" in arm:
            r = paired(run.top1(arm["deep"]), run.top1(arm["early"]))
            out.append("  Finding 8: " + describe_paired(f"{arm['deep']} − {arm['early']} top-1", r))
        for base in ("early", "deep", "early-ft", "deep-ft"):
            if base in arm:
                ref = run.arms[arm[base]]["reference"]
                out.append("    " + describe_paired(f"{arm[base]} − {ref}", paired(run.top1(arm[base]), run.top1(ref))))
                size = run.metric(arm[base], ".size")
                if size:
                    s = size["summary"]
                    out.append(f"      norm loss mean {s.get('norm_loss_mean')}, max {s.get('norm_loss_max')}; " +
                               ", ".join(f"{k} {v}" for k, v in s.items() if "realized" in k or "rank" in k))
    for a in run.report["arms"][1:]:
        out.append("  " + pie_line(run, a["name"])[1])


def augment_pair(constant, schedule, out):
    out.append(f"## augmentation: constant vs decreasing schedule (K = {len(constant.report['run']['settings']['seeds'])})")
    same = all(np.array_equal(constant.predictions("dense")[s], schedule.predictions("dense")[s])
               for s in constant.predictions("dense"))
    out.append(f"  dense populations identical bit for bit: {same}")
    for a in family(constant, "prune"):
        r = paired(schedule.top1(a["name"]), constant.top1(a["name"]))
        out.append("  " + describe_paired(f"{a['name']}: schedule − constant top-1", r))


def sweep_members(runs, prefix, base):
    """[(M, run)] of one sweep: runs named <prefix>-M<m> (augment_sweep.py) and the base run as M = 9."""
    sweep = [(float(n[len(prefix) + 2:]), r) for n, r in runs.items() if n.startswith(prefix + "-M")]
    if base in runs:
        sweep.append((9.0, runs[base]))
    return sorted(sweep, key=lambda x: x[0])


def schedule_vs_sweep(schedule, sweep, out):
    """The schedule against every constant magnitude of the sweep: does it beat the best constant, not only M = 9?"""
    for a in family(schedule, "prune"):
        for m, r in sweep:
            out.append("  " + describe_paired(f"{a['name']}: schedule − constant M={m:g}",
                                               paired(schedule.top1(a["name"]), r.top1(a["name"]))))


def augment_sweep(sweep, title, out):
    """Pruned arms fine-tuned at constant M = m from the same dense models (M = 9), one run per m."""
    if len(sweep) < 2:
        return
    mags = [m for m, _ in sweep]
    out.append(f"## augmentation sweep ({title}) over M = {mags} (K = {len(sweep[0][1].report['run']['settings']['seeds'])})")
    arms = [a["name"] for a in family(sweep[0][1], "prune")]
    levels = [a["level"] for a in family(sweep[0][1], "prune")]
    seeds = sorted(set.intersection(*[set(r.top1(a)) for _, r in sweep for a in arms]))
    table = np.array([[[r.top1(a)[s] for s in seeds] for a in arms] for _, r in sweep])   # [M, level, seed]
    for j, a in enumerate(arms):
        means = table[:, j, :].mean(axis=1)
        best = int(np.argmax(means))
        # how often each M is best when the seeds are resampled
        rng = np.random.RandomState(0)
        wins = np.zeros(len(mags))
        for _ in range(1000):
            idx = rng.randint(0, len(seeds), len(seeds))
            wins[np.argmax(table[:, j, idx].mean(axis=1))] += 1
        row = ", ".join(f"M={m:g}: {100 * v:.2f}%" for m, v in zip(mags, means))
        runner = int(np.argsort(means)[-2])
        r = paired(dict(zip(seeds, table[best, j])), dict(zip(seeds, table[runner, j])))
        out.append(f"  {a}: {row}; best M = {mags[best]:g} (best in {wins[best] / 10:.0f}% of seed resamples); "
                   + describe_paired(f"best − runner-up (M={mags[runner]:g})", r))
    # the benefit of the strongest magnitude over none, per seed and level: does it fall with sparsity?
    gain = (table[-1] - table[0]).T                                   # [seed, level]
    rho, p = block_spearman(levels, gain)
    out.append(f"  gain of M={mags[-1]:g} over M={mags[0]:g} by level: " +
               " → ".join(f"{100 * g:+.2f} pp" for g in gain.mean(axis=0)) +
               f"; Spearman ρ with level {rho:+.2f}, within-seed permutation p = {fmt_p(p)}")
    # and the magnitude-weighted centre of the top-1 curve per seed and level
    centre = np.einsum("m,mls->sl", np.array(mags), np.exp(100 * table) / np.exp(100 * table).sum(axis=0))
    rho, p = block_spearman(levels, centre)
    out.append("  soft-argmax M (softmax of top-1 in pp over M) by level: " +
               " → ".join(f"{c:.2f}" for c in centre.mean(axis=0)) +
               f"; Spearman ρ with level {rho:+.2f}, within-seed permutation p = {fmt_p(p)}")


def main(argv):
    root = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "runs")
    runs = load_runs(root)
    out = [f"runs under {root}: {', '.join(sorted(runs))}"]
    if "pie-audit" in runs:
        pie_audit(runs["pie-audit"], out)
    if "long-tail-memorization" in runs:
        long_tail(runs["long-tail-memorization"], out)
        memorization(runs["long-tail-memorization"], out)
    if "quant-vs-prune" in runs:
        quant_vs_prune(runs["quant-vs-prune"], out)
    if "classdep-breast-cancer" in runs:
        classdep(runs["classdep-breast-cancer"], out)
    if "truncation-depth" in runs:
        truncation(runs["truncation-depth"], out)
    if "augment-constant" in runs and "augment-schedule" in runs:
        augment_pair(runs["augment-constant"], runs["augment-schedule"], out)
    for prefix, base, schedule, title in (("augment", "augment-constant", "augment-schedule", "MLP, Fashion-MNIST"),
                                          ("augment-digits", "augment-digits", "augment-digits-linear",
                                           "CNN, digits")):
        sweep = sweep_members(runs, prefix, base)
        augment_sweep(sweep, title, out)
        if schedule in runs:
            schedule_vs_sweep(runs[schedule], sweep, out)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv)
