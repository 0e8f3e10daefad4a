"""Lesson 03: the Wasserstein GAN (Arjovsky, Chintala & Bottou 2017).

Paper: "Wasserstein GAN", https://arxiv.org/abs/1701.07875

Lesson 01's D, trained to optimality, makes G minimise the Jensen-Shannon divergence
between p_data and p_g. When the two distributions live on low-dimensional manifolds that
do not overlap (digits and early samples do not), JS is the constant log 2 whatever the
distance between them: it saturates, its gradient vanishes, and D's loss tells you
nothing about how good the samples are. The Earth-Mover (Wasserstein-1) distance

    W(p_data, p_g) = inf over couplings gamma of E_(x, y)~gamma ||x - y||

is continuous in G's parameters and shrinks smoothly as p_g moves towards p_data. By the
Kantorovich-Rubinstein duality it is a maximum over 1-Lipschitz functions f:

    W(p_data, p_g) = max_(||f||_L <= 1)  E_x[f(x)] - E_z[f(G(z))]

WGAN trains a *critic* D (a discriminator whose output is a score, no sigmoid, no
log) to approximate that f, and G to make the critic's estimate small:

    critic:  minimise  L_D = mean D(G(z)) - mean D(x)       (= -W estimate)
    G:       minimise  L_G = -mean D(G(z))

The critic is kept (K-)Lipschitz the crude way the paper admits: after every critic update
every weight is clipped to [-c, c], c = 0.01. Because the estimate is only meaningful
near the critic's optimum, the critic takes n_critic = 5 steps per G step (100 steps for
the first 25 G steps and every 500th, as in the paper's code, to get it there). Momentum
made training unstable, so the paper uses RMSprop, lr 5e-5 (Algorithm 1).

So the critic's loss means something: W = mean D(x) - mean D(G(z)) is an estimate of the
distance between the two distributions (up to the Lipschitz constant the clipping allows),
and it *falls as the samples improve* (the paper's Figures 3-4). That curve is the point
of this lesson: runs/03_wgan/wasserstein.png.

    python lessons/03_wgan.py                  # MLP G and critic, on the CPU
    python lessons/03_wgan.py --arch dcgan     # the DCGAN nets of lesson 02 (slower on a CPU)

Networks:
  --arch mlp    G: z 100 -> 128 -> 256 -> 512 -> 1024 (LeakyReLU 0.2, BatchNorm) -> 784
                tanh, as lesson 01's mlp;  critic: 784 -> 512 -> 256 (LeakyReLU 0.2) -> 1.
  --arch dcgan  minigan.models.dcgan_mnist (lesson 02's nets). The critic keeps its
                BatchNorm, as the paper's DCGAN critic does; it simply has no sigmoid:
                the logit of lesson 02 is read as the score.

One epoch is one pass over the training batches. Every critic step eats one real batch
(as in the paper's code), so an epoch of 937 batches of 64 makes about 937 / 5 = 187 G
steps; the first epoch makes far fewer (the 100-step warm-up).

What to look for: W (wasserstein.png) starts high (the MLP critic, its weights at +-0.01,
tells gray noise from digits by a wide margin: ~30) and drops by two orders of magnitude
over the first few hundred G steps, while the first strokes appear; after that it moves
slowly, and so do the grids: read the two side by side. G's loss alone tells you little.
Samples improve more slowly than lesson 02's (lr 5e-5, clipped weights), but every
digit class shows up (no mode collapse).

Default run (mlp, 100 epochs, ~10 s each on a 2-core CPU, so ~17 min): inception-style
score 6.71, Frechet distance 113, every class between 7.2% and 15.6% of the samples.
Every digit is there, but the strokes stay rough: lesson 01's nets reach 8.5 in 30
epochs with Adam 2e-4; here RMSprop 5e-5 and a clipped critic move G far more slowly.
More epochs help less and less (one run, its checkpoints scored on 5,000 samples):
    epoch                    25     50     75    100    125
    inception-style score  4.85   5.97   6.43   6.70   6.83
    Frechet distance        288    177    134    114    102

Why so slow? We measured it (5,000 samples each, same seed, score after 10/20/30 epochs):
  this lesson as it is                       2.59 / 4.35 / 5.31
  a wider critic, 1024 -> 512 -> 256         2.91 / 4.70 /  -
  a deeper one, 512 -> 512 -> 512            3.23 / 4.52 / 5.26
  this lesson with lr 2e-4 instead of 5e-5   4.41 / 5.25 /  -
A bigger critic hardly helps; a larger step does. Nor is a step slow to compute: a critic
step takes ~9.5 ms on one core, almost all of it the matrix products. The small,
momentum-free step (the paper found momentum unstable with a clipped critic) is the price
of enforcing the Lipschitz constraint this crudely; WGAN-GP (Gulrajani et al. 2017)
replaces the clipping with a gradient penalty and trains with Adam at 1e-4.
"""
# %%
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from minigan import backend, plot, train
from minigan.losses import mean
from minigan.models import dcgan_mnist, mlp_gan
from minigan.optim import RMSprop

LESSON = "03_wgan"
parser = train.make_parser(LESSON, __doc__, epochs=100, batch_size=64, lr=5e-5,
                           sample_interval=500)
parser.add_argument("--arch", choices=("mlp", "dcgan"), default="mlp",
                    help="mlp (default, fast on a CPU) or dcgan (lesson 02's nets)")
