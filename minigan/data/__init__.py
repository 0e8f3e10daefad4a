"""MNIST, shipped inside the package, and a seeded batch iterator.

The file is the project's copy of shared/data/mnist.npz (50,000 train, 10,000 valid = the
last 10,000 of the original training set, 10,000 test), checked against its sha256 on
every load so a corrupt or swapped file fails loudly instead of training on garbage.
"""
import hashlib
import os

import numpy as np

from .. import backend

MNIST_PATH = os.path.join(os.path.dirname(__file__), "mnist.npz")
MNIST_SHA256 = "202d621f0b456b3e2f9ed2b63eaeca5f036a7507d61c1f11684d63b53012d070"
SPLITS = ("train", "valid", "test", "train+valid")
_cache = {}


class DataError(RuntimeError):
    """The data file is missing, corrupt, or a split name is unknown."""


def _load_file(path):
    if path in _cache:
        return _cache[path]
    if not os.path.exists(path):
        raise DataError(f"MNIST file not found at {path}: reinstall minigan "
                        "(the package ships mnist.npz)")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if path == MNIST_PATH and digest != MNIST_SHA256:
        raise DataError(f"MNIST file {path} is corrupt: sha256 {digest[:12]}... "
                        f"!= expected {MNIST_SHA256[:12]}...")
    with np.load(path) as f:
        _cache[path] = {k: f[k] for k in f.files}
    return _cache[path]


def load_mnist(split="train", path=MNIST_PATH):
    """(images, labels) on the host: images float32 in [0, 1], shape (N, 1, 28, 28);
    labels int64 (N,). split: "train" (50k), "valid" (10k), "test" (10k), "train+valid"."""
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}: choose one of {', '.join(SPLITS)}")
    arrays = _load_file(path)
    parts = ["train", "valid"] if split == "train+valid" else [split]
    x = np.concatenate([arrays[f"x_{p}"] for p in parts])
    y = np.concatenate([arrays[f"y_{p}"] for p in parts])
    return (x.astype(np.float32) / 255.0)[:, None], y.astype(np.int64)


class Batches:
    """Shuffled mini-batches of (x, y), reshuffled every epoch from a seeded generator.

    The whole data set is moved to the active device once, at construction; each batch is
    an index into it, so a GPU run never copies images from the host per step.
    The last incomplete batch is dropped (as GAN references do: BatchNorm and the losses
    then always see a full batch).
    """

    def __init__(self, x, y, batch_size, seed=0):
        if batch_size < 1 or batch_size > len(x):
            raise ValueError(f"batch size must be between 1 and {len(x)}, got {batch_size}")
        self.x, self.y = backend.asarray(x), backend.asarray(y)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.x) // self.batch_size

    def __iter__(self):
        order = backend.asarray(self.rng.permutation(len(self.x)))
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]

    def state_dict(self):
        return self.rng.bit_generator.state

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state
