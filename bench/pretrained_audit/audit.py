#!/usr/bin/python3
"""The pretrained audit of pretrained_audit.toml, written the way a PyTorch user would write it.

Debian's python3-torch, numpy and scipy only. Same inputs and the same work as the compaudit pipeline:

  * K TorchScript checkpoints (model_seed0.pt .. model_seed<K-1>.pt), loaded with torch.jit.load; nothing trained;
  * the 10,000 test images of fashion_test.npz (uint8, fed as float32: the models normalise raw pixels themselves);
  * arms: dense (the checkpoint as it is) and 5 compressions of its weights, every 2-D (linear) and 4-D (conv2d)
    `.weight`, biases untouched, no fine-tuning:
      int8 / int4: symmetric per-output-channel fake quantization, s = max|w| / qmax, round half away from zero
                   (TFLite's rounding, as docs/compressors.md), q clamped to +-qmax, w' = q s;
      prune50 / 70 / 90: global magnitude pruning, round(sparsity * n) smallest |w| over all selected weights
                   zeroed (torch.nn.utils.prune.global_unstructured's L1Unstructured; ties by position);
  * inference in batches of 1,000 under torch.inference_mode; softmax probabilities kept as float16 (what the
    compaudit store keeps, and what its KL reads);
  * statistics, per arm against dense (the dense arm against itself too, as compaudit reports it), per seed pair and
    averaged over pairs (docs/metrics.md, "Paired metrics"):
      flips by type, overall and per class;
      exact McNemar overall and per class (scipy.stats.binomtest), Holm across the classes with a discordant pair;
      stratified paired bootstrap, B resamples drawn within class, the same draw for all K pairs (pooled) and each
      pair's own statistics from that draw: accuracy change, per-class recall change, the critical class's FNR and
      FPR change; numpy "linear" percentile intervals; recall_drop_upper and the TOST equivalence flag;
      KL(P_ref || P_cand) and the reverse (entries floored at 1e-7 and renormalised, scipy.special.rel_entr), mean,
      p50 / p90 / p99 / max, top-1 agreement, true-class margin change (mean, p10).

Prints one JSON object: the per-arm summaries and the phase times (load, inference, statistics; seconds, measured
inside the process). The wall time from process start to end is measured by run.sh.

    /usr/bin/python3 audit.py --models DIR --seeds K --threads N
"""
import argparse
import json
import os
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import special, stats  # noqa: E402

T_IMPORTED = time.perf_counter()

ARMS = [("dense", None), ("int8", ("quant", 8)), ("int4", ("quant", 4)), ("prune50", ("prune", 0.5)),
        ("prune70", ("prune", 0.7)), ("prune90", ("prune", 0.9))]
KL_FLOOR = 1e-7


# ---------------------------------------------------------------------------------------------------- compression
def selected_weights(model):
    return [p for name, p in model.named_parameters() if name.endswith("weight") and p.dim() in (2, 4)]


def quantize_symmetric_per_channel(w, bits):
    qmax = 2 ** (bits - 1) - 1
    flat = w.reshape(w.shape[0], -1)
    scale = flat.abs().amax(dim=1, keepdim=True) / qmax
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    x = flat / safe
    q = torch.clamp(torch.sign(x) * torch.floor(x.abs() + 0.5), -qmax, qmax)  # round half away from zero
    return (q * scale).reshape(w.shape)  # an all-zero channel (scale 0) stays zero


def compress(model, how):
    with torch.no_grad():
        weights = selected_weights(model)
        if how[0] == "quant":
            for w in weights:
                w.copy_(quantize_symmetric_per_channel(w, how[1]))
        else:
            magnitudes = torch.cat([w.detach().abs().reshape(-1) for w in weights])
            k = int(round(how[1] * magnitudes.numel()))  # Python's round: half to even, as torch.nn.utils.prune
            mask = torch.ones_like(magnitudes)
            mask[torch.argsort(magnitudes, stable=True)[:k]] = 0
            offset = 0
            for w in weights:
                w.mul_(mask[offset:offset + w.numel()].reshape(w.shape))
                offset += w.numel()


def probabilities(model, x, batch=1000):
    with torch.inference_mode():
        return torch.cat([torch.softmax(model(x[i:i + batch]), dim=1) for i in range(0, len(x), batch)]).numpy()


