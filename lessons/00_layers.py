"""Lesson 00: a tour of the layer library, and the proof that every backward pass is right.

Every GAN in this course is built from the layers in ``minigan.layers``, and none of them
uses autodiff: each layer's backward pass is written out by hand next to its math. Before
trusting them with a GAN, this lesson runs each layer forward and backward on a tiny
batch and checks its gradients against finite differences; then the losses, and the
containers the later lessons wire their networks with (Conditional and Joint in lesson
04, Parts in lesson 05). What a gradient check cannot see, it checks against the
definitions: the convolutions against plain loops, the optimizers' steps against their
update rules.

    python lessons/00_layers.py [--device cpu|gpu] [--seed 0]

What to look for: the tables, every relative error far below 1e-6 (typically 1e-8 or
smaller), and every row marked "pass".
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

from minigan import backend, losses
from minigan.conditioning import ConcatLabel, Conditional, Joint, one_hot
from minigan.gradcheck import (check_function, check_layer, check_penalty, check_second_order,
                               compare, numerical_gradient)
from minigan.layers import (BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dense, Dropout,
                            Embedding, Flatten, LayerNorm, LeakyReLU, Maxout, Parts, ReLU, Reshape,
                            Sequential, Sigmoid, Tanh)
from minigan.optim import SGD, Adam, RMSprop

parser = argparse.ArgumentParser(description="Lesson 00: gradient-check every minigan layer, loss "
                                             "and container; check the convolutions and "
                                             "optimizers against their definitions.")
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
# Turn the layer's output into a scalar with a fixed random projection,
#
#     L = sum((y - y0) * R),      y0 = the output at the unperturbed point (a constant),
#
# so dL/dy = R. Subtracting y0 changes no derivative, but it keeps the rounding of the
# large sum of y * R out of the small differences below. Backward(R) gives the analytic
# gradients. The numeric ones come from central differences, one entry at a time:
#
#     dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h,     h = 1e-5, in float64
#
# Its error is ~h^2 |L'''| / 6 from truncation plus ~1e-16 |L| / h from rounding; the two
# balance near h = 1e-5, where both are ~1e-11 relative. (A smaller h only grows the
# rounding; in float32 the rounding alone would be ~1e-2, so the check casts the layer to
# float64.) `compare` scores each gradient by its largest entrywise error
# |a - n| / max(|a| + |n|, floor), with one floor for the whole check: 1e-3 of the largest
# |a| + |n| of any gradient in it, x's or a parameter's. Without a floor an entry that is
# (nearly) zero, e.g. of the bias of a layer that feeds a BatchNorm, whose gradient is
# exactly zero, would divide rounding noise by ~0 and score ~1 however right the code is.
# A correct backward pass scores ~1e-8 or less; a wrong one ~1e-1. We pass anything under
# 1e-6.

# %% [markdown]
# ## Every layer, forward, backward, gradient check
#
# Each entry is (name, layer, input, train). Inputs are small so the finite differences,
# two forward passes per number, take a moment. BatchNorm in eval mode uses its running
# statistics, so we first fill them with a few training batches; Dropout's check reseeds
# the generator before every forward, so every evaluation sees the same mask. LayerNorm
# (lesson 06's critics) normalises each sample over all of its own values, so it is the
# same function in train and eval.

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
    ("LayerNorm", LayerNorm(3), backend.randn(N, 3, 4, 4), True),
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
results = []                                         # (check, passed)


def fmt(err):
    return "-" if err is None else f"{err:.1e}"


def report(name, shape, err_x, err_p):
    """One row of the gradient-check table; None: that gradient is not checked."""
    ok = all(e < THRESHOLD for e in (err_x, err_p) if e is not None)
    results.append((name, ok))
    print(f"{name:<28}{shape:<16}{fmt(err_x):>11}{fmt(err_p):>13}  {'pass' if ok else 'FAIL'}")


def split(errs):
    """check_layer's {"x": err, param: err, ...} -> (input gradient's, worst parameter's)."""
    err_x = errs.pop("x", None)
    return err_x, (max(errs.values()) if errs else None)


