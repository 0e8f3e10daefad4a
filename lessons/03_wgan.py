"""Lesson 03: the Wasserstein GAN, a critic that estimates a distance.

Paper: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", https://arxiv.org/abs/1701.07875

When p_data and p_g lie on low-dimensional manifolds that do not overlap, the
Jensen-Shannon divergence that lesson 01's G minimises is the constant log 2, with no
gradient for G. The Earth-Mover distance W = inf over couplings of E ||x - y|| shrinks
smoothly as p_g moves towards p_data, and by the Kantorovich-Rubinstein duality

    W(p_data, p_g) = max over 1-Lipschitz f of  E_x[f(x)] - E_z[f(G(z))]

A critic D (a score: no sigmoid, no log) stands in for f, and G makes the estimate small:

    critic: minimise  mean D(G(z)) - mean D(x)        G: minimise  -mean D(G(z))

After every critic step each critic weight is clipped to [-0.01, 0.01] (--clip), which
keeps D K-Lipschitz for some K. The critic takes 5 steps per G step (--n-critic; 100 for
the first 25 G steps and every 500th), each on its own real batch; RMSprop at 5e-5,
batch 64 (the paper's Algorithm 1).

Networks (minigan/models.py), z ~ N(0, I) 100-d:
  --arch mlp    (default) lesson 01's MLPs: G z -> 128 -> 256 -> 512 -> 1024 -> 784, tanh;
                critic 784 -> 512 -> 256 -> 1 score, LeakyReLU 0.2
  --arch dcgan  lesson 02's --arch small networks; the critic keeps its BatchNorm

What to look for: wasserstein.png, the estimate on each training batch per G step, drops
steeply while the first strokes appear, then moves slowly. The paper says it tracks sample
quality; the lesson tests that: after epoch 1, every 5 epochs (--eval-every) and at the
end, W on 2,000 held-out test digits and 2,000 fixed z against the Frechet distance (FD) of
those samples, ranked by Spearman's rho (w_vs_fd.png); the claim needs rho >= 0.9.

Measured at the defaults, python lessons/03_wgan.py (100 epochs of
9.2 [03_wgan s_per_epoch] s, 15 [03_wgan minutes] minutes, 2-core CPU): rho 0.82 [03_wgan rho]
over 21 checkpoints, not supported. W falls from 9.6 [03_wgan w_heldout] to
0.06 [03_wgan w_heldout] in five epochs while the samples are still noise, then wanders
between 0.02 [03_wgan w_heldout] and 0.14 [03_wgan w_heldout] while FD keeps falling: it
tells noise from digits, not better digits from worse. Final samples: FD 113 [03_wgan fd],
score 6.71 [03_wgan score], every digit 7.2-15.6% [03_wgan classes].

The whole curve, why WGAN learns slowly here, the settings tried: docs/lessons/03_wgan.md
"""
# %%
import json
import os
import sys
import time

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from minigan import backend, metrics, plot, train
from minigan.data import load_mnist
from minigan.layers import frozen
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
parser.add_argument("--eval-every", type=int, default=5, metavar="N",
                    help="measure the held-out W estimate and the Frechet distance after epoch "
                         "1, every N epochs and after the last; 0: never (default: %(default)s; "
                         "--no-eval also turns it off)")
parser.add_argument("--eval-samples", type=train.positive_int, default=2000, metavar="N",
                    help="held-out test images and fixed noise vectors per measurement "
                         "(at most 10000) (default: %(default)s)")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
if not args.clip > 0:
    train.fail(f"--clip must be positive, got {args.clip}")
if args.eval_every < 0:
    train.fail(f"--eval-every must be 0 (never) or a number of epochs, got {args.eval_every}")
if args.eval_samples > 10000:
    train.fail(f"--eval-samples must be at most 10000 (the test split), got {args.eval_samples}")
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


# The measurements taken at checkpoints, one dict per checkpoint (epoch, G step, w_heldout,
# fd), kept in the run's checkpoint so a --resume keeps the points already taken.
measured = train.Measurements()
run = train.Run(args, LESSON, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=data, extra_state={"measured": measured})
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
# ## The measurement: W on held-out data against the Frechet distance
# The same held-out images and the same noise at every checkpoint: the test split (scaled
# to [-1, 1] like the training data), which the critic never sees, and z drawn from the
# run's own fixed-noise generator (after the grid's z), so measuring draws nothing from
# the training noise and a run is the same with or without it.

# %%
CLAIM_RHO, CLAIM_POINTS = 0.9, 10                     # the claim: rho >= 0.9 over >= 10 points
measuring = args.eval_every > 0 and not args.no_eval
if measuring:
    x_heldout = backend.asarray(2 * load_mnist("test")[0][:args.eval_samples] - 1)
    z_eval = run.fixed_noise(args.eval_samples, args.latent_dim)


def in_chunks(f, x, chunk=500):
    """f applied to x in chunks of 500 (a conv critic's im2col on 2,000 images at once
    would take hundreds of MB), the outputs concatenated."""
    return backend.xp().concatenate([f(x[i:i + chunk]) for i in range(0, len(x), chunk)])


