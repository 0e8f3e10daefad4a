"""Lesson 09: a GAN that learns to read digits from 100 labels (the semi-supervised GAN).

Papers: Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen 2016, "Improved Techniques for
Training GANs", https://arxiv.org/abs/1606.03498 (sec. 3.1 feature matching, sec. 5);
Odena 2016, "Semi-Supervised Learning with Generative Adversarial Networks",
https://arxiv.org/abs/1606.01583. The recipe: openai/improved-gan,
mnist_svhn_cifar10/train_mnist_feature_matching.py (its layers in nn.py).

D is a classifier with 10 logits l(x) and an implicit 11th class, "fake", whose logit is 0:
with Z = sum_k exp l_k(x), D(x) = P(real | x) = Z / (Z + 1). D descends

    L_sup   = -E_(x,y) log softmax(l(x))_y                  (100 labelled digits)
    L_unsup = -1/2 E_x log D(x) - 1/2 E_z log(1 - D(G(z)))  (unlabelled and generated)

and G descends feature matching, ||E_x f(x) - E_z f(G(z))||^2 / 250 (f: D's last hidden
layer). Telling real digits from G's near-misses teaches D what digits look like; the
labels only have to name the clusters it finds.

  G: z ~ U(0,1)^100 -> Dense 500, BN, softplus -> Dense 500, BN, softplus -> WN-Dense 784, sigmoid
  D: x + N(0, 0.3^2) -> WN-Dense 1000, 500, 250, 250, 250, each ReLU + N(0, 0.5^2) -> WN-Dense 10
  WN: weight-normalised, w = g v / ||v||, initialised on 500 digits. Adam 3e-3, beta1 0.5,
  batch 100 of each kind; 40 epochs, the rate constant for 26, then linearly to 0. Tested:
  an average of D's recent parameters (--average). --supervised-only: the control.

    python lessons/09_semi_supervised.py                  # 100 labels
    python lessons/09_semi_supervised.py --supervised-only
    python lessons/09_semi_supervised.py --labels 20      # or 50, 200, 1000

What to look for: the test error after every epoch (test_error.png): ~23% after the first,
a slow fall to ~10% by epoch 9, then a steep one (3% by epoch 19), while the control stays
near 25%; loss_unsup rising from ~0.1 to ~0.5 as G's samples become digit-like; G's grids,
digit-shaped strokes, many unreadable: feature matching makes D a good classifier and G a
poor artist (sec. 5), and metrics.json measures how poor.

Measured at the defaults (python lessons/09_semi_supervised.py, one CPU thread): test
error 1.44% [09_semi_supervised error] after 40 epochs, the control 24.61%
[09_semi_supervised-supervised-only error]; G's samples: FD 59.87 [09_semi_supervised fd]
(lesson 02: 3.89 [02_dcgan fd]). Curves, levers, labels: docs/lessons/09_semi_supervised.md.
"""
# %%
import json
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from minigan import backend, train
from minigan.data import load_mnist
from minigan.layers import frozen
from minigan.losses import bce_with_lse, feature_matching, softmax_cross_entropy
from minigan.optim import Adam
from minigan.semi import (SemiSupervisedBatches, classify, draw_labelled, init_discriminator,
                          semi_supervised_mnist, update_average)

LESSON = "09_semi_supervised"
parser = train.make_parser(LESSON, __doc__, epochs=40, batch_size=100, lr=3e-3, b1=0.5,
                           sample_interval=500)
parser.add_argument("--labels", type=train.positive_int, default=100,
                    help="labelled training digits, the same number of each class: a multiple "
                         "of 10 (default: %(default)s, the paper's Table 1 has 20, 50, 100, 200)")
parser.add_argument("--supervised-only", action="store_true",
                    help="the control: train D on the labelled digits alone (no G, no "
                         "unlabelled digits), with the same network, labels and steps")
parser.add_argument("--average", type=train.unit_float, default=0.999, metavar="DECAY",
                    help="test with an exponential moving average of D's parameters, decay "
                         "DECAY per step (improved-gan's disc_param_avg; 0: test D itself) "
                         "(default: %(default)s)")
