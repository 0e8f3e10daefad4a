"""Lesson 00: a tour of the layer library, and the proof that every backward pass is right.

Every GAN in this course is built from the layers in ``minigan.layers``, and none of them
uses autodiff: each layer's backward pass is written out by hand next to its math. Before
trusting them with a GAN, this lesson runs each layer forward and backward on a tiny
batch and checks its gradients against finite differences.

    python lessons/00_layers.py [--device cpu|gpu] [--seed 0]

What to look for: a table with one row per layer, every relative error far below 1e-6
(typically 1e-8 or smaller), and every row marked "pass".
"""
# %%
import argparse
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np

from minigan import backend
from minigan.gradcheck import check_layer
from minigan.layers import (BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dense, Dropout,
                            Embedding, Flatten, LeakyReLU, Maxout, ReLU, Reshape, Sequential,
                            Sigmoid, Tanh)

parser = argparse.ArgumentParser(description="Lesson 00: gradient-check every minigan layer.")
parser.add_argument("--device", choices=backend.DEVICES, default="cpu")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args([] if "ipykernel" in sys.modules else None)  # notebook: defaults

try:
    backend.use(args.device)
except backend.DeviceError as exc:
    print(f"00_layers: {exc}", file=sys.stderr)
    sys.exit(2)
backend.seed(args.seed)

# %% [markdown]
# ## The convention: forward returns a cache, backward consumes it
#
#     y, cache = layer.forward(x, train=True)
#     dx = layer.backward(dy, cache)     # returns dL/dx, ADDS dL/dparams into layer.grads
#
# Nothing from a forward call is kept on `self`. A GAN runs its discriminator on a real
# batch *and* on a fake batch before any backward pass; a layer that remembered "its last
# input" would backpropagate the real loss through the fake batch's activations. With an
# explicit cache each backward gets the activations of its own forward. Parameter
# gradients are *added*, so D's real and fake terms accumulate before one optimizer step.

# %%
D = Dense(4, 1)
x_real, x_fake = backend.randn(3, 4), backend.randn(3, 4)
y_real, cache_real = D.forward(x_real)
y_fake, cache_fake = D.forward(x_fake)              # the real cache is untouched
D.zero_grad()
D.backward(backend.xp().ones_like(y_real), cache_real)
D.backward(backend.xp().ones_like(y_fake), cache_fake)
# dW = x^T dy for each call, summed: with dy = 1 that is the column sums of both batches
expected = (x_real.sum(axis=0) + x_fake.sum(axis=0))[:, None]
print("grads accumulate over real + fake:", bool(backend.xp().allclose(D.grads["W"], expected)))

# %% [markdown]
# ## What a gradient check is
#
# Turn the layer's output into a scalar with a fixed random projection, L = sum(y * R),
# so dL/dy = R. Backward(R) gives the analytic gradients. The numeric ones come from
# central differences, one entry at a time:
#
#     dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h,     h = 1e-6, in float64
#
# (float64 because in float32 rounding alone would cost ~1e-2.) `rel_error` compares them
# entrywise as |a - n| / max(|a| + |n|, floor), with the floor 1e-3 of the largest entry so
# that gradients that are exactly zero do not divide rounding noise by zero. A correct
# backward pass scores ~1e-8 or less; a wrong one ~1e-1. We pass anything under 1e-6.

# %% [markdown]
# ## im2col computes the convolution
#
# `Conv2d` never loops over pixels: `im2col` lays every k x k patch out as a column and the
# layer becomes one matrix product. Here is the definition, looped, on a tiny input:
#
#     y[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, c, s*h + i, s*w + j]

# %%
conv = Conv2d(2, 3, kernel_size=3, stride=2, padding=1)
x = backend.randn(1, 2, 5, 5)
y, _ = conv.forward(x)
W, b, xh = (backend.to_host(a).astype(np.float64) for a in (conv.params["W"], conv.params["b"], x))
x_pad = np.pad(xh, ((0, 0), (0, 0), (1, 1), (1, 1)))
y_loop = np.zeros(y.shape)
for n, f, h, w in np.ndindex(*y.shape):
    y_loop[n, f, h, w] = b[f] + (W[f] * x_pad[n, :, 2 * h:2 * h + 3, 2 * w:2 * w + 3]).sum()
