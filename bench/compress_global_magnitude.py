#!/usr/bin/python3
"""PyTorch side of bench/compress_global_magnitude: torch.nn.utils.prune.global_unstructured (L1, amount 0.9) over
ResNet-50's bottleneck convolutions (1x1 / 3x3 / 1x1) and its 2048x1000 classifier, about 23 million weights.

    /usr/bin/python3 compress_global_magnitude.py WEIGHTS.pt THREADS REPEATS

Writes the weights it pruned to WEIGHTS.pt (a dict name -> tensor that compaudit's side loads, so both prune the
same numbers) and prints "pytorch_seconds <best of REPEATS>".
"""
import sys
import time

import torch
import torch.nn.utils.prune as prune

path, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)


def resnet50_shapes():
    shapes = []
    inplanes = 64
    for stage, (planes, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=1):
        for b in range(blocks):
            shapes.append((f"layer{stage}.{b}.conv1", (planes, inplanes, 1, 1)))
            shapes.append((f"layer{stage}.{b}.conv2", (planes, planes, 3, 3)))
            shapes.append((f"layer{stage}.{b}.conv3", (planes * 4, planes, 1, 1)))
            inplanes = planes * 4
    shapes.append(("fc", (1000, 2048)))
    return shapes


weights = {name: torch.randn(*shape) * 0.05 for name, shape in resnet50_shapes()}
torch.save(weights, path)
n = sum(w.numel() for w in weights.values())
best = float("inf")
for _ in range(repeats):
    modules = {}
    for name, w in weights.items():
        m = torch.nn.Module()
        m.weight = torch.nn.Parameter(w.clone())
        modules[name] = m
    start = time.perf_counter()
    prune.global_unstructured([(m, "weight") for m in modules.values()], pruning_method=prune.L1Unstructured,
                              amount=0.9)
    best = min(best, time.perf_counter() - start)
    pruned = sum(int((m.weight_mask == 0).sum()) for m in modules.values())
    assert pruned == round(0.9 * n), (pruned, n)
print(f"weights {n}")
print(f"pytorch_seconds {best:.6f}")
