"""Lesson 00: a tour of the layer library, and the proof that every backward pass is right.

Every GAN in this course is built from the layers in ``minigan.layers``, and none of them
uses autodiff: each layer's backward pass is written out by hand next to its math. Before
trusting them with a GAN, this lesson shows the conventions every lesson's training step
relies on: explicit caches, and the two switches that skip the half of D's backward pass
a step does not need, ``input_grad=False`` (D's step) and ``with frozen(D):`` (G's step),
checked to change no number that is kept. Then it runs each layer forward and backward on
a tiny batch and checks its gradients against finite differences, from Dense to lesson
07's InstanceNorm2d, ReflectionPad2d and ResidualBlock; then the losses, the containers
the later lessons wire their networks with (Conditional and Joint in lesson 04, Parts in
lesson 05), and the second-order pass of lesson 06's gradient penalty. What a gradient
check cannot see, it checks against the definitions: the convolutions and InstanceNorm2d
against plain loops, the reflection pad against NumPy's, the optimizers' steps against
their update rules.

    python lessons/00_layers.py [--device cpu|gpu] [--seed 0]

What to look for: every row marked "pass". In the gradient-check tables a correct
backward pass scores a relative error of ~1e-12 to ~1e-7 and a wrong one ~1e-1 or more
(the section "What a gradient check is" says why; a row passes under 1e-6); the other
tables compare exact computations, which agree to 0 or to float64's rounding (~1e-15).
"""
# %%
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
                            Embedding, Flatten, InstanceNorm2d, LayerNorm, LeakyReLU, Maxout,
                            Parts, ReflectionPad2d, ReLU, Reshape, ResidualBlock, Sequential,
                            Sigmoid, Tanh, frozen)
from minigan.optim import SGD, Adam, RMSprop
from minigan.train import OneLineParser

parser = OneLineParser(description="Lesson 00: gradient-check every minigan layer, loss "
                                             "and container; check frozen/input_grad=False, "
                                             "the convolutions, InstanceNorm2d, the reflection "
                                             "pad and the optimizers against their definitions.")
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
# ## Two switches that skip half of D's backward pass
#
# Each of a GAN's two steps needs only half of what D's backward pass computes. From
# lesson 01 on, every training step writes
#
#     D.backward(dlogit, cache, input_grad=False)     # D's step: D's parameter gradients
#     with frozen(D):                                 # G's step: dL/dG(z), into G
#         G.backward(D.backward(dlogit, cache), g_cache)
#
# In D's own step D's input is data (a real batch, or a fake one G is not learning from),
# so dL/dx would be thrown away. With `input_grad=False` the backward stops at D's first
# layer with parameters, which only adds its parameter gradients (`backward_params`: for
# Dense, Maxout and Conv2d no W^T dy product, for Conv2d no col2im either); the layers
# below it are not run at all, and nothing is returned. (PyTorch skips an input that does
# not require a gradient the same way.)
#
# In G's step it is the other way round: G needs D's input gradient, and D's parameter
# gradients would only be zeroed before D's next step. Inside `with frozen(D):` every
# layer of D skips them (CycleGAN's code: `set_requires_grad(netD, False)`).
#
# Both only leave work out, so neither may change a number that is kept. Below, one
# forward pass of a miniature of lesson 01's D (Flatten and Dropout before its first
# layer with parameters), then three backward passes from the same cache, which must
# agree bit for bit: the full one, one with input_grad=False and one inside frozen(D).
# A record of which layers' backward ran shows what was skipped.

# %%
ran = []                                             # "Layer.method" per backward call


def traced(layer):
    """The layer, with every call of its backward and backward_params recorded in ran."""
    for method in ("backward", "backward_params"):
        def record(dy, cache, inner=getattr(layer, method), method=method):
            ran.append(f"{type(layer).__name__}.{method}")
            return inner(dy, cache)
        setattr(layer, method, record)               # shadows the class's method
    return layer