parser.add_argument("--n-critic", type=train.positive_int, default=5,
                    help="critic steps per G step (default: %(default)s)")
parser.add_argument("--clip", type=float, default=0.01,
                    help="clip every critic weight to [-clip, clip] (default: %(default)s)")
parser.add_argument("--no-warmup-schedule", action="store_true",
                    help="always n_critic critic steps (the paper's code takes 100 for the "
                         "first 25 G steps and every 500th)")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
if not args.clip > 0:
    train.fail(f"--clip must be positive, got {args.clip}")
train.setup(args)

# %% [markdown]
# ## The networks and the optimizers
# "We use RMSProp ... learning rate 0.00005" (Algorithm 1: alpha = 5e-5, c = 0.01,
# m = 64, n_critic = 5). Both nets output in [-1, 1] space: G ends in tanh and the data
# is scaled to [-1, 1].

# %%
if args.arch == "mlp":
    G, D = mlp_gan(z_dim=args.latent_dim)
else:
    G, D = dcgan_mnist(z_dim=args.latent_dim)
opt_G = RMSprop(G, lr=args.lr)
opt_D = RMSprop(D, lr=args.lr)
data = train.training_data(args)                      # MNIST in [-1, 1], like tanh
run = train.Run(args, LESSON, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=data)
z_grid = run.fixed_noise(100, args.latent_dim)        # the same 100 z in every grid


def generate(z):
    """G in eval mode; images in [0, 1]."""
    images, _ = G.forward(z, train=False)
    return (images + 1) / 2


def critic_steps_for(g_step):
    """The paper's schedule: 100 critic steps before each of the first 25 G steps and
    before every 500th, so the critic is near its optimum when W is read; else n_critic."""
    if not args.no_warmup_schedule and (g_step < 25 or g_step % 500 == 0):
        return 100
    return args.n_critic


def clip_weights(model, c):
    """Algorithm 1, line 7: w <- clip(w, -c, c), in place, for every critic parameter
    (BatchNorm's gamma and beta included, as in the paper's code)."""
    xp = backend.xp()
    for _, owner, key in model.parameters():
        xp.clip(owner.params[key], -c, c, out=owner.params[key])


def save_wasserstein_plot():
    """W estimate per G step, and its running mean over 50 steps, in wasserstein.png."""
    points = run.history.get("w_estimate", [])
    if not points:
        return
    steps, w = map(np.asarray, zip(*points))
    k = max(1, min(50, len(w) // 5))
    smooth = np.convolve(w, np.ones(k) / k, mode="valid")
    plot.save_curves({"W estimate": points, f"mean of {k}": list(zip(steps[k - 1:], smooth))},
                     os.path.join(args.out, "wasserstein.png"),
                     title=f"{LESSON}: mean D(x) - mean D(G(z)), per G step")


# %% [markdown]
# ## Algorithm 1, written out
# Critic step (on every batch): minimise L_D = mean D(G(z)) - mean D(x), then clip.
# `mean` returns the mean of the scores and its gradient 1/N per score, so the gradient
# of L_D is +1/N on each fake score and -1/N on each real one.
# G step (after every n_critic critic steps): minimise L_G = -mean D(G(z)) with fresh z,
# through the critic's input gradient. The steps counter `run.step` counts G steps.

# %%
for epoch in run.epochs():
    critic_steps = 0
    for x, _ in run.batches():
        n = len(x)
        z = backend.randn(n, args.latent_dim)
        fake, _ = G.forward(z)                         # G is held fixed in this step

        # ---- critic step: minimise mean D(G(z)) - mean D(x)
        opt_D.zero_grad()
        score_real, real_cache = D.forward(x)
        score_fake, fake_cache = D.forward(fake)
        mean_real, dmean_real = mean(score_real)
        mean_fake, dmean_fake = mean(score_fake)
        D.backward(-dmean_real, real_cache)            # d L_D / d D(x)    = -1/N
        D.backward(dmean_fake, fake_cache)             # d L_D / d D(G(z)) = +1/N
        opt_D.step()
        clip_weights(D, args.clip)                     # keep the critic K-Lipschitz
        w_estimate = mean_real - mean_fake             # = -L_D, before this update

        critic_steps += 1
        if critic_steps < critic_steps_for(run.step):
            continue
        critic_steps = 0

        # ---- G step: minimise -mean D(G(z))
        opt_G.zero_grad()
        z = backend.randn(n, args.latent_dim)
        fake, g_cache = G.forward(z)
        score_fake, fake_cache = D.forward(fake)
        mean_fake, dmean_fake = mean(score_fake)
        g_loss = -mean_fake
        dfake = D.backward(-dmean_fake, fake_cache)    # dL_G/dG(z), through the critic
        G.backward(dfake, g_cache)
        opt_G.step()                                   # (the critic's grads from this pass
                                                       #  are zeroed before its next step)
        run.log(w_estimate=w_estimate, g_loss=g_loss)
        if run.should_sample():
            run.save_grid(generate(z_grid))
    run.end_epoch(generate(z_grid))
    save_wasserstein_plot()


# %% [markdown]
# ## What it learned
# wasserstein.png should fall as the epoch grids improve. The final metrics: every digit
# class near 10% (WGAN's promise of no mode collapse) and the inception-style score.

# %%
run.finish(lambda n: generate(backend.randn(n, args.latent_dim)))