print(f"\n{'gradient check':<28}{'output shape':<16}{'input grad':>11}{'param grads':>13}  result")
for name, layer, x, train in cases:
    y, cache = layer.forward(x, train)               # float32, as in training
    layer.zero_grad()
    layer.backward(backend.xp().ones_like(y), cache)
    errs = check_layer(layer, x, train=train, seed=args.seed)   # casts the layer to float64
    report(name, str(tuple(y.shape)), *split(errs))

# %% [markdown]
# ## The losses
#
# A loss returns (value, d value / d input): that gradient is where every backward pass
# starts, so it gets the same check, with the loss itself as L. The logits reach well
# into saturation (std 3), where the stable formulas matter; l1's input keeps at least
# 0.5 away from its kink at p = t.

# %%
def as64(a):
    return a.astype(backend.xp().float64)


z, soft_targets = as64(backend.randn(N, 1, std=3.0)), as64(backend.rand(N, 1))
logits, labels = as64(backend.randn(N, 10, std=3.0)), backend.randint(10, N)
p, t = as64(backend.randn(N, 6)), as64(backend.randn(N, 6))
off_kink = t + as64(backend.rand(N, 6, low=0.5, high=1.5)) * backend.xp().sign(backend.randn(N, 6))
loss_cases = [
    ("bce_with_logits", lambda v: losses.bce_with_logits(v, soft_targets), z),
    ("softmax_cross_entropy", lambda v: losses.softmax_cross_entropy(v, labels), logits),
    ("mse", lambda v: losses.mse(v, t), p),
    ("l1", lambda v: losses.l1(v, t), off_kink),
    ("mean (Wasserstein terms)", losses.mean, p),
]
for name, loss, v in loss_cases:
    report(name, "scalar", check_function(loss, v), None)

# %% [markdown]
# ## The containers of lessons 04 and 05
#
# Lesson 04 conditions both networks on the label y, a second input:
#
#     out, cache = net.forward(x, onehot)
#
# `Conditional` is a Sequential in which every `ConcatLabel()` appends y (as K values after
# a dense layer, as K constant feature maps after a conv layer): carpedm20's conditional
# DCGAN. `Joint` runs x and y through two towers and joins them: the CGAN paper's MLPs.
# Their backward passes split the gradient at each concatenation and drop the label's
# part. With y held fixed, each is a function of x, checked like any layer. (Here with
# smooth activations: an input within the step h of a ReLU's kink would spoil the finite
# difference, not the backward pass, and the activations have their own rows above.)

# %%
K = 3
onehot = one_hot(backend.randint(K, N), K)
conditional_D = Conditional(                         # conditional DCGAN-style D, 8x8 images
    ConcatLabel(), Conv2d(1 + K, 4, 4, stride=2, padding=1), Tanh(),   # -> (4, 4, 4)
    Flatten(), ConcatLabel(), Dense(4 * 4 * 4 + K, 1))                  # -> a logit
joint_G = Joint(Sequential(Dense(5, 6), Tanh()),     # the paper's G in miniature: z tower,
                Sequential(Dense(K, 4), Tanh()),     # y tower, then the joint layers
                Sequential(Dense(6 + 4, 8), Tanh(), Dense(8, 16), Sigmoid(), Reshape((1, 4, 4))))
for name, net, x in [("Conditional (lesson 04)", conditional_D, backend.randn(N, 1, 8, 8)),
                     ("Joint (lesson 04)", joint_G, backend.randn(N, 5))]:
    y, _ = net.forward(x, onehot)
    errs = check_layer(net, x, seed=args.seed, onehot=onehot)
    report(name, str(tuple(y.shape)), *split(errs))