parser.add_argument("--train-hidden-g", action="store_true",
                    help="D's hidden layers learn the length g of their weights too (improved-gan "
                         "keeps it at its data-dependent initial value)")
train.add_decay_from(parser, constant=", as improved-gan does", default=0.65)
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
train.setup(args)

# %% [markdown]
# ## The data: 100 labelled digits and 50,000 unlabelled ones
# The labelled digits are drawn with the seed from MNIST's 50,000 training digits, the same
# number of each class; every training digit (those 100 too) is also an unlabelled one. The
# last 10,000 of MNIST's training set stay untouched (the validation split), and the test
# error is read on the 10,000 test digits. Images are rows of 784 pixels in [0, 1], the
# range of G's sigmoid.

# %%
x_train, y_train = load_mnist("train")
if args.subset:
    x_train, y_train = x_train[:args.subset], y_train[:args.subset]
x_train = x_train.reshape(len(x_train), -1)
try:
    labelled_idx = draw_labelled(y_train, args.labels, seed=args.seed)
except ValueError as exc:
    train.fail(str(exc))
if args.batch_size > len(x_train):
    train.fail(f"--batch-size {args.batch_size} is larger than the {len(x_train)} training digits")
data = SemiSupervisedBatches(x_train[labelled_idx], y_train[labelled_idx], x_train,
                             args.batch_size, seed=args.seed)
x_test, y_test = load_mnist("test")
x_test = backend.asarray(x_test.reshape(len(x_test), -1))

# %% [markdown]
# ## The networks
# minigan/semi.py builds them (improved-gan's MNIST networks; minigan/layers/semi.py has
# WeightNormDense, GaussianNoise and Softplus with their backward passes). D is two Parts:
# D.features, up to the last hidden layer f(x) that feature matching reads, and D.head, the
# last noise and the 10 logits. Before training, every weight-normalised layer of D is
# scaled so that its pre-activations have mean 0 and variance 1 on 500 training digits.
#
# D_avg, an average of D's parameters over the recent steps (--average; about the last
# 1,000 at 0.999), is the classifier that is tested, as improved-gan tests one. At Adam's
# 3e-3, D's own weights jitter from step to step: after one epoch D may read several points
# more test digits wrong than after the one before, and late in a run the two differ by
# up to 0.3 points either way (docs/lessons/09_semi_supervised.md). D_avg costs one pass over
# D's parameters per step and never trains.

# %%
G, D = semi_supervised_mnist(z_dim=args.latent_dim, train_hidden_g=args.train_hidden_g)
init_discriminator(D, backend.asarray(x_train[:500]))
opt_G = Adam(G, lr=args.lr, betas=(args.b1, args.b2))
opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))
models, optimizers = {"G": G, "D": D}, {"G": opt_G, "D": opt_D}
if args.average:
    D_avg = semi_supervised_mnist(z_dim=args.latent_dim, train_hidden_g=args.train_hidden_g)[1]
    D_avg.load_state_dict(D.state_dict())
    models["D_avg"] = D_avg
if args.supervised_only:                               # G never trains: nothing to keep of it
    del models["G"], optimizers["G"]
measured = train.Measurements()                        # test error per epoch, kept on --resume
run = train.Run(args, LESSON, models=models, optimizers=optimizers, data=data,
                extra_state={"test_error": measured})
D_test = D_avg if args.average else D
z_grid = run.fixed_noise(100, args.latent_dim, low=0.0, high=1.0)
total_steps = args.epochs * len(data)


def discriminator_forward(x):
    """The 10 logits l(x) (N, 10) and the cache; D.features' output f(x) is inside it."""
    feats, feats_cache = D.features.forward(x)
    logits, head_cache = D.head.forward(feats)
    return logits, (feats_cache, head_cache)


def discriminator_backward(dlogits, cache):
    """D's parameter gradients only (input_grad=False): its inputs are data in D's step."""
    feats_cache, head_cache = cache
    D.features.backward(D.head.backward(dlogits, head_cache), feats_cache, input_grad=False)


