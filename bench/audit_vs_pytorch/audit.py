#!/usr/bin/python3
"""The compaudit bench audits written the way a PyTorch user would write them.

Same data, model, arms, epochs, batch size, optimizer and metrics as digits.toml / fashion.toml / fashion_cnn.toml,
run with Debian's python3-torch and scipy:

  * K models trained one at a time (nn.Sequential, SGD with momentum, shuffled mini-batches by index);
  * arms: dense; dense+ft (the dense model fine-tuned as long as the pruned ones, the control compaudit adds);
    prune@0.5/0.7/0.9: torch.nn.utils.prune.global_unstructured(L1Unstructured) over every Linear weight, then
    fine-tuning with the masks held by torch's pruning re-parametrisation; int8: per-channel symmetric fake
    quantization of every weight (torch.fake_quantize_per_channel_affine, no fine-tuning);
  * fashion-cnn: compaudit's built-in CNN (conv3x3 16 -> ReLU -> maxpool 2 -> conv3x3 32 -> ReLU -> maxpool 2 ->
    linear), pruning over every Conv2d and Linear weight, 2 fine-tuning epochs, no int8 arm (as fashion_cnn.toml);
  * metrics: PIEs (modal label of the candidate population differs from the reference population's) and per-class
    normalized recall with Welch's t-test (scipy.stats.ttest_ind, equal_var=False), as the compaudit plugins define
    them; references as compaudit chooses them (pruned arms vs dense+ft, the others vs dense).

Data: the same files (Fashion-MNIST: stratified 10,000 / 5,000 subsets); a stratified split and standardisation as
compaudit does (the exact split differs: compaudit
uses its own seeded Fisher-Yates, this uses numpy's generator; it does not change the work done).

    /usr/bin/python3 audit.py --task digits --threads 2
"""
import argparse
import copy
import gzip
import json
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torch.nn.utils.prune as prune  # noqa: E402
from scipy import stats  # noqa: E402

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
FASHION = "/usr/share/datasets/fashion-mnist/"

TASKS = {
    # name: hidden widths, K, dense epochs, batch size, lr
    "digits": dict(hidden=[128, 64], seeds=10, epochs=10, batch_size=64, lr=0.05),
    "fashion": dict(hidden=[256, 128], seeds=5, epochs=2, batch_size=128, lr=0.05),
    "fashion-cnn": dict(hidden=[16, 32], seeds=5, epochs=2, batch_size=128, lr=0.05, cnn=True, finetune_epochs=2,
                        int8=False),
}
MOMENTUM = 0.9
FINETUNE_EPOCHS = 5
SPARSITIES = [0.5, 0.7, 0.9]


def stratified_split(y, fraction, rng):
    test = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test.extend(idx[: int(round(fraction * len(idx)))])
    mask = np.zeros(len(y), bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(task):
    if task == "digits":
        table = np.loadtxt(DIGITS, delimiter=",", dtype=np.float32)
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
        train, test = stratified_split(y, 0.25, np.random.default_rng(0))
        xtr, ytr, xte, yte = x[train], y[train], x[test], y[test]
        mean, std = xtr.mean(0), xtr.std(0)
        std[std == 0] = 1.0  # digits' constant border pixels are only shifted
    else:
        xtr = read_idx(FASHION + "train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
        ytr = read_idx(FASHION + "train-labels-idx1-ubyte.gz").astype(np.int64)
        xte = read_idx(FASHION + "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
        yte = read_idx(FASHION + "t10k-labels-idx1-ubyte.gz").astype(np.int64)
        rng = np.random.default_rng(0)  # stratified subsets of 10,000 / 5,000 images, as fashion.toml
        keep_tr = np.concatenate([rng.permutation(np.flatnonzero(ytr == c))[:1000] for c in range(10)])
        keep_te = np.concatenate([rng.permutation(np.flatnonzero(yte == c))[:500] for c in range(10)])
        xtr, ytr, xte, yte = xtr[keep_tr], ytr[keep_tr], xte[keep_te], yte[keep_te]
        mean, std = xtr.mean(), xtr.std()  # one channel: one mean and one std
    norm = lambda a: torch.from_numpy(((a - mean) / std).astype(np.float32))  # noqa: E731
    return norm(xtr), torch.from_numpy(ytr), norm(xte), torch.from_numpy(yte)


def make_cnn(hidden, classes, seed, side=28):
    torch.manual_seed(seed)
    layers, channels = [], 1
    for h in hidden:
        layers += [nn.Conv2d(channels, h, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        channels, side = h, side // 2
    layers += [nn.Flatten(), nn.Linear(channels * side * side, classes)]
    return nn.Sequential(*layers)


def make_model(inputs, hidden, classes, seed):
    torch.manual_seed(seed)
    layers, width = [], inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def train(model, x, y, epochs, cfg, seed):
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=MOMENTUM)
    gen = torch.Generator().manual_seed(seed)
    bs = cfg["batch_size"]
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), bs):
            idx = perm[i: i + bs]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return model


@torch.no_grad()
def predict(model, x):
    model.eval()
    return F.softmax(model(x), 1).argmax(1)


def global_prune(model, sparsity):
    params = [(m, "weight") for m in model if isinstance(m, (nn.Linear, nn.Conv2d))]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=sparsity)
    return model


@torch.no_grad()
def quantize_int8(model):
    for m in model:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            w = m.weight
            scale = (w.abs().flatten(1).amax(1) / 127).clamp_min(1e-12)
            zero = torch.zeros(w.shape[0], dtype=torch.int32)
            m.weight.copy_(torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -127, 127))
    return model


