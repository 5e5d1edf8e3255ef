#!/usr/bin/python3
"""Would grouped convolutions batch a population of CNNs? (docs/performance.md, "The products")

Population batching stacks K models of an arm. For convolutions the textbook way is one grouped convolution:
the K models' batches side by side as channel blocks ([B, K*C, H, W]), their filters stacked ([K*O, C, 3, 3]),
groups=K. compaudit needs two things of it: that it is faster than K separate convolutions, and that model k's
output does not depend on K (so a cell has the same bits alone, in any group, after a resume, in a shard).

For the built-in CNN's layer shapes (Fashion-MNIST 1x28x28 -> 16 and 16x14x14 -> 32; CIFAR 3x32x32 -> 16), at
batch 64 and K = 5, one thread, this prints the time of one grouped convolution against K separate ones (the
ratio: above 1, grouped is slower) and whether every model's output is bit-equal to its separate convolution.

    /usr/bin/python3 bench/grouped_conv/grouped_conv.py
"""
import time

import torch


def best_of(fn, reps=20):
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    k, b = 5, 64
    conv = torch.nn.functional.conv2d
    for c, h, o in [(1, 28, 16), (16, 14, 32), (3, 32, 16)]:
        x = torch.randn(k, b, c, h, h)
        w = torch.randn(k, o, c, 3, 3)
        bias = torch.randn(k, o)
        stacked = x.permute(1, 0, 2, 3, 4).reshape(b, k * c, h, h).contiguous()
        grouped = lambda: conv(stacked, w.reshape(k * o, c, 3, 3), bias.reshape(-1), padding=1, groups=k)
        separate = lambda: [conv(x[i], w[i], bias[i], padding=1) for i in range(k)]
        t_grouped, t_separate = best_of(grouped), best_of(separate)
        y, ys = grouped(), separate()
        same = all(torch.equal(y[:, i * o:(i + 1) * o], ys[i]) for i in range(k))
        print(f"{c}x{h}x{h} -> {o}, K = {k}: grouped {t_grouped * 1e3:7.2f} ms, separate {t_separate * 1e3:7.2f} ms, "
              f"grouped / separate {t_grouped / t_separate:4.2f}x, every model bit-equal: {same}")


if __name__ == "__main__":
    main()
