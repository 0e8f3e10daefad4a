"""Lesson 01: the original GAN (Goodfellow et al. 2014), two MLPs playing a minimax game.

Paper: "Generative Adversarial Nets", https://arxiv.org/abs/1406.2661

A generator G maps noise z ~ p_z to an image; a discriminator D maps an image to the
probability that it came from the data. They play

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]          (eq. 1)

For a fixed G the best D is p_data / (p_data + p_g), and against that D, G minimises the
Jensen-Shannon divergence between p_data and p_g, so the game's solution is p_g = p_data.

Training alternates one ascent step for D on V and one descent step for G. The paper's
own remark (sec. 3): early on D rejects G's samples with high confidence, log(1 - D(G(z)))
saturates, and its gradient vanishes; "rather than training G to minimize
log(1 - D(G(z))) we can train G to maximize log D(G(z))": the same fixed point, strong
gradients early. That non-saturating loss is the default here; `--g-loss minimax` uses
eq. 1 as written, so you can watch it stall.

    python lessons/01_gan.py                 # MLPs in the style of PyTorch-GAN's gan.py
    python lessons/01_gan.py --arch paper    # the paper's nets (do not train yet, below)

Networks:
  --arch mlp   G: z 100 -> 128 -> 256 -> 512 -> 1024 -> 784 tanh, each hidden layer
               Dense -> BatchNorm -> LeakyReLU 0.2, except the first (128), which has no
               BatchNorm; D: 784 -> 512 -> 256 (LeakyReLU 0.2) -> 1 logit
               (minigan.models.mlp_gan, shared with lesson 03). BatchNorm's eps is the
               usual 1e-5: gan.py's BatchNorm1d(n, 0.8) passes 0.8 as eps, not momentum,
               and scores worse (docs/lessons/01_gan.md).
  --arch paper the authors' mnist.yaml: G z 100 (uniform [-1, 1]) -> 1200 ReLU -> 1200 ReLU
               -> 784 sigmoid; D 784 -> maxout 240x5 -> maxout 240x5 -> 1 logit, dropout
               0.8 keep on the input and 0.5 keep on the hidden layers; SGD with momentum.
               It does not train yet: one image for every z with SGD, mostly 1s with
               Adam (docs/lessons/01_gan.md).

Measured at the defaults, `python lessons/01_gan.py` (30 epochs, ~20 s each on a 2-core
CPU; docs/results.md): inception-style score 8.54, Frechet distance 22.79, every digit
7.1-12.8% of the samples, Parzen log-likelihood 181; what these numbers mean: the last
cell. The trials behind the defaults: docs/lessons/01_gan.md.

What to look for: digit-like strokes after a few epochs, clean digits by the end; with
`--g-loss minimax` G's loss sits near 0 (log(1 - D) with D(G(z)) ~ 0) and samples stay noise
for much longer.
"""
# %%
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigan import backend, train
from minigan.layers import Dense, Dropout, Maxout, ReLU, Sequential, Sigmoid, frozen
from minigan.losses import bce_with_logits
from minigan.models import mlp_gan
from minigan.optim import SGD, Adam

LESSON = "01_gan"
parser = train.make_parser(LESSON, __doc__, epochs=30, batch_size=64, lr=None, b1=0.5,
                           sample_interval=500)
parser.add_argument("--arch", choices=("mlp", "paper"), default="mlp",
                    help="mlp (PyTorch-GAN style, default) or paper (Goodfellow et al.'s nets)")
parser.add_argument("--g-loss", choices=("non-saturating", "minimax"), default="non-saturating",
                    help="G maximises log D(G(z)) (default) or minimises log(1 - D(G(z))) (eq. 1)")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
if args.lr is None:                      # Adam 2e-4 for the mlp nets; the paper used SGD 0.1
    args.lr = 2e-4 if args.arch == "mlp" else 0.1
train.setup(args)

# %% [markdown]
# ## The networks
# `--arch mlp` outputs tanh in [-1, 1] and trains on images scaled to [-1, 1];
# `--arch paper` outputs a sigmoid in [0, 1] and trains on the raw [0, 1] pixels. Neither
# D has a final sigmoid: BCE on the logit is the same loss, computed stably.

# %%
PIXELS = 28 * 28
if args.arch == "mlp":
    G, D = mlp_gan(z_dim=args.latent_dim)             # G's images are (N, 1, 28, 28);
                                                        # D flattens what it is given
    opt_G = Adam(G, lr=args.lr, betas=(args.b1, args.b2))
    opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))
    low = -1.0                                          # data and G's output in [-1, 1]
else:
    G = Sequential(Dense(args.latent_dim, 1200), ReLU(),
                   Dense(1200, 1200), ReLU(),
                   Dense(1200, PIXELS), Sigmoid())
    D = Sequential(Dropout(0.2), Maxout(PIXELS, 240, 5),
                   Dropout(0.5), Maxout(240, 240, 5),
                   Dropout(0.5), Dense(240, 1))
    opt_G = SGD(G, lr=args.lr, momentum=0.5)
    opt_D = SGD(D, lr=args.lr, momentum=0.5)
    low = 0.0                                           # data and G's output in [0, 1]

