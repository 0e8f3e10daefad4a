"""Lesson 02: DCGAN, a GAN made of convolutions (Radford, Metz & Chintala 2015).

Paper: "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", https://arxiv.org/abs/1511.06434

The objective is the GAN's (lesson 01): D maximises log D(x) + log(1 - D(G(z))), G
maximises log D(G(z)) (the non-saturating form). What DCGAN changed is the networks: its
"architecture guidelines for stable deep convolutional GANs" turn the MLPs into
convolutional nets that train reliably:

    G: z (100) -> Dense 128*7*7, BN, ReLU -> (128, 7, 7)
       -> ConvT 128->64 k4 s2 p1, BN, ReLU -> (64, 14, 14)
       -> ConvT 64->1 k4 s2 p1, tanh       -> (1, 28, 28)
    D: x (1, 28, 28) -> Conv 1->64 k4 s2 p1, LeakyReLU 0.2 -> (64, 14, 14)
       -> Conv 64->128 k4 s2 p1, BN, LeakyReLU 0.2 -> (128, 7, 7) -> Dense -> 1 logit

(the networks live in minigan/models.py, shared with the benchmark, with each guideline
quoted at the line that follows it), trained with the paper's settings: batch 128,
Adam lr 2e-4 and beta1 0.5, weights from N(0, 0.02).

    python lessons/02_dcgan.py                 # 30 epochs, ~97 s each on a 2-core CPU (~48 min)
    python lessons/02_dcgan.py --epochs 5      # ~8 min: digits, but rougher (see below)
    python lessons/02_dcgan.py --device gpu

What to look for: digit-like strokes in runs/02_dcgan/epoch_001.png already, cleaner and
more varied ones as the epochs go; D's loss (real + fake terms) between ~0.4 and ~1 and
G's between ~1 and ~3: D ahead but never winning outright.

Measured: the default run's checkpoints, each scored on 5,000 samples:
    epoch                    5     10     15     20     25     30
    inception-style score  6.60   6.84   7.13   7.31   7.36   7.50
    Frechet distance        133    110     94     81     83     67
and its final 10,000 samples (docs/results.md): score 7.51, Frechet distance 64.8, every
digit class between 7.6% and 13.5% of the samples. Resumed to 45 epochs it flattens out
(7.60, 7.60, 7.67 at 35, 40, 45), far below real digits' 9.7. This network (the
benchmark's, so that speed compares across the project) learns slowly at the paper's
settings, and width is not why: G twice as wide with D half as wide scored 6.68 after 5
epochs against this one's 6.60. The same network in PyTorch, same init and step, scored
5.85 after 3 epochs: it is the network, not minigan. Lesson 04's conditional DCGAN, with
5 x 5 kernels and a 1024-unit layer, reaches 9.55 in 8 epochs.
"""
# %%
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigan import backend, train
from minigan.losses import bce_with_logits
from minigan.models import dcgan_mnist
from minigan.optim import Adam

LESSON = "02_dcgan"
parser = train.make_parser(LESSON, __doc__, epochs=30, batch_size=128, lr=2e-4, b1=0.5)
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
train.setup(args)

# %% [markdown]
# ## The networks and the optimizers
# "All models were trained with mini-batch stochastic gradient descent (SGD) with a
# mini-batch size of 128. All weights were initialized from a zero-centered Normal
# distribution with standard deviation 0.02." "We used the Adam optimizer ... learning
# rate of 0.0002 ... reducing beta1 to 0.5 helped stabilize training."

# %%
G, D = dcgan_mnist(z_dim=args.latent_dim)
opt_G = Adam(G, lr=args.lr, betas=(args.b1, args.b2))
opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))
data = train.training_data(args)                      # MNIST scaled to [-1, 1], like tanh
run = train.Run(args, LESSON, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=data)
z_grid = run.fixed_noise(100, args.latent_dim)        # the same 100 z in every grid


def generate(z):
    """G in eval mode (BatchNorm uses its running statistics); images in [0, 1]."""
    images, _ = G.forward(z, train=False)
    return (images + 1) / 2


# %% [markdown]
# ## The training step, written out
# One step = one update of D on a real and a fake batch, then one update of G.
# D's loss is binary cross-entropy with targets 1 (real) and 0 (fake):
#     L_D = -[log D(x) + log(1 - D(G(z)))]
# G's non-saturating loss makes D call its samples real:
#     L_G = -log D(G(z))
# Both use the logit form of BCE, so D has no sigmoid layer.

# %%
for epoch in run.epochs():
    for x, _ in run.batches():
        n = len(x)
        z = backend.randn(n, args.latent_dim)
        fake, g_cache = G.forward(z)

        # ---- D step: maximise log D(x) + log(1 - D(G(z)))
        opt_D.zero_grad()
        logit_real, real_cache = D.forward(x)          # two forwards before any backward:
        logit_fake, fake_cache = D.forward(fake)       # each keeps its own cache
        loss_real, dlogit_real = bce_with_logits(logit_real, 1.0)
        loss_fake, dlogit_fake = bce_with_logits(logit_fake, 0.0)
        D.backward(dlogit_real, real_cache)            # grads of both terms add up in D.grads
        D.backward(dlogit_fake, fake_cache)            # (the fake's input gradient is unused:
        opt_D.step()                                   #  G is held fixed in this step)

        # ---- G step: maximise log D(G(z)) through the just-updated D
        opt_G.zero_grad()
        logit_fake, fake_cache = D.forward(fake)
        g_loss, dlogit = bce_with_logits(logit_fake, 1.0)
        dfake = D.backward(dlogit, fake_cache)         # dL_G/dG(z): D's input gradient
        G.backward(dfake, g_cache)                     # ... carried back through G
        opt_G.step()                                   # (D's grads from this pass are zeroed
                                                       #  before D's next step)
        run.log(d_loss=loss_real + loss_fake, g_loss=g_loss)
        if run.should_sample():
            run.save_grid(generate(z_grid))
    run.end_epoch(generate(z_grid))


# %% [markdown]
# ## What it learned
# 10,000 samples go to runs/02_dcgan/samples.npz and are measured with minigan's MNIST
# classifier (see minigan/metrics.py): Frechet distance, inception-style score, class
# shares and the Parzen-window log-likelihood.

# %%
run.finish(lambda n: generate(backend.randn(n, args.latent_dim)))
