"""Lesson 02: DCGAN, a GAN made of convolutions.

Paper: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", https://arxiv.org/abs/1511.06434

The objective is lesson 01's, with G's non-saturating loss:

    D: minimise -[log D(x) + log(1 - D(G(z)))]        G: minimise -log D(G(z))

What DCGAN changed is the networks. Its guidelines: strided convolutions in D and
transposed ones in G instead of pooling; BatchNorm in both, but not on G's output nor on
D's input; ReLU in G with a tanh output, LeakyReLU 0.2 in D; no fully connected hidden
layers, the one guideline the default network breaks (the docs page says why).

Networks (minigan/models.py), z ~ N(0, I) 100-d, weights N(0, 0.02):
  --arch fc     (default; InfoGAN's MNIST nets) G z -> Dense 1024 -> Dense 128*7*7
                -> ConvT 128->64 (14x14) -> ConvT 64->1 (28x28), tanh;
                D Conv 1->64 (14x14) -> Conv 64->128 (7x7) -> Dense 1024 -> 1 logit
  --arch small  the same without the two 1024-unit layers
  --arch deep   small's G; D with a third stride-2 convolution (32-64-128 channels, 4x4)
  --arch keras  lesson 05's G and D (4 convolutions, dropout), without the labels
Adam, beta1 0.5, batch 128 (keras: 64). D learns at 2e-4, the paper's rate; with --arch
fc G learns at 1e-3, the rate InfoGAN's authors train this G with (--g-lr; the other
archs train G at --lr). Both rates are constant for the first half of the run, then fall
linearly to 0 (--decay-from; 1 keeps them constant, as the paper does).

What to look for: digit-like strokes in epoch_001.png already, most of them readable
digits by epoch 3, sharper ones as the rates decay. In losses.png D's loss (real + fake
terms) stays near 1.2-1.3 while the rates are constant (2 log 2 = 1.39 is a D that cannot
tell), falling to ~0.95 as they decay, while G's rises from ~0.8 to ~1.1.

Measured at the defaults, python lessons/02_dcgan.py (12 epochs of
168 [02_dcgan s_per_epoch] s, 34 [02_dcgan minutes] minutes on a 2-core CPU): Frechet
distance 3.89 [02_dcgan fd], inception-style score 9.12 [02_dcgan score] (real digits:
2.04 [zz-reference fd] and 9.67 [zz-reference score]), every digit
8.9-11.2% [02_dcgan classes] of the samples. With --device gpu on one H200:
10.7 [02_dcgan-gpu s_per_epoch] s an epoch, FD 4.26 [02_dcgan-gpu fd].

Why this network and these rates, the alternatives measured: docs/lessons/02_dcgan.md
"""
# %%
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigan import backend, train
from minigan.layers import frozen
from minigan.losses import bce_with_logits
from minigan.models import dcgan_mnist, dcgan_mnist_deep, dcgan_mnist_fc, dcgan_mnist_keras
from minigan.optim import Adam

LESSON = "02_dcgan"
ARCHS = {"deep": dict(epochs=30, batch_size=128), "small": dict(epochs=30, batch_size=128),
         "keras": dict(epochs=10, batch_size=64), "fc": dict(epochs=12, batch_size=128, g_lr=1e-3)}
NETWORKS = {"deep": dcgan_mnist_deep, "small": dcgan_mnist, "keras": dcgan_mnist_keras,
            "fc": dcgan_mnist_fc}
parser = train.make_parser(LESSON, __doc__, batch_size=None, lr=2e-4, b1=0.5, arch_table=ARCHS)
parser.add_argument("--arch", choices=tuple(ARCHS), default="fc",
                    help="fc (default: InfoGAN's nets, a dense hidden layer in G and D), "
                         "small (the benchmark's network), deep (small G, D with a third "
                         "convolution) or keras (lesson 05's networks without labels)")
parser.add_argument("--g-lr", type=train.positive_float, default=None,
                    help="G's learning rate; --lr is D's (default: 1e-3, InfoGAN's, for "
                         "--arch fc; --lr for the others)")
train.add_decay_from(parser, constant=", as the paper does")
parser.add_argument("--g-steps", type=train.positive_int, default=1,
                    help="G updates per D update, on the same z (default: %(default)s, the "
                         "paper's; 2 is carpedm20's, as in lesson 04; measured at --g-lr 2e-4 "
                         "in docs/lessons/02_dcgan.md)")
args = train.apply_arch_defaults(parser.parse_args([] if "ipykernel" in sys.modules else None), ARCHS)
if args.g_lr is None:                                 # the archs without their own: D's rate
    args.g_lr = args.lr
train.setup(args)

# %% [markdown]
# ## The networks and the optimizers
# "All models were trained with mini-batch stochastic gradient descent (SGD) with a
# mini-batch size of 128. All weights were initialized from a zero-centered Normal
# distribution with standard deviation 0.02." "We used the Adam optimizer ... learning
# rate of 0.0002 ... reducing beta1 to 0.5 helped stabilize training." The default
# network's G learns at InfoGAN's rate for it (its MNIST launcher: generator 1e-3,
# discriminator 2e-4); the other --arch choices train both networks at --lr (2e-4).

# %%
G, D = NETWORKS[args.arch](z_dim=args.latent_dim)
opt_G = Adam(G, lr=args.g_lr, betas=(args.b1, args.b2))
opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))
data = train.training_data(args)                      # MNIST scaled to [-1, 1], like tanh
run = train.Run(args, LESSON, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=data)
z_grid = run.fixed_noise(100, args.latent_dim)        # the same 100 z in every grid
total_steps = args.epochs * len(data)


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
        # constant, then linearly to 0
        opt_G.lr = train.linear_decay(args.g_lr, run.step, total_steps, args.decay_from)
        opt_D.lr = train.linear_decay(args.lr, run.step, total_steps, args.decay_from)
        n = len(x)
        z = backend.randn(n, args.latent_dim)
        fake, g_cache = G.forward(z)

        # ---- D step: maximise log D(x) + log(1 - D(G(z)))
        opt_D.zero_grad()
        logit_real, real_cache = D.forward(x)          # two forwards before any backward:
        logit_fake, fake_cache = D.forward(fake)       # each keeps its own cache
        loss_real, dlogit_real = bce_with_logits(logit_real, 1.0)
        loss_fake, dlogit_fake = bce_with_logits(logit_fake, 0.0)
        D.backward(dlogit_real, real_cache, input_grad=False)  # grads of both terms add up in
        D.backward(dlogit_fake, fake_cache, input_grad=False)  # D.grads; no input gradient: G is
        opt_D.step()                                           # held fixed in this step

        # ---- G step(s): maximise log D(G(z)) through the just-updated D
        for k in range(args.g_steps):
            if k > 0:
                fake, g_cache = G.forward(z)           # G changed: draw the batch again
            opt_G.zero_grad()
            logit_fake, fake_cache = D.forward(fake)
            g_loss, dlogit = bce_with_logits(logit_fake, 1.0)
            with frozen(D):                            # D's parameter gradients: not needed
                dfake = D.backward(dlogit, fake_cache)     # dL_G/dG(z): D's input gradient
            G.backward(dfake, g_cache)                 # ... carried back through G
            opt_G.step()
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