# ----------------------------------------------------------------------------------------------------- statistics
def holm(p):
    p = np.asarray(p, float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def flips(y, r, c, classes):
    neg, pos = (r == y) & (c != y), (r != y) & (c == y)
    other = (r != y) & (c != y) & (r != c)
    n = len(y)
    return {"summary": {"flip_rate": (neg.sum() + pos.sum()) / n, "negative_flip_rate": neg.sum() / n,
                        "positive_flip_rate": pos.sum() / n, "wrong_to_other_rate": other.sum() / n,
                        "accuracy_change": (pos.sum() - neg.sum()) / n, "changed_answers": np.mean(r != c)},
            "per_class": {"negative_flips": np.bincount(y[neg], minlength=classes),
                          "positive_flips": np.bincount(y[pos], minlength=classes),
                          "wrong_to_other": np.bincount(y[other], minlength=classes)}}


def mcnemar(y, r, c, classes, alpha=0.05):
    b_mask, c_mask = (r == y) & (c != y), (r != y) & (c == y)
    b_all, c_all = int(b_mask.sum()), int(c_mask.sum())
    p_all = stats.binomtest(b_all, b_all + c_all, 0.5).pvalue if b_all + c_all else 1.0
    bs, cs = np.bincount(y[b_mask], minlength=classes), np.bincount(y[c_mask], minlength=classes)
    p = np.ones(classes)
    tested = np.flatnonzero(bs + cs > 0)
    for k in tested:
        p[k] = stats.binomtest(int(bs[k]), int(bs[k] + cs[k]), 0.5).pvalue
    p_adj = np.ones(classes)
    if len(tested):
        p_adj[tested] = holm(p[tested])
    impacted = (p_adj <= alpha) & (bs > cs)
    return {"summary": {"b": b_all, "c": c_all, "p_value": p_all, "impacted_classes": int(impacted.sum())},
            "per_class": {"b": bs, "c": cs, "p_value": p, "p_adjusted": p_adj, "impacted": impacted}}


def paired_bootstrap(y, refs, cands, classes, resamples, seed, critical, alpha, delta):
    """refs, cands: [K, N] predictions. One stratified draw of examples, applied to every pair.

    Each statistic is a mean of per-example differences, so a resample is a count vector over the class's examples:
    statistic = counts @ differences. Columns: the mean over pairs (pooled), then each pair."""
    k = len(refs)
    correct_diff = (cands == y).astype(np.float64) - (refs == y)  # [K, N]
    fp_diff = (cands == critical).astype(np.float64) - (refs == critical)
    diff = np.vstack([correct_diff.mean(0), correct_diff]).T  # [N, K+1]
    fp = np.vstack([fp_diff.mean(0), fp_diff]).T
    rng = np.random.default_rng(seed)
    n_total = len(y)
    acc = np.zeros((resamples, k + 1))
    fp_sum = np.zeros((resamples, k + 1))
    recall = np.full((classes, resamples, k + 1), np.nan)
    n_class = np.bincount(y, minlength=classes)
    for cls in range(classes):
        members = np.flatnonzero(y == cls)
        n = len(members)
        if n == 0:
            continue
        draw = rng.integers(0, n, size=(resamples, n))
        counts = np.bincount((draw + n * np.arange(resamples)[:, None]).ravel(),
                             minlength=resamples * n).reshape(resamples, n).astype(np.float64)
        sums = counts @ diff[members]
        acc += sums
        recall[cls] = sums / n
        if cls != critical:
            fp_sum += counts @ fp[members]
    acc /= n_total
    lo, hi = alpha / 2, 1 - alpha / 2
    recall_low = np.quantile(recall, lo, axis=1)  # [classes, K+1]
    recall_high = np.quantile(recall, hi, axis=1)
    drop_upper = np.quantile(-recall, 1 - alpha, axis=1)
    out = {"accuracy_change": diff.sum(0) / n_total, "accuracy_interval": np.quantile(acc, [lo, hi], axis=0),
           "recall_change_low": recall_low, "recall_change_high": recall_high, "recall_drop_upper": drop_upper,
           "equivalent": drop_upper < delta}
    if critical >= 0 and n_class[critical] and n_total - n_class[critical]:
        fnr = -recall[critical]
        fpr = fp_sum / (n_total - n_class[critical])
        out["critical_fnr_interval"] = np.quantile(fnr, [lo, hi], axis=0)
        out["critical_fpr_interval"] = np.quantile(fpr, [lo, hi], axis=0)
    return {"summary": {"accuracy_change": float(out["accuracy_change"][0]),
                        "accuracy_change_interval": out["accuracy_interval"][:, 0].tolist(),
                        "max_recall_drop_upper": float(np.nanmax(drop_upper[:, 0])),
                        "classes_not_shown_equivalent": int((~out["equivalent"][:, 0]).sum())},
            "all": out}


def kl_shift(y, r, c, p_ref, p_cand):
    def floored(p):
        p = np.maximum(p.astype(np.float64), KL_FLOOR)
        return p / p.sum(1, keepdims=True)
    a, b = floored(p_ref), floored(p_cand)
    kl = special.rel_entr(a, b).sum(1)
    rkl = special.rel_entr(b, a).sum(1)

    def margin(p):
        p = p.astype(np.float64)
        true = p[np.arange(len(y)), y]
        other = p.copy()
        other[np.arange(len(y)), y] = -np.inf
        return true - other.max(1)
    m = margin(p_cand) - margin(p_ref)
    summary = {}
    for name, v in (("kl", kl), ("rkl", rkl)):
        q50, q90, q99 = np.quantile(v, [0.5, 0.9, 0.99])
        summary.update({f"{name}_mean": v.mean(), f"{name}_p50": q50, f"{name}_p90": q90, f"{name}_p99": q99,
                        f"{name}_max": v.max()})
    summary.update({"top1_agreement": np.mean(r == c),
                    "margin_change_mean": m.mean(), "margin_change_p10": np.quantile(m, 0.1)})
    return {"summary": summary}


def mean_summaries(per_seed):
    keys = per_seed[0].keys()
    return {key: float(np.mean([s[key] for s in per_seed])) for key in keys}


# ----------------------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="directory with model_seed<k>.pt and fashion_test.npz")
    ap.add_argument("--seeds", type=int, default=5, help="K checkpoints")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--critical-class", type=int, default=6)
    ap.add_argument("--delta", type=float, default=0.02)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    data = np.load(os.path.join(args.models, "fashion_test.npz"))
    x = torch.from_numpy(data["x_test"].astype(np.float32))
    y = data["y_test"].astype(np.int64)
    classes = int(y.max()) + 1
    t_load = time.perf_counter() - t0

    # Inference: every arm of every checkpoint (compression included; it is a few hundred thousand weights).
    t0 = time.perf_counter()
    probs = {name: [] for name, _ in ARMS}
    preds = {name: [] for name, _ in ARMS}
    for seed in range(args.seeds):
        path = os.path.join(args.models, f"model_seed{seed}.pt")
        for name, how in ARMS:
            model = torch.jit.load(path).eval()  # a fresh copy of the checkpoint per arm
            if how:
                compress(model, how)
            p = probabilities(model, x)
            preds[name].append(p.argmax(1))  # from float32: float16 would make ties
            probs[name].append(p.astype(np.float16))
    probs = {name: np.stack(p) for name, p in probs.items()}  # [K, N, C] float16
    preds = {name: np.stack(p) for name, p in preds.items()}  # [K, N]
    t_infer = time.perf_counter() - t0

    t0 = time.perf_counter()
    results = {}
    for name, _ in ARMS:
        r_all, c_all = preds["dense"], preds[name]
        per_seed = [(flips(y, r, c, classes), mcnemar(y, r, c, classes),
                     kl_shift(y, r, c, probs["dense"][k], probs[name][k]))
                    for k, (r, c) in enumerate(zip(r_all, c_all))]
        boot = paired_bootstrap(y, r_all, c_all, classes, args.resamples, 0, args.critical_class, 0.05, args.delta)
        results[name] = {
            "flips": mean_summaries([s[0]["summary"] for s in per_seed]),
            "mcnemar": mean_summaries([s[1]["summary"] for s in per_seed]),
            "paired_bootstrap": boot["summary"],
            "kl_shift": mean_summaries([s[2]["summary"] for s in per_seed]),
        }
    t_stats = time.perf_counter() - t0

    print(json.dumps({"seeds": args.seeds, "threads": args.threads, "n": len(y), "arms": results,
                      "seconds": {"import": T_IMPORTED - T_START, "load": t_load, "inference": t_infer,
                                  "statistics": t_stats,
                                  "in_process": time.perf_counter() - T_START}}, default=float))


if __name__ == "__main__":
    main()