def generate(z):
    """G in eval mode (BatchNorm's running statistics); images (N, 784) in [0, 1]."""
    images, _ = G.forward(z, train=False)
    return images


def test_error(model):
    """The share of the 10,000 test digits the model's classifier gets wrong (no noise)."""
    return float((classify(model, x_test) != y_test).mean())


def save_test_error_plot():
    """test_error.png: the test error per epoch, D_avg's and D's own, on a log scale."""
    import matplotlib.pyplot as plt                    # minigan.plot has chosen Agg
    from matplotlib.ticker import FuncFormatter
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in [("test_error", "D_avg" if args.average else "D"),
                       ("test_error_raw", "D itself")]:
        if measured.points and all(key in p for p in measured.points):
            epochs, errors = zip(*measured.curve(key))
            ax.plot(epochs, [100 * e for e in errors], marker="o", markersize=3, linewidth=1,
                    label=label)
    ax.set_yscale("log")
    percent = FuncFormatter(lambda v, _: f"{v:g}")     # 2, 5, 10 rather than 10^0
    ax.yaxis.set_major_formatter(percent)
    ax.yaxis.set_minor_formatter(percent)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error %")
    control = ", supervised only" if args.supervised_only else ""
    ax.set_title(f"{LESSON}: {args.labels} labels{control}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.savefig(os.path.join(args.out, "test_error.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)


# %% [markdown]
# ## Why ten logits are an 11-class discriminator
# Keras-GAN's acgan.py (lesson 05's starting point) ends its D in
# `Dense(num_classes + 1, activation="softmax")` and trains fakes as class 10
# (`fake_labels = 10 * np.ones(...)`): eleven logits a_0..a_10,
#     p(k | x) = exp a_k / sum_(j=0..10) exp a_j.
# A softmax does not change when the same constant is added to every logit (the constant
# cancels between numerator and denominator). Subtract a_10: the logits become
# l_k = a_k - a_10 for the ten digits and exactly 0 for "fake", with the same eleven
# probabilities. So every 11-logit D is a 10-logit D whose fake logit is fixed at 0 (and back:
# a_k = l_k, a_10 = 0); the eleventh output only adds a direction the softmax cannot see.
# With the fake logit 0,
#     p(fake | x) = 1 / (Z + 1),   D(x) = 1 - p(fake | x) = Z / (Z + 1) = sigmoid(log Z),
#     p(y | x, real) = exp l_y / Z = softmax(l)_y,
# so L_sup is the ordinary cross-entropy over the ten logits, and D's real/fake logit is
# lse(l) = log Z: L_unsup is binary cross-entropy on it (minigan.losses.bce_with_lse). The
# seed's loss on a fake, -log p(10 | G(z)), is this lesson's fake term; what is new is the
# term for a real digit without a label, -log D(x) = -log(1 - p(fake | x)): "some digit".

# %% [markdown]
# ## The training step, written out
# D's step: the labelled batch's cross-entropy, plus half the binary cross-entropy of the
# unlabelled batch (target real) and of G's batch (target fake), on logit lse(l):
#     L_D = L_sup + 1/2 [-log D(x_unl)] + 1/2 [-log(1 - D(G(z)))]
#         = L_sup - 1/2 E lse(l(x)) + 1/2 E softplus(lse(l(x))) + 1/2 E softplus(lse(l(G(z))))
# G's step, through the just-updated D, on a second unlabelled batch:
#     L_G = ||mean f(x_unl2) - mean f(G(z))||^2 / 250
# The three forwards of D's step each keep their own cache (and draw their own noise).