# %% [markdown]
# Lesson 05's networks are `Parts`: named pieces with no forward of their own, which the
# lesson wires by hand (ACGAN's discriminator: one trunk, two heads). So the check wires
# them the same way. The trunk's gradient is the SUM of what flows back from both heads:
#
#     L = sum((source - source0) * R1) + sum((classes - classes0) * R2)

# %%
def check_parts(D, x, seed):
    """Gradient-check ACGAN's hand-wired discriminator: feats = trunk(x), then two heads."""
    xp = backend.xp()
    D.to_dtype(xp.float64)
    x = as64(x)

    def forward():
        feats, trunk_cache = D.trunk.forward(x)
        source, source_cache = D.source.forward(feats)
        classes, classes_cache = D.classes.forward(feats)
        return source, classes, (trunk_cache, source_cache, classes_cache)

    source0, classes0, (trunk_cache, source_cache, classes_cache) = forward()
    rng = np.random.default_rng(seed + 1)
    R1, R2 = (xp.asarray(rng.standard_normal(a.shape)) for a in (source0, classes0))

    def loss():
        source, classes, _ = forward()
        return float(((source - source0) * R1).sum() + ((classes - classes0) * R2).sum())

    D.zero_grad()
    dfeats = D.source.backward(R1, source_cache) + D.classes.backward(R2, classes_cache)
    pairs = {"x": (D.trunk.backward(dfeats, trunk_cache), numerical_gradient(loss, x))}
    for name, owner, key in D.parameters():
        pairs[name] = (owner.grads[key].copy(), numerical_gradient(loss, owner.params[key]))
    return compare(pairs)


acgan_D = Parts(trunk=Sequential(Conv2d(1, 4, 3, stride=2, padding=1), Tanh(), Flatten()),
                source=Dense(4 * 4 * 4, 1), classes=Dense(4 * 4 * 4, K))
errs = check_parts(acgan_D, backend.randn(N, 1, 8, 8), args.seed)
report("Parts (lesson 05, by hand)", f"({N}, 1), ({N}, {K})", *split(errs))

# %% [markdown]
# ## The second-order pass (lesson 06)
#
# WGAN-GP adds to the critic's loss a penalty on its input gradient,
#
#     P = lam * mean_i (||g_i|| - 1)^2,      g_i = dD(x_hat_i) / dx_hat_i,
#
# and the critic's update needs dP/dtheta: the derivative of a backward pass.
# minigan/penalty.py computes it by hand (its docstring derives it): a forward pass, a
# backward pass that records each layer's signal delta, then a *tangent* pass carrying
# v = dP/dg forward through the Jacobians, and a second-order backward. So every layer a
# critic may use has two more methods, with explicit caches like the first two:
#
#     y_dot, tcache = layer.tangent(x_dot, cache)             # J x_dot
#     x_bar = layer.backward2(y_bar, delta, tcache, cache)    # ADDS to the param grads
#
# Each gets its own check: the tangent against the directional difference
# (f(x + h x_dot) - f(x - h x_dot)) / 2h, and backward2 against the gradient of
#
#     S = <y_bar, f(x)> + <delta, J(x) x_dot>      (y_bar, delta, x_dot random, fixed)
#
# in x and in every parameter (the second term is the one double backprop adds: for
# tanh it is f''(x) x_dot delta). Then the whole: dP/dtheta of a critic against central
# differences of P itself. (The inputs of the piecewise-linear rows keep at least 0.2
# away from the kink, and the critics here are smooth: a finite difference over a kink
# would be wrong, not the pass. The tests check LeakyReLU critics with a guard for that.)

