#!/usr/bin/python3
"""Train a small CNN on Fashion-MNIST with PyTorch, and export what compaudit audits (docs/from-pytorch.md).

Writes into --out:
  model.pt                  the trained model (seed 0) as TorchScript; it takes raw pixels [N, 1, 28, 28] in 0..255
                            and normalises them itself, so the pipeline uses normalize = "none"
  model_seed<k>.pt          one TorchScript checkpoint per seed when --seeds > 1
  fashion_test.npz          the test set: x_test uint8 [N, 1, 28, 28], y_test int64 [N]
  dense_logits.npy          the seed-0 model's logits on the test set, [N, 10] float32 (what PyTorch computes)
  int8_dynamic_logits.npy   logits of the same model under PyTorch's own dynamic int8 quantization of its linear
                            layers (torch.ao.quantization.quantize_dynamic), when this PyTorch build has an int8
                            engine: a model compressed outside compaudit, audited from its saved outputs

Only Debian's python3-torch and python3-numpy are needed; the data come from Debian's dataset-fashion-mnist.
  /usr/bin/python3 examples/from-pytorch/train_and_export.py --out build/from-pytorch
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(images, labels):
    with gzip.open(images, "rb") as f:
        x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(labels, "rb") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return x, y


class SmallCNN(nn.Module):
    """conv 3x3 (16) - ReLU - pool - conv 3x3 (32) - ReLU - pool - linear 128 - ReLU - linear 10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = (x / 255.0 - 0.2860) / 0.3530  # Fashion-MNIST's mean and std: the model takes raw pixels
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def train(seed, x, y, epochs, batch=128, lr=0.05):
    torch.manual_seed(seed)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y)
    steps = (len(yt) + batch - 1) // batch
    for epoch in range(epochs):
        order = torch.randperm(len(yt))
        for step, i in enumerate(range(0, len(yt), batch)):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            if (step + 1) % 100 == 0 or step + 1 == steps:  # a line now and then: training takes minutes
                print(f"seed {seed} epoch {epoch + 1}/{epochs}: step {step + 1}/{steps}, loss {loss.item():.3f}",
                      flush=True)
    return model.eval()


def logits(model, x):
    with torch.no_grad():
        return torch.cat([model(torch.from_numpy(x[i:i + 1000].astype(np.float32)))
                          for i in range(0, len(x), 1000)]).numpy().astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=1, help="K: also write model_seed<k>.pt for k < K")
    ap.add_argument("--train-limit", type=int, default=0, help="use the first N training images (0 = all)")
    ap.add_argument("--test-limit", type=int, default=0, help="keep the first N test images (0 = all)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    x_train, y_train = read_idx(f"{DATA}/train-images-idx3-ubyte.gz", f"{DATA}/train-labels-idx1-ubyte.gz")
    x_test, y_test = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz", f"{DATA}/t10k-labels-idx1-ubyte.gz")
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
    if args.test_limit:
        x_test, y_test = x_test[:args.test_limit], y_test[:args.test_limit]
    np.savez(os.path.join(args.out, "fashion_test.npz"), x_test=x_test, y_test=y_test)

    for seed in range(args.seeds):
        model = train(seed, x_train, y_train, args.epochs)
        scripted = torch.jit.script(model)
        if seed == 0:
            scripted.save(os.path.join(args.out, "model.pt"))
            dense = logits(model, x_test)
            np.save(os.path.join(args.out, "dense_logits.npy"), dense)
            print(f"seed 0: test top-1 {np.mean(dense.argmax(1) == y_test):.4f}")
            try:
                q = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
                q8 = logits(q, x_test)
                np.save(os.path.join(args.out, "int8_dynamic_logits.npy"), q8)
                print(f"seed 0, PyTorch dynamic int8: test top-1 {np.mean(q8.argmax(1) == y_test):.4f}")
            except (RuntimeError, AssertionError) as e:  # no int8 engine in this build
                print(f"PyTorch dynamic int8 not available: {e}")
        if args.seeds > 1:
            scripted.save(os.path.join(args.out, f"model_seed{seed}.pt"))


if __name__ == "__main__":
    main()