def grads(model):
    """Host copies of a model's parameter gradients, by name."""
    return {name: backend.to_host(o.grads[key]).copy() for name, o, key in model.parameters()}


def largest(arrays):
    """The largest |entry| over a list of arrays."""
    return max(float(np.abs(backend.to_host(a)).max()) for a in arrays)


def fmt(err):
    return "-" if err is None else f"{err:.1e}"


mini_D = Sequential(*[traced(layer) for layer in
                      (Flatten(), Dropout(0.2), Maxout(16, units=6, pieces=2), Dense(6, 1))])
logit, cache = mini_D.forward(backend.randn(4, 1, 4, 4))  # one forward: one dropout mask
dlogit = backend.randn(*logit.shape)

runs = {}
for how in ("full", "input_grad=False", "frozen"):
    mini_D.zero_grad()
    ran.clear()
    if how == "frozen":
        with frozen(mini_D):
            dx = mini_D.backward(dlogit, cache)
    else:
        dx = mini_D.backward(dlogit, cache, input_grad=(how == "full"))
    runs[how] = dx, grads(mini_D), list(ran)
    print(f"{how + ' backward ran:':<32}{', '.join(ran)}")

(dx_full, full, _), (dx_none, params_only, ran_params), (dx_frozen, added, _) = runs.values()
below = [r for r in ran_params if r.startswith(("Flatten", "Dropout"))]
exact_rows = [                                       # (check, compared with, difference)
    ("input_grad=False: grads", "the full backward's parameter grads",
     largest([params_only[k] - full[k] for k in full])),
    ("input_grad=False: skipped", "returns None, Flatten and Dropout idle",
     None if dx_none is None and not below else float("inf")),
    ("frozen(D): input grad", "the full backward's dL/dx", largest([dx_frozen - dx_full])),
    ("frozen(D): param grads", "zero: nothing added", largest(list(added.values()))),
]
results = []                                         # (check, passed), every table's rows
print(f"\n{'frozen / input_grad=False':<28}{'compared with':<38}{'difference':>10}  result")
for name, compared_with, diff in exact_rows:
    ok = diff is None or diff == 0                   # leaving work out changes no bit
    results.append((name, ok))
    print(f"{name:<28}{compared_with:<38}{fmt(diff):>10}  {'pass' if ok else 'FAIL'}")

# %% [markdown]
# ## What a gradient check is, and how to read its table
#
# `minigan.gradcheck.check_layer` turns the layer's output into a scalar with a fixed
# random projection,
#
#     L = sum((y - y0) * R),      y0 = the output at the unperturbed point (a constant),
#
# so dL/dy = R. Subtracting y0 changes no derivative, but it keeps the rounding of the
# large sum of y * R out of the small differences below. backward(R) gives the analytic
# gradients a; central differences give the numeric ones n, one entry at a time:
#
#     dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h,     h = 1e-5, in float64
#
# Why this h, and why float64: the difference is off by ~h^2 |L'''| / 6 (truncation) plus
# ~eps |L| / h (rounding; eps, the machine epsilon, is 2.2e-16 in float64). The two
# balance near h = eps^(1/3) ~ 1e-5, where both are ~1e-11 relative: the error floor of
# a check, what a correct gradient scores (less where L''' = 0, as for a linear layer,
# where only rounding is left). A smaller h only grows the rounding term (at h = 1e-6 it
# is ~2e-10 of |L|); in float32 (eps 1.2e-7) it alone is ~1e-2, so every check first
# casts the layer to float64 (`layer.to_dtype(float64)`).
#
# Each column of the table is one gradient's worst entry,
#
#     max_i |a_i - n_i| / max(|a_i| + |n_i|, floor)
#
# ("input grad": dL/dx; "param grads": the worst of the layer's parameters; "-": none to
# check, no parameters or Embedding's integer input). `compare` takes one floor for the
# whole check, 1e-3 of max|a| + max|n| of its largest gradient (a loss's check_function:
# 1e-3 of its gradient's largest |a_i| + |n_i|). Without it an entry that is (nearly)
# zero, e.g. the bias gradient of a layer that feeds a BatchNorm, exactly zero, would
# divide rounding noise by ~0 and score ~1 however right the code is. So a correct
# backward pass scores between the error floor and ~1e-7 (strong curvature, long sums);
# a wrong one ~1e-1 or more. A row passes under 1e-6.