data = train.training_data(args, low=low)
run = train.Run(args, LESSON, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=data)


def noise(n):
    """The mlp nets use z ~ N(0, I); the paper's use z ~ U[-1, 1]^100."""
    if args.arch == "mlp":
        return backend.randn(n, args.latent_dim)
    return backend.rand(n, args.latent_dim, low=-1.0, high=1.0)


z_grid = (run.fixed_noise(100, args.latent_dim) if args.arch == "mlp"
          else run.fixed_noise(100, args.latent_dim, low=-1.0, high=1.0))


def generate(z):
    """Images in [0, 1], G in eval mode."""
    images, _ = G.forward(z, train=False)
    return (images - low) / (1 - low)


# %% [markdown]
# ## Algorithm 1, one step
# D ascends V: with targets 1 for x and 0 for G(z), BCE is exactly -V, so D descends
#     L_D = -[log D(x) + log(1 - D(G(z)))].
# G descends log(1 - D(G(z))) (minimax) or -log D(G(z)) (non-saturating). On the logit l
# of D(G(z)): log(1 - sigmoid(l)) = -BCE(l, target 0), so the minimax G loss is minus the
# BCE with target 0 and its gradient is minus that BCE's gradient.

# %%
for epoch in run.epochs():
    for x, _ in run.batches():
        x = x.reshape(len(x), PIXELS)
        z = noise(len(x))
        fake, g_cache = G.forward(z)

        # ---- D: descend -[log D(x) + log(1 - D(G(z)))]
        opt_D.zero_grad()
        logit_real, real_cache = D.forward(x)
        logit_fake, fake_cache = D.forward(fake)
        loss_real, dreal = bce_with_logits(logit_real, 1.0)
        loss_fake, dfake = bce_with_logits(logit_fake, 0.0)
        D.backward(dreal, real_cache)
        D.backward(dfake, fake_cache)
        opt_D.step()

        # ---- G: through the updated D
        opt_G.zero_grad()
        logit_fake, fake_cache = D.forward(fake)
        if args.g_loss == "non-saturating":
            g_loss, dlogit = bce_with_logits(logit_fake, 1.0)       # -log D(G(z))
        else:
            bce, dbce = bce_with_logits(logit_fake, 0.0)            # -log(1 - D(G(z)))
            g_loss, dlogit = -bce, -dbce                            #  log(1 - D(G(z)))
        with frozen(D):                                             # D's input gradient only
            G.backward(D.backward(dlogit, fake_cache), g_cache)
        opt_G.step()

        run.log(d_loss=loss_real + loss_fake, g_loss=g_loss)
        if run.should_sample():
            run.save_grid(generate(z_grid))
    run.end_epoch(generate(z_grid))


# %% [markdown]
# ## What it learned, measured
# `run.finish` saves 10,000 samples to samples.npz and scores them (minigan/metrics.py)
# with a small MNIST classifier built from minigan's own layers (over 99% test accuracy).
# Every later lesson prints the same lines. "Real" below is what 10,000 real training
# digits score, the ceiling row of docs/results.md.
#
# - Frechet distance, lower is better (real 2.04). A Gaussian fitted to the classifier's
#   128-d features of the samples, another to those of the MNIST test digits, and the
#   distance between the two: it sees both how digit-like and how varied the samples are.
#   Caveat: the features are this classifier's, not Inception's, so it compares with other
#   minigan runs, not with published FIDs.
# - Inception-style score, higher is better, 1 to 10 (real 9.67): exp E_x KL(p(y|x)||p(y)),
#   high when each sample is confidently one digit and all ten digits appear. Caveat: it
#   is computed with minigan's MNIST classifier, not Inception, and is blind to variety
#   within a digit: lesson 04's paper MLP draws one image per digit and scored 9.73
#   (FD 247).
# - Class shares, each near 10% (real 8.6-11.2%: MNIST is not quite uniform): the share of
#   samples the classifier reads as each digit; a digit far below 10% is one G dropped
#   (mode collapse). Caveat: every sample counts as some digit, however badly drawn.
# - Label accuracy, conditional lessons (04, 05) only, higher is better (real 98.9%): the
#   share of samples read as the digit G was asked for. Caveat: one image per label scores
#   100% (lesson 04's paper MLP again).
# - Parzen-window log-likelihood, higher is better (real 241 +- 2.1; the GAN paper reports
#   225 +- 2 for its nets): a Gaussian of width sigma (chosen on the validation split) on
#   every sample, and the mean log-density of the MNIST test digits under that mixture.
#   Caveat: it rewards pixel closeness to test digits, not quality: blurry averages of
#   training digits (k-means centres) beat real digits (Theis et al. 2016), and copying the
#   training set would score like the real row. It is here because the GAN paper reports it.
#
# This lesson at the defaults: FD 22.79, score 8.54, shares 7.1-12.8%, Parzen 181 +- 2.3.
# `--arch paper` is meant for the comparison with the paper's 225 but does not train yet.

# %%
run.finish(lambda n: generate(noise(n)))