# %%
for epoch in run.epochs():
    for x_lab, y_lab, x_unl, x_unl2 in run.batches():
        for opt in optimizers.values():                  # constant, then linearly to 0
            opt.lr = train.linear_decay(args.lr, run.step, total_steps, args.decay_from)
        opt_D.zero_grad()
        logits_lab, lab_cache = discriminator_forward(x_lab)
        loss_sup, dlogits_lab = softmax_cross_entropy(logits_lab, y_lab)
        discriminator_backward(dlogits_lab, lab_cache)
        if args.supervised_only:                         # the control: L_sup alone
            opt_D.step()
            if args.average:
                update_average(D_avg, D, opt_D.t, args.average)
            run.log(loss_sup=loss_sup)
            continue

        z = backend.rand(len(x_unl), args.latent_dim)   # z ~ U(0, 1)^100
        fake, g_cache = G.forward(z)

        # ---- D step: L_sup + L_unsup
        logits_unl, unl_cache = discriminator_forward(x_unl)
        logits_fake, fake_cache = discriminator_forward(fake)
        loss_real, dlogits_unl = bce_with_lse(logits_unl, 1.0)     # -log D(x)
        loss_fake, dlogits_fake = bce_with_lse(logits_fake, 0.0)   # -log(1 - D(G(z)))
        discriminator_backward(0.5 * dlogits_unl, unl_cache)       # the authors' 1/2
        discriminator_backward(0.5 * dlogits_fake, fake_cache)
        opt_D.step()
        if args.average:
            update_average(D_avg, D, opt_D.t, args.average)

        # ---- G step: feature matching at D's last hidden layer
        opt_G.zero_grad()
        feats_real, _ = D.features.forward(x_unl2)       # the target: no backward through it
        feats_fake, feats_cache = D.features.forward(fake)
        loss_fm, dfeats = feature_matching(feats_fake, feats_real)
        with frozen(D):                                  # D's input gradient only
            dfake = D.features.backward(dfeats, feats_cache)
        G.backward(dfake, g_cache)
        opt_G.step()
        run.log(loss_sup=loss_sup, loss_unsup=0.5 * (loss_real + loss_fake), loss_fm=loss_fm)
        if run.should_sample():
            run.save_grid(generate(z_grid))

    # ---- the test error, every epoch
    point = {"epoch": epoch + 1, "step": run.step, "test_error": test_error(D_test)}
    if args.average:
        point["test_error_raw"] = test_error(D)          # D itself, without the average
    measured.points.append(point)
    print(f"epoch {epoch + 1}: test error {100 * point['test_error']:.2f}%"
          + (f" (D itself: {100 * point['test_error_raw']:.2f}%)" if args.average else ""),
          flush=True)
    save_test_error_plot()
    run.end_epoch(None if args.supervised_only else generate(z_grid))


# %% [markdown]
# ## What it learned
# predictions.npz: D's class for every test digit and which training digits were labelled.
# metrics.json: the test error (final and per epoch) next to the usual sample metrics of G
# (Frechet distance, inception-style score, class shares, Parzen; see docs/metrics.md):
# feature matching does not ask G for digits D calls real, only for D's average features,
# and the metrics show what that gives. test_error.png: the curve.


# %%
test_pred = classify(D_test, x_test)
np.savez_compressed(os.path.join(args.out, "predictions.npz"), test_pred=test_pred.astype(np.int64),
                    labelled_idx=labelled_idx.astype(np.int64))
if args.supervised_only:
    args.no_eval = True                                # G was never trained: nothing to measure
result = run.finish(lambda n: generate(backend.rand(n, args.latent_dim)))
result.update({
    "labels": args.labels, "supervised_only": args.supervised_only, "average": args.average,
    "test_error": float((test_pred != backend.to_host(y_test)).mean()),
    "test_error_raw": (measured.points[-1]["test_error_raw"] if args.average and measured.points
                       else None),
    "test_error_curve": measured.curve("test_error"),            # [[epoch, error], ...]
    "test_error_raw_curve": (measured.curve("test_error_raw") if args.average else None),
})
with open(os.path.join(args.out, "metrics.json"), "w") as f:
    json.dump(result, f, indent=2)
print(f"test error {100 * result['test_error']:.2f}% with {args.labels} labels"
      + (" (supervised only)" if args.supervised_only else ""), flush=True)