# %% [markdown]
# ## Every layer, forward, backward, gradient check
#
# Each entry is (name, layer, input, train). Inputs are small so the finite differences,
# two forward passes per number, take a moment. BatchNorm in eval mode uses its running
# statistics, so we first fill them with a few training batches; Dropout's check reseeds
# the generator before every forward, so every evaluation sees the same mask.
#
# LayerNorm normalises each sample over all of its own values, so it is the same function
# in train and eval, and no sample's output depends on another's. That is why the WGAN-GP
# paper (Gulrajani et al. 2017, sec. 4) recommends it in place of batch normalisation in a
# critic: the gradient penalty is taken per sample, and BatchNorm mixes a batch's samples.
# No lesson uses it by default: lesson 06's critic, after the authors' MNIST code, has no
# normalisation at all. InstanceNorm2d normalises one image's channel over its pixels
# (lesson 07's CycleGAN networks); ReflectionPad2d mirrors the image across its border and
# ResidualBlock is y = x + F(x) with F = pad, conv, InstanceNorm, ReLU, pad, conv,
# InstanceNorm (CycleGAN's residual block).

# %%
N = 4
bn_eval = BatchNorm2d(3)
for _ in range(5):
    bn_eval.forward(backend.randn(N, 3, 4, 4, std=2.0) + 1.0)

instance_norm = InstanceNorm2d(3, affine=True)       # gamma, beta away from 1 and 0
instance_norm.params["gamma"][...] = backend.rand(3, low=0.5, high=2.0)
instance_norm.params["beta"][...] = backend.randn(3)

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
    ("InstanceNorm2d", InstanceNorm2d(3), backend.randn(2, 3, 4, 4), True),
    ("InstanceNorm2d (affine)", instance_norm, backend.randn(2, 3, 4, 4), True),
    ("ReflectionPad2d", ReflectionPad2d(2), backend.randn(2, 2, 4, 5), True),
    ("ResidualBlock", ResidualBlock(2), backend.randn(2, 2, 4, 4), True),
    ("Sequential (tiny D)", discriminator, backend.randn(N, 1, 8, 8), True),
]

# %%
THRESHOLD = 1e-6


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
# minigan/penalty.py computes it by hand (its docstring derives it) in four passes over
# the critic's layers: a forward pass, a backward pass that records each layer's signal
# delta, then a *tangent* pass carrying v = dP/dg forward through the Jacobians, and a
# second-order backward. So every layer a critic may use has three more methods, with
# explicit caches like the first two:
#
#     dx, delta = layer.backward_input(dy, cache)             # J^T dy, NO param grads
#     y_dot, tcache = layer.tangent(x_dot, cache)             # J x_dot
#     x_bar = layer.backward2(y_bar, delta, tcache, cache)    # ADDS to the param grads
#
# Each layer gets its own check: the tangent against the directional difference
# (f(x + h x_dot) - f(x - h x_dot)) / 2h, and backward2 against the gradient of
#
#     S = <y_bar, f(x)> + <delta, J(x) x_dot>      (y_bar, delta, x_dot random, fixed)
#
# in x and in every parameter (the second term is the one double backprop adds: for
# tanh it is f''(x) x_dot delta). S's gradient is taken by Richardson's extrapolation of
# two central differences, (4 D(h/2) - D(h)) / 3, whose error falls as h^4: S has large
# third derivatives on some draws. Then the whole: dP/dtheta of a critic against central
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


