"""Lesson 02: DCGAN, a GAN made of convolutions (Radford, Metz & Chintala 2015).

Paper: "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", https://arxiv.org/abs/1511.06434

The objective is the GAN's (lesson 01): D maximises log D(x) + log(1 - D(G(z))), G
maximises log D(G(z)) (the non-saturating form). What DCGAN changed is the networks: its
"architecture guidelines for stable deep convolutional GANs" turn the MLPs into
convolutional nets that train reliably:
  - no pooling: strided convolutions in D, fractionally-strided (transposed) ones in G;
  - BatchNorm in both (not on G's output nor D's input);
  - no fully connected hidden layers (the one guideline the default network breaks, below);
  - ReLU in G with tanh at the output, LeakyReLU (slope 0.2) in D.

    G: z (100) -> Dense 1024, BN, ReLU -> Dense 128*7*7, BN, ReLU -> (128, 7, 7)
       -> ConvT 128->64 k4 s2 p1, BN, ReLU -> (64, 14, 14)
       -> ConvT 64->1 k4 s2 p1, tanh      -> (1, 28, 28)
    D: x (1, 28, 28) -> Conv 1->64 k4 s2 p1, LeakyReLU 0.2 -> (64, 14, 14)
       -> Conv 64->128 k4 s2 p1, BN, LeakyReLU 0.2 -> (128, 7, 7)
       -> Dense 6272->1024, BN, LeakyReLU 0.2 -> Dense -> 1 logit

(minigan/models.py: dcgan_mnist_fc, the MNIST networks of InfoGAN, Chen et al. 2016). The
one hidden dense layer on each side is the departure from the guidelines above that
matters on MNIST: D's reads the whole 7 x 7 map at once, a nonlinear feature of the
digit's global shape. Without it (`--arch small`: the same G without its first dense
layer, D Conv 1->64 -> Conv 64->128 -> Dense -> 1) each unit of D's last map sees a
10 x 10 patch and the read-out is linear, so D can only add up local evidence: it passes
strokes that make no digit, and the lesson flattens near an inception-style score of 7.5.
`--arch deep` (D with a third convolution whose units see 18 x 18 pixels) reaches 7.96.

Training: the paper's settings (batch 128, Adam with beta1 0.5, weights from N(0, 0.02),
D's learning rate 2e-4), with two additions. G learns at 1e-3, the rate InfoGAN's authors
train this G with (their D keeps 2e-4): five times DCGAN's, it lets G keep up with D, and
after 4 epochs G draws what took 8 at 2e-4 (--g-lr 2e-4 is DCGAN's setting). And both
rates are constant for the first half of the run, then fall linearly to 0 (--decay-from;
1 keeps them constant, as the paper does), which settles G on its sharpest digits.
docs/lessons/02_dcgan.md has the measurements behind each choice.

    python lessons/02_dcgan.py                 # the default network, 12 epochs
    python lessons/02_dcgan.py --arch small    # the benchmark's network, 30 epochs
    python lessons/02_dcgan.py --g-lr 2e-4     # DCGAN's rate for G too: FD 7.3, score 8.76
    python lessons/02_dcgan.py --device gpu

What to look for: digit-like strokes in runs/02_dcgan/epoch_001.png already, most of them
readable digits by epoch 3, sharper ones as the rates decay; D's loss (real + fake terms)
near 1.2-1.3 while the rates are constant, falling to ~0.95 as they decay, and G's rising
from ~0.8 to ~1.1 (D pulls ahead as the rates decay).

Measured at the defaults (python lessons/02_dcgan.py; 12 epochs, median 168 s each = 34
minutes on the 2-core CPU; docs/results.md): Frechet distance 3.89, inception-style score
9.12 (real digits: 2.04 and 9.67), every digit 8.9-11.2% of the samples. The curve per
epoch and the networks and rates tried on the way: docs/lessons/02_dcgan.md.
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
# discriminator 2e-4); the other --arch choices train both networks at 2e-4.

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