# %%
off_zero = backend.rand(N, 6, low=0.2, high=2.0) * backend.xp().sign(backend.randn(N, 6))
second_order_cases = [
    ("Dense", Dense(5, 3), backend.randn(N, 5)),
    ("Conv2d", Conv2d(2, 3, 3, stride=2, padding=1), backend.randn(2, 2, 5, 5)),
    ("ConvTranspose2d", ConvTranspose2d(3, 2, 4, stride=2, padding=1), backend.randn(2, 3, 3, 3)),
    ("LayerNorm", LayerNorm(3), backend.randn(N, 3, 4, 4)),
    ("ReLU", ReLU(), off_zero),
    ("LeakyReLU", LeakyReLU(0.2), off_zero),
    ("Sigmoid", Sigmoid(), backend.randn(N, 6, std=3.0)),
    ("Tanh", Tanh(), backend.randn(N, 6, std=1.5)),
    ("Dropout", Dropout(0.5), backend.randn(N, 6)),
    ("Flatten", Flatten(), backend.randn(N, 2, 3, 3)),
    ("Reshape", Reshape((2, 9)), backend.randn(N, 18)),
]
print(f"\n{'second-order check':<28}{'output shape':<16}{'tangent':>11}{'backward2':>13}  result")
for name, layer, x in second_order_cases:
    errs = check_second_order(layer, x, seed=args.seed)       # casts the layer to float64
    tangent = errs.pop("tangent")
    report(f"{name}: 2nd order", str(tuple(layer.forward(as64(x))[0].shape)), tangent,
           max(errs.values()))


def smooth_mlp(tanh=Tanh, sigmoid=Sigmoid):
    """A small critic on 5 features whose weights (+-1) reach well into the curvature."""
    critic = Sequential(Dense(5, 7), tanh(), Dense(7, 6), sigmoid(), Dense(6, 1))
    rng = np.random.default_rng(args.seed + 2)
    for layer in (critic[0], critic[2]):
        W = layer.params["W"]
        W[...] = backend.asarray(rng.uniform(0.5, 1.5, W.shape) * rng.choice([-1, 1], W.shape),
                                 dtype=W.dtype)
    return critic


conv_critic = Sequential(                            # lesson 06-style, on 8x8 images
    Conv2d(1, 4, 4, stride=2, padding=1), LayerNorm(4), Tanh(),            # -> (4, 4, 4)
    Conv2d(4, 8, 4, stride=2, padding=1), LayerNorm(8), Tanh(),            # -> (8, 2, 2)
    Flatten(), Dense(8 * 2 * 2, 1))                                        # -> D(x_hat)
x_mlp, x_conv = backend.randn(N, 5), backend.randn(N, 1, 8, 8)
print(f"\n{'penalty gradient check':<28}{'parameters':<16}{'':>11}{'dP/dtheta':>13}  result")
for name, critic, x_hat in [("WGAN-GP penalty (MLP)", smooth_mlp(), x_mlp),
                            ("WGAN-GP penalty (conv)", conv_critic, x_conv)]:
    errs = check_penalty(critic, x_hat, lam=10.0, seed=args.seed)
    report(name, str(critic.num_params()), None, max(errs.values()))

# %% [markdown]
# The f'' term is not a detail. The one public NumPy WGAN-GP (numpy-ml) drops it, which
# is exact for ReLU critics only; for the same tanh/sigmoid critic, without it:

# %%
class TanhWithoutCurvature(Tanh):
    def backward2(self, y_bar, delta, x_dot, y):
        return None if y_bar is None else self.backward(y_bar, y)   # no f'' x_dot delta


class SigmoidWithoutCurvature(Sigmoid):
    def backward2(self, y_bar, delta, x_dot, y):
        return None if y_bar is None else self.backward(y_bar, y)


errs = check_penalty(smooth_mlp(TanhWithoutCurvature, SigmoidWithoutCurvature), x_mlp, seed=args.seed)
print(f"without f'': worst relative error of dP/dtheta {max(errs.values()):.1e} (wrong)")