conv_loop_err = float(np.abs(backend.to_host(y) - y_loop).max())   # float32 rounding only
failed = [] if conv_loop_err < 1e-5 else ["Conv2d vs loop"]
print(f"Conv2d (im2col + GEMM) vs the loop: output {tuple(y.shape)}, max |diff| {conv_loop_err:.1e}")

# %% [markdown]
# ## Every layer, forward, backward, gradient check
#
# Each entry is (name, layer, input, train). Inputs are small so the finite differences,
# two forward passes per number, take a moment. BatchNorm in eval mode uses its running
# statistics, so we first fill them with a few training batches; Dropout's check reseeds
# the generator before every forward, so every evaluation sees the same mask.

# %%
N = 4
bn_eval = BatchNorm2d(3)
for _ in range(5):
    bn_eval.forward(backend.randn(N, 3, 4, 4, std=2.0) + 1.0)

discriminator = Sequential(                          # a tiny DCGAN-style D on 8x8 images
    Conv2d(1, 4, 4, stride=2, padding=1), LeakyReLU(0.2),          # -> (4, 4, 4)
    Conv2d(4, 8, 4, stride=2, padding=1), BatchNorm2d(8), LeakyReLU(0.2),  # -> (8, 2, 2)
    Flatten(), Dense(8 * 2 * 2, 1))                                # -> a logit

cases = [
    ("Dense", Dense(5, 3), backend.randn(N, 5), True),
    ("Maxout", Maxout(5, units=3, pieces=2), backend.randn(N, 5), True),
    ("Embedding", Embedding(10, 3), backend.randint(10, N), True),
    ("Conv2d", Conv2d(2, 3, 3, stride=2, padding=1), backend.randn(2, 2, 5, 5), True),
    ("ConvTranspose2d", ConvTranspose2d(3, 2, 4, stride=2, padding=1), backend.randn(2, 3, 3, 3), True),
    ("BatchNorm1d", BatchNorm1d(3), backend.randn(N, 3), True),
    ("BatchNorm2d (train)", BatchNorm2d(3), backend.randn(N, 3, 4, 4), True),
    ("BatchNorm2d (eval)", bn_eval, backend.randn(N, 3, 4, 4), False),
    ("ReLU", ReLU(), backend.randn(N, 6), True),
    ("LeakyReLU", LeakyReLU(0.2), backend.randn(N, 6), True),
    ("Sigmoid", Sigmoid(), backend.randn(N, 6), True),
    ("Tanh", Tanh(), backend.randn(N, 6), True),
    ("Dropout", Dropout(0.5), backend.randn(N, 6), True),
    ("Flatten", Flatten(), backend.randn(N, 2, 3, 3), True),
    ("Reshape", Reshape((2, 9)), backend.randn(N, 18), True),
    ("Sequential (tiny D)", discriminator, backend.randn(N, 1, 8, 8), True),
]

# %%
THRESHOLD = 1e-6


def fmt(err):
    return "-" if err is None else f"{err:.1e}"


print(f"\n{'layer':<21}{'output shape':<16}{'input grad':>11}{'param grads':>13}  result")
for name, layer, x, train in cases:
    y, cache = layer.forward(x, train)               # float32, as in training
    layer.zero_grad()
    layer.backward(backend.xp().ones_like(y), cache)
    errs = check_layer(layer, x, train=train, seed=args.seed)   # float64 copy of the layer
    err_x = errs.pop("x", None)
    err_p = max(errs.values()) if errs else None
    ok = all(e < THRESHOLD for e in (err_x, err_p) if e is not None)
    if not ok:
        failed.append(name)
    print(f"{name:<21}{str(tuple(y.shape)):<16}{fmt(err_x):>11}{fmt(err_p):>13}  "
          f"{'pass' if ok else 'FAIL'}")

# %% [markdown]
# Every backward pass agrees with finite differences to ~1e-8 or better: the layers are
# ready for lesson 01. (The tests in tests/ repeat these checks over random shapes,
# strides and paddings, and check whole generator and discriminator steps end to end.)

# %%
print(f"\nFAILED: {', '.join(failed)}" if failed else
      f"\nall {len(cases)} checks pass (threshold {THRESHOLD:.0e})")
if failed and "ipykernel" not in sys.modules:
    sys.exit(1)
