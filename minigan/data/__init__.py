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


def dilate_invert(a):
    """Lesson 07's domain map T(a) = 1 - dilate3x3(a): each pixel becomes the maximum of its
    3 x 3 neighbourhood (thicker strokes; outside the image counts as background, 0), then
    light and dark swap. a (N, 1, 28, 28) in [0, 1] on the host -> the same shape."""
    h, w = a.shape[-2:]
    padded = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)])
    dilated = np.max([padded[..., i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
    return 1 - dilated


def unpaired_mnist(seed, subset=None):
    """Two unpaired domains from MNIST's 60,000 training images (train+valid), split into
    disjoint halves by a seeded shuffle: A = the first half as it is, B = the second half
    through dilate_invert. No B image is the transform of an A image. subset keeps the first
    N of each half. Returns host arrays (x_a, y_a, x_b, y_b), images in [0, 1]."""
    x, y = load_mnist("train+valid")
    order = np.random.default_rng(seed).permutation(len(x))
    a, b = order[:len(x) // 2], order[len(x) // 2:]
    if subset:
        a, b = a[:subset], b[:subset]
    return x[a], y[a], dilate_invert(x[b]), y[b]


class Batches:
    """Shuffled mini-batches of (x, y), reshuffled every epoch from a seeded generator.

    The whole data set is moved to the active device once, at construction; each batch is
    an index into it, so a GPU run never copies images from the host per step.
    The last incomplete batch is dropped (as GAN references do: BatchNorm and the losses
    then always see a full batch).

    A checkpoint can be taken between two batches: state_dict() then holds the generator's
    state from before this epoch's shuffle and the number of batches already given out, so
    after load_state_dict() the next epoch draws the same order again and starts at the
    batch where the interrupted one stopped.
    """

    def __init__(self, x, y, batch_size, seed=0):
        if batch_size < 1 or batch_size > len(x):
            raise ValueError(f"batch size must be between 1 and {len(x)}, got {batch_size}")
        self.x, self.y = backend.asarray(x), (None if y is None else backend.asarray(y))
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.position = 0               # batches of the current epoch given out so far
        self.epoch_rng_state = None     # the generator's state before this epoch's shuffle
        self.start = 0                  # where the next epoch starts (> 0 after a resume)

    def __len__(self):
        return len(self.x) // self.batch_size

    def __iter__(self):
        self.epoch_rng_state = self.rng.bit_generator.state
        order = self.shuffle()
        start, self.start = self.start, 0
        for i in range(start, len(self)):
            self.position = i + 1
            yield self.batch(order, i)

    def shuffle(self):
        """This epoch's order of the images, drawn from self.rng."""
        return backend.asarray(self.rng.permutation(len(self.x)))

    def batch(self, order, i):
        """The i-th batch of the epoch whose order shuffle() drew."""
        idx = order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[idx], self.y[idx]

    def mid_epoch(self):
        """True between two batches of an epoch (some given out, some still to come)."""
        return 0 < self.position < len(self)

    def state_dict(self):
        if self.mid_epoch():
            return {"rng": self.epoch_rng_state, "position": self.position}
        return {"rng": self.rng.bit_generator.state, "position": 0}

    def load_state_dict(self, state):
        if "position" not in state:                    # a checkpoint of epoch ends only
            state = {"rng": state, "position": 0}
        self.rng.bit_generator.state = self.epoch_rng_state = state["rng"]
        self.start = self.position = state["position"]