# %% [markdown]
# ## What a gradient check cannot see
#
# A gradient check proves that backward is the derivative of forward, not that forward
# computes the right function: y = x W - b with db = -sum(dy) passes it. So the
# convolutions, the layers with the most index arithmetic, are compared with their
# definitions written as plain loops (in float64: they agree to rounding).
#
# `Conv2d` never loops over pixels: `im2col` lays every k x k patch out as a column and the
# layer becomes one matrix product. Its definition, looped:
#
#     y[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, c, s*h + i, s*w + j]
#
# `ConvTranspose2d` is defined by scattering: every input pixel adds a copy of its k x k
# filter, scaled by the pixel, into the output at stride s; then p rows and columns are
# cropped from each border, and output_padding more are kept at the bottom and right:
#
#     y_full[n, :, s*h : s*h + k, s*w : s*w + k] += x[n, c, h, w] * W[c]
#
# It is called the transposed convolution because, with the same weights, it is the
# adjoint of Conv2d: <conv(v), u> = <v, convT(u)> for every u and v. (That is why each
# one's backward pass with respect to its input is the other one.)

# %%
def relative(a, b):
    """max |a - b| over max |b|."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def on_host(*arrays):
    return [backend.to_host(a).astype(np.float64) for a in arrays]


def conv2d_loop(x, W, b, s, p):
    """The definition of Conv2d, one output pixel at a time."""
    N, _, H, Wd = x.shape
    F, _, k, _ = W.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    y = np.zeros((N, F, (H + 2 * p - k) // s + 1, (Wd + 2 * p - k) // s + 1))
    for n, f, h, w in np.ndindex(*y.shape):
        y[n, f, h, w] = b[f] + (W[f] * x_pad[n, :, s * h:s * h + k, s * w:s * w + k]).sum()
    return y


def conv_transpose2d_loop(x, W, b, s, p, op):
    """The definition of ConvTranspose2d, one input pixel at a time."""
    N, C, H, Wd = x.shape
    _, F, k, _ = W.shape
    y_full = np.zeros((N, F, (H - 1) * s + k + op, (Wd - 1) * s + k + op))
    for n, c, h, w in np.ndindex(*x.shape):
        y_full[n, :, s * h:s * h + k, s * w:s * w + k] += x[n, c, h, w] * W[c]
    Ho, Wo = (H - 1) * s - 2 * p + k + op, (Wd - 1) * s - 2 * p + k + op
    return y_full[:, :, p:p + Ho, p:p + Wo] + b[None, :, None, None]


def report_definition(name, compared_with, err):
    ok = err < THRESHOLD
    results.append((name, ok))
    print(f"{name:<28}{compared_with:<36}{err:>9.1e}  {'pass' if ok else 'FAIL'}")


print(f"\n{'definition check':<28}{'compared with':<36}{'error':>9}  result")
conv = Conv2d(2, 3, 3, stride=2, padding=1).to_dtype(np.float64)
x = as64(backend.randn(2, 2, 5, 5))
y, W, b, xh = on_host(conv.forward(x)[0], conv.params["W"], conv.params["b"], x)
report_definition("Conv2d forward", "the loop, stride 2, pad 1",
                  relative(y, conv2d_loop(xh, W, b, 2, 1)))

convT = ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1).to_dtype(np.float64)
u = as64(backend.randn(2, 3, 4, 4))                  # -> (2, 2, 8, 8): 4 -> 8, "SAME"
y, W, b, uh = on_host(convT.forward(u)[0], convT.params["W"], convT.params["b"], u)
report_definition("ConvTranspose2d forward", "the loop, stride 2, pad 1, op 1",
                  relative(y, conv_transpose2d_loop(uh, W, b, 2, 1, 1)))

# the adjoint pair, without biases: Conv2d(2 -> 3) reads ConvTranspose2d(3 -> 2)'s weights
# (3, 2, 3, 3) as (out, in, k, k)
conv = Conv2d(2, 3, 3, stride=2, padding=1, bias=False).to_dtype(np.float64)
convT = ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, bias=False)
convT.to_dtype(np.float64)
conv.params["W"][...] = convT.params["W"]
v = as64(backend.randn(2, 2, 8, 8))                  # the size of convT's output
conv_v, vh, convT_u, uh = on_host(conv.forward(v)[0], v, convT.forward(u)[0], u)
# the inner products' difference, relative to |conv(v)| |u| (the most the first can be)
adjoint_err = abs((conv_v * uh).sum() - (vh * convT_u).sum())
adjoint_err /= np.linalg.norm(conv_v) * np.linalg.norm(uh)
report_definition("ConvTranspose2d = Conv2d^T", "<conv(v), u> = <v, convT(u)>", float(adjoint_err))

# %% [markdown]
# ## An optimizer step
#
# An optimizer has no gradient of its own to check; what can be wrong is its update rule
# (a missing bias correction, momentum applied twice, the betas swapped). So each one takes
# two steps on f(W) = sum(a * (W - c)^2) / 2, whose gradient a * (W - c) we fill in by
# hand, and W must land where the rule, written out below, puts it. Two steps, because
# Adam's bias correction makes its first step lr * g / (|g| + eps) whatever the betas are.

# %%
def sgd_rule(p, g, t, state, lr, momentum):
    state["v"] = momentum * state.get("v", 0.0) + g
    return p - lr * state["v"]


def adam_rule(p, g, t, state, lr, betas, eps=1e-8):
    b1, b2 = betas
    state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
    state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g ** 2
    m_hat, v_hat = state["m"] / (1 - b1 ** t), state["v"] / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def rmsprop_rule(p, g, t, state, lr, alpha, eps=1e-8):
    state["s"] = alpha * state.get("s", 0.0) + (1 - alpha) * g ** 2
    return p - lr * g / (np.sqrt(state["s"]) + eps)


def check_optimizer(make, rule, **hyper):
    """Two steps of make(layer, **hyper) and of the rule on the quadratic: the largest
    difference in W, relative to the largest move."""
    layer = Dense(4, 3).to_dtype(np.float64)
    W = layer.params["W"]
    a, c = as64(backend.rand(*W.shape, low=0.5, high=2.0)), as64(backend.randn(*W.shape))
    opt = make(layer, **hyper)
    W0 = backend.to_host(W).copy()
    W_rule, state = W0.copy(), {}
    for t in (1, 2):
        layer.zero_grad()
        layer.grads["W"][...] = a * (W - c)          # df/dW (the bias's gradient stays 0)
        W_rule = rule(W_rule, backend.to_host(layer.grads["W"]), t, state, **hyper)
        opt.step()
    W = backend.to_host(W)
    return float(np.abs(W - W_rule).max() / np.abs(W_rule - W0).max())


for name, make, rule, hyper, which in [
        ("SGD step", SGD, sgd_rule, dict(lr=0.1, momentum=0.9), "momentum 0.9"),
        ("Adam step", Adam, adam_rule, dict(lr=0.01, betas=(0.5, 0.999)), "betas 0.5, 0.999"),
        ("RMSprop step", RMSprop, rmsprop_rule, dict(lr=0.01, alpha=0.9), "alpha 0.9")]:
    report_definition(name, f"its rule, 2 steps, {which}", check_optimizer(make, rule, **hyper))

# %% [markdown]
# Every backward pass (and every second-order pass) agrees with finite differences to
# ~1e-8 or better, and the convolutions and optimizers do what their definitions say: the
# library is ready for lesson 01. (The tests in tests/ repeat these checks over random shapes, strides and
# paddings, and check whole generator and discriminator steps end to end.)

# %%
failed = [name for name, ok in results if not ok]
print(f"\nFAILED: {', '.join(failed)}" if failed else
      f"\nall {len(results)} checks pass (threshold {THRESHOLD:.0e})")
if failed and "ipykernel" not in sys.modules:
    sys.exit(1)