# lesson 06's critic in miniature (strided convolutions, then Dense), with LayerNorm and
# tanh in place of its LeakyReLUs: every second-order term at once (LayerNorm's Jacobian
# depends on x, tanh has an f'')
conv_critic = Sequential(                            # on 8x8 images
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
# The f'' term is not a detail. Without it the pass is exact for ReLU and LeakyReLU
# critics (f'' = 0) only. numpy-ml (github.com/ddbourgin/numpy-ml), a NumPy library with
# a WGAN-GP, keeps f'' only in each layer's own bias gradient and has no backward sweep
# (FullyConnected._bwd2 in numpy_ml/neural_nets/layers/layers.py, called first layer to
# last by WGAN_GP._dGradInterp in numpy_ml/neural_nets/models/wgan_gp.py): exact for its
# ReLU critic, not for a smooth one. For the tanh/sigmoid critic above, dropped entirely:

# %%
class TanhWithoutCurvature(Tanh):
    def backward2(self, y_bar, delta, tcache, cache):
        return None if y_bar is None else self.backward(y_bar, cache)   # no f'' x_dot delta


class SigmoidWithoutCurvature(Sigmoid):
    def backward2(self, y_bar, delta, tcache, cache):
        return None if y_bar is None else self.backward(y_bar, cache)


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
#
# Lesson 07's layers get the same treatment. InstanceNorm2d is checked against its
# definition, one (image, channel) plane at a time,
#
#     y[n, c] = gamma[c] (x[n, c] - mean x[n, c]) / sqrt(var x[n, c] + eps) + beta[c],
#
# ReflectionPad2d against NumPy's own np.pad(x, ..., mode="reflect"). The pad is a copy,
# a linear map P, so its backward must be the adjoint P^T: <P x, u> = <x, P^T u> for
# every x and u, each pad pixel's gradient landing on the one pixel it copied.

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


def instance_norm_loop(x, gamma, beta, eps):
    """The definition of InstanceNorm2d, one (image, channel) plane at a time."""
    y = np.empty_like(x)
    for n, c in np.ndindex(*x.shape[:2]):
        plane = x[n, c]
        mu, var = plane.mean(), ((plane - plane.mean()) ** 2).mean()
        y[n, c] = gamma[c] * (plane - mu) / np.sqrt(var + eps) + beta[c]
    return y


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

instance_norm.to_dtype(np.float64)                   # the affine one of the table above
x = as64(backend.randn(2, 3, 4, 5, std=2.0) + 1.0)
y, gamma, beta, xh = on_host(instance_norm.forward(x)[0], instance_norm.params["gamma"],
                             instance_norm.params["beta"], x)
report_definition("InstanceNorm2d forward", "the loop over (image, channel)",
                  relative(y, instance_norm_loop(xh, gamma, beta, instance_norm.eps)))

pad = ReflectionPad2d(2)
x = as64(backend.randn(2, 2, 4, 5))
padded, cache = pad.forward(x)
y, xh = on_host(padded, x)
report_definition("ReflectionPad2d forward", 'np.pad(mode="reflect"), pad 2',
                  relative(y, np.pad(xh, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")))
u = as64(backend.randn(*padded.shape))
pad_x, uh, padT_u = on_host(padded, u, pad.backward(u, cache))
adjoint_err = abs((pad_x * uh).sum() - (xh * padT_u).sum())
adjoint_err /= np.linalg.norm(pad_x) * np.linalg.norm(uh)      # relative, as the conv pair's
report_definition("ReflectionPad2d backward", "<pad(x), u> = <x, pad^T(u)>", float(adjoint_err))

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
# ~1e-7 or better, input_grad=False and frozen leave out work without changing a number,
# and the convolutions, InstanceNorm2d, the reflection pad and the optimizers do what
# their definitions say: the library is ready for lesson 01. (The tests in tests/ repeat
# these checks over random shapes, strides and paddings, and check whole generator and
# discriminator steps end to end.)

# %%
failed = [name for name, ok in results if not ok]
print(f"\nFAILED: {', '.join(failed)}" if failed else
      f"\nall {len(results)} checks pass (threshold {THRESHOLD:.0e})")
if failed and "ipykernel" not in sys.modules:
    sys.exit(1)