def measure():
    """W_heldout = mean D(x_heldout) - mean D(G(z_eval)) and the Frechet distance of
    G(z_eval) to the test set, for the current networks in eval mode. The training noise
    is put back afterwards: building the classifier the first time draws its (then
    overwritten) initial weights from it."""
    rng = backend.rng_state()
    fake = in_chunks(lambda z: G.forward(z, train=False)[0], z_eval)       # in [-1, 1]
    score_real = in_chunks(lambda x: D.forward(x, train=False)[0], x_heldout)
    score_fake = in_chunks(lambda x: D.forward(x, train=False)[0], fake)
    w = float(score_real.mean()) - float(score_fake.mean())
    fd = metrics.frechet_distance_to_test((fake + 1) / 2)
    backend.set_rng_state(rng)
    return w, fd


def should_measure(epoch):
    """After epoch 1, every --eval-every epochs, and after the last (epoch counts from 0)."""
    return measuring and (epoch == 0 or (epoch + 1) % args.eval_every == 0
                          or epoch + 1 == args.epochs)


def rank_agreement(points):
    """Spearman's rho between the W and FD of these checkpoints (None under 2 of them)."""
    if len(points) < 2:
        return None
    rho = metrics.spearman([p["w_heldout"] for p in points], [p["fd"] for p in points])
    return None if np.isnan(rho) else rho


def save_w_vs_fd_plot():
    """w_vs_fd.png: W_heldout (left) and FD (right) per checkpoint, rho in the title."""
    import matplotlib.pyplot as plt                    # minigan.plot has chosen Agg
    rho = rank_agreement(measured.points)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, key, label in [(axes[0], "w_heldout", "W estimate on held-out data"),
                           (axes[1], "fd", "Frechet distance to the test set")]:
        epochs, values = zip(*measured.curve(key))
        ax.plot(epochs, values, marker="o", markersize=3, linewidth=1)
        if min(values) > 0 and max(values) > 10 * min(values):   # falls by orders of magnitude
            ax.set_yscale("log")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    rho_text = "n/a" if rho is None else f"{rho:.3f}"
    fig.suptitle(f"{LESSON}: Spearman rho(W, FD) = {rho_text} over {len(measured.points)} "
                 f"checkpoints ({args.eval_samples} held-out images, {args.eval_samples} fixed z)",
                 fontsize=10)
    fig.savefig(os.path.join(args.out, "w_vs_fd.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)


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
        D.backward(-dmean_real, real_cache, input_grad=False)   # d L_D / d D(x)    = -1/N
        D.backward(dmean_fake, fake_cache, input_grad=False)    # d L_D / d D(G(z)) = +1/N
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
        with frozen(D):                                # the critic's input gradient only
            dfake = D.backward(-dmean_fake, fake_cache)    # dL_G/dG(z), through the critic
        G.backward(dfake, g_cache)
        opt_G.step()
        run.log(w_estimate=w_estimate, g_loss=g_loss)
        if run.should_sample():
            run.save_grid(generate(z_grid))
    if should_measure(epoch):                          # before end_epoch, which checkpoints
        t0 = time.perf_counter()
        w, fd = measure()
        seconds = time.perf_counter() - t0
        run.t0 += seconds                              # the epoch's time is training time only
        measured.points.append({"epoch": epoch + 1, "step": run.step, "w_heldout": w, "fd": fd})
        print(f"epoch {epoch + 1}: W on held-out data {w:.4f}  Frechet distance {fd:.2f}  "
              f"({seconds:.1f}s to measure)", flush=True)
        save_w_vs_fd_plot()
    run.end_epoch(generate(z_grid))
    save_wasserstein_plot()


# %% [markdown]
# ## What it learned
# The final metrics: every digit class near 10% (the paper saw no mode collapse with
# WGAN) and the inception-style score. Then the claim: do W_heldout and FD rank the
# checkpoints alike? Both curves and both rank correlations (the whole run, and its second
# half) go into metrics.json; docs/lessons/03_wgan.md reads the default run's.

# %%
result = run.finish(lambda n: generate(backend.randn(n, args.latent_dim)))
if measured.points:
    points = measured.points
    late = [p for p in points if p["epoch"] > args.epochs / 2]
    rho, rho_late = rank_agreement(points), rank_agreement(late)
    result.update({
        "w_heldout": measured.curve("w_heldout"),          # [[epoch, W], ...]
        "fd_curve": measured.curve("fd"),                   # [[epoch, FD], ...]
        "eval_steps": [[p["epoch"], p["step"]] for p in points],
        "eval_samples": args.eval_samples,
        "spearman_w_fd": rho,
        "spearman_w_fd_second_half": rho_late,
        "spearman_w_fd_second_half_points": len(late),
    })
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    supported = rho is not None and rho >= CLAIM_RHO and len(points) >= CLAIM_POINTS
    print(f"Spearman rho(W on held-out data, Frechet distance) = "
          f"{'n/a' if rho is None else f'{rho:.3f}'} over {len(points)} checkpoints "
          f"(second half: {'n/a' if rho_late is None else f'{rho_late:.3f}'} over {len(late)}); "
          f"the claim (rho >= {CLAIM_RHO} over >= {CLAIM_POINTS}) is "
          f"{'supported' if supported else 'NOT supported'} by this run", flush=True)