def modal(labels, classes):  # [K, N] -> [N], ties to the largest label as compaudit does
    counts = np.stack([(labels == c).sum(0) for c in range(classes)])
    return classes - 1 - np.argmax(counts[::-1], 0)


def pie(ref, cand, classes):
    return int((modal(ref, classes) != modal(cand, classes)).sum())


def welch(ref, cand, y, classes, alpha=0.05):
    def normalized_recall(labels):  # [K, C]: per-class recall minus the model population's mean top-1
        correct = labels == y
        recall = np.stack([correct[:, y == c].mean(1) for c in range(classes)], 1)
        return recall - correct.mean(1).mean()
    r, c = normalized_recall(ref), normalized_recall(cand)
    impacted = 0
    for k in range(classes):
        if r[:, k].var() == 0 and c[:, k].var() == 0:
            continue
        if stats.ttest_ind(r[:, k], c[:, k], equal_var=False).pvalue <= alpha:
            impacted += 1
    return impacted


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=sorted(TASKS), required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=0, help="override K")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = dict(TASKS[args.task])
    if args.seeds:
        cfg["seeds"] = args.seeds
    xtr, ytr, xte, yte = load("fashion" if args.task == "fashion-cnn" else args.task)
    if cfg.get("cnn"):
        xtr, xte = xtr.reshape(-1, 1, 28, 28), xte.reshape(-1, 1, 28, 28)
    finetune_epochs = cfg.get("finetune_epochs", FINETUNE_EPOCHS)
    classes = int(ytr.max()) + 1
    arms = ["dense", "dense+ft"] + [f"prune@sparsity={s}" for s in SPARSITIES] + (["int8"] if cfg.get("int8", True) else [])
    preds = {a: [] for a in arms}
    t0 = time.perf_counter()
    for k in range(cfg["seeds"]):
        dense = make_cnn(cfg["hidden"], classes, k) if cfg.get("cnn") else make_model(xtr.shape[1], cfg["hidden"], classes, k)
        train(dense, xtr, ytr, cfg["epochs"], cfg, seed=k)
        preds["dense"].append(predict(dense, xte))
        ft = train(copy.deepcopy(dense), xtr, ytr, finetune_epochs, cfg, seed=1000 + k)
        preds["dense+ft"].append(predict(ft, xte))
        for s in SPARSITIES:
            pruned = global_prune(copy.deepcopy(dense), s)
            train(pruned, xtr, ytr, finetune_epochs, cfg, seed=1000 + k)  # same batches as the control
            preds[f"prune@sparsity={s}"].append(predict(pruned, xte))
        if "int8" in preds:
            preds["int8"].append(predict(quantize_int8(copy.deepcopy(dense)), xte))
    t1 = time.perf_counter()
    y = yte.numpy()
    out = {}
    for a in arms:
        ref = "dense+ft" if a.startswith("prune") else "dense"
        r, c = np.stack([p.numpy() for p in preds[ref]]), np.stack([p.numpy() for p in preds[a]])
        out[a] = {"reference": ref, "top1": float((c == y).mean()), "pies": pie(r, c, classes),
                  "impacted_classes": welch(r, c, y, classes)}
    t2 = time.perf_counter()
    print(json.dumps({"task": args.task, "seeds": cfg["seeds"], "threads": args.threads,
                      "import_and_load_s": round(t0 - T_START, 3), "cells_s": round(t1 - t0, 3),
                      "metrics_s": round(t2 - t1, 3), "arms": out}, indent=1))


if __name__ == "__main__":
    main()
