"""Lesson 05: the auxiliary classifier GAN (Odena, Olah & Shlens 2017).

Paper: "Conditional Image Synthesis with Auxiliary Classifier GANs",
https://arxiv.org/abs/1610.09585

Lesson 04's D judges (image, label) pairs. ACGAN's D sees the image only and answers two
questions from one shared trunk: is it real (the source S, one logit), and which digit is
it (the class C, 10 logits)? With c the class of a real image, or the one G was asked for:

    L_S = E[log P(S = real | x_real)] + E[log P(S = fake | x_fake)]
    L_C = E[log P(C = c | x_real)]    + E[log P(C = c | x_fake)]

The paper's D maximises L_S + L_C and its G maximises L_C - L_S. In losses to descend,
with y the real batch's labels and c drawn uniformly for G:

    D, default (--class-loss-on real):  BCE(S(x), 1) + BCE(S(G(z,c)), 0) + CE(C(x), y)
    D, the paper's (--class-loss-on both): the same + CE(C(G(z,c)), c)
    G:  BCE(S(G(z,c)), 1) + CE(C(G(z,c)), c)      (non-saturating in place of -L_S)

The source head judges realism only; the class head is a digit classifier; G gets one
gradient from each. Trained on real digits only, the class head is never taught to read
G's clumsy early 5s as 5s: G must draw digits that a classifier of real digits reads right.

Networks (minigan.models.acgan_mnist, after Keras-GAN's acgan.py):
  G: z * embed(c) (a learned 100-d vector per class, times the noise) -> Dense 128*7*7,
     ReLU, BN -> ConvT 4x4 s2 (14x14), ReLU, BN -> ConvT (28x28), ReLU, BN -> Conv 3x3, tanh.
  D: Conv 3x3 s2 16 -> 32 -> 64, Conv s1 128 (LeakyReLU 0.2, dropout 0.25, BN in the middle
     two) -> 2048 features -> Dense -> 1 source logit, Dense -> 10 class logits.
  Adam 2e-4 (beta1 0.5), batch 64, weights N(0, 0.02); lr constant for half the run, then
  linearly to 0 (--decay-from).

What to look for: acc_real and acc_fake in the log, D's class head reading the real and
the fake batch as their labels (by default acc_fake is a real-digit classifier's verdict
on G); the 10 x 10 grids, one row per digit; the final label accuracy, read by minigan's
own classifier, not by D.

Measured at the defaults (python lessons/05_acgan.py; 10 epochs, 44 [05_acgan minutes] min on
the 2-core CPU): label accuracy 99.1% [05_acgan acc], Frechet distance 5.79 [05_acgan fd],
classes 9.9-10.1% [05_acgan classes], within-class diversity 0.93 [05_acgan diversity].
Why real digits only, the curves, the softmax trap: docs/lessons/05_acgan.md.
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
from minigan.losses import bce_with_logits, softmax_cross_entropy
from minigan.models import acgan_mnist
from minigan.optim import Adam

LESSON = "05_acgan"
parser = train.make_parser(LESSON, __doc__, epochs=10, batch_size=64, lr=2e-4, b1=0.5,
                           sample_interval=500)
parser.add_argument("--class-loss-on", choices=("real", "both"), default="real",
                    help="what D's class head learns from: real digits only (default), or real "
                         "digits and G's samples with the asked-for labels (both: the paper's "
                         "and acgan.py's L_C)")
train.add_decay_from(parser, constant=", as acgan.py does")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
train.setup(args)
CLASSES = 10

# %% [markdown]
# ## The networks
# G and D are `Parts`: named pieces this lesson wires together itself, because neither is
# a plain chain. G has a second input (the label, through the embedding); D has two heads.

# %%
G, D = acgan_mnist(z_dim=args.latent_dim, classes=CLASSES)
opt_G = Adam(G, lr=args.lr, betas=(args.b1, args.b2))
opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))
data = train.training_data(args)                      # MNIST in [-1, 1], like tanh
run = train.Run(args, LESSON, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=data)


def generator_forward(z, labels, train=True):
    """G(z * embed(c)): images (N, 1, 28, 28) in [-1, 1] and the cache for the backward."""
    e, e_cache = G.embed.forward(labels)               # (N, latent_dim), one row per class
    images, net_cache = G.net.forward(z * e, train)
    return images, (z, e_cache, net_cache)


def generator_backward(dimages, cache):
    """Through the conv net to its input h = z * e, then d(z * e)/de = z into the
    embedding's rows (the noise and the integer labels need no gradient)."""
    z, e_cache, net_cache = cache
    dh = G.net.backward(dimages, net_cache)
    G.embed.backward(dh * z, e_cache)


def discriminator_forward(images):
    """The shared trunk, then both heads on the same features: (source logit (N, 1),
    class logits (N, 10), cache)."""
    feats, trunk_cache = D.trunk.forward(images)
    source, source_cache = D.source.forward(feats)
    classes, classes_cache = D.classes.forward(feats)
    return source, classes, (trunk_cache, source_cache, classes_cache)


def discriminator_backward(dsource, dclasses, cache, input_grad=True):
    """Both heads read the same features, so their gradients add up there (the
    multivariate chain rule) before one backward pass through the trunk; returns dL/dimages
    (None with input_grad=False, in D's own step: see Sequential.backward)."""
    trunk_cache, source_cache, classes_cache = cache
    dfeats = D.source.backward(dsource, source_cache) + D.classes.backward(dclasses, classes_cache)
    return D.trunk.backward(dfeats, trunk_cache, input_grad=input_grad)


xp = backend.xp()
z_grid = xp.tile(run.fixed_noise(10, args.latent_dim), (10, 1))   # column j: the j-th fixed z
y_grid = xp.repeat(xp.arange(CLASSES), 10)                         # row k: digit k
total_steps = args.epochs * len(data)


def generate(z, labels):
    """G in eval mode (BatchNorm's running statistics); images in [0, 1]."""
    images, _ = generator_forward(z, labels, train=False)
    return (images + 1) / 2


def accuracy(logits, labels):
    return float((logits.argmax(axis=1) == labels).mean())


# %% [markdown]
# ## The training step, written out
# D descends  BCE(S(x), 1) + BCE(S(G(z, c)), 0) + CE(C(x), y), with y the real batch's
#   labels and c labels drawn uniformly; --class-loss-on both adds CE(C(G(z, c)), c),
#   and the sum is then -(L_S + L_C), the paper's;
# G descends  BCE(S(G(z, c)), 1) + CE(C(G(z, c)), c).
# BCE on the source logit and softmax cross-entropy on the class logits each return
# their gradient w.r.t. the logits; the two heads' gradients meet in the trunk.

# %%
for epoch in run.epochs():
    for x, labels in run.batches():
        for opt in (opt_G, opt_D):                       # constant, then linearly to 0
            opt.lr = train.linear_decay(args.lr, run.step, total_steps, args.decay_from)
        n = len(x)
        z = backend.randn(n, args.latent_dim)
        gen_labels = backend.randint(CLASSES, n)         # the classes G is asked for
        fake, g_cache = generator_forward(z, gen_labels)

        # ---- D step: maximise L_S + L_C on a real and a fake batch (by default, L_C's
        #      real half only)
        opt_D.zero_grad()
        source_real, classes_real, real_cache = discriminator_forward(x)
        source_fake, classes_fake, fake_cache = discriminator_forward(fake)
        loss_s_real, dsource_real = bce_with_logits(source_real, 1.0)
        loss_s_fake, dsource_fake = bce_with_logits(source_fake, 0.0)
        loss_c_real, dclasses_real = softmax_cross_entropy(classes_real, labels)
        loss_c_fake, dclasses_fake = softmax_cross_entropy(classes_fake, gen_labels)
        if args.class_loss_on == "real":                 # the class head is not told what
            loss_c_fake, dclasses_fake = 0.0, 0 * dclasses_fake   # G meant to draw
        discriminator_backward(dsource_real, dclasses_real, real_cache, input_grad=False)
        discriminator_backward(dsource_fake, dclasses_fake, fake_cache, input_grad=False)
        opt_D.step()
        d_loss = loss_s_real + loss_s_fake + loss_c_real + loss_c_fake
        acc_real = accuracy(classes_real, labels)       # D's class head on this step's
        acc_fake = accuracy(classes_fake, gen_labels)   # batches, before its update

        # ---- G step: be called real, and be classified as the asked-for digit,
        #      by the just-updated D
        opt_G.zero_grad()
        source_fake, classes_fake, fake_cache = discriminator_forward(fake)
        loss_s, dsource = bce_with_logits(source_fake, 1.0)
        loss_c, dclasses = softmax_cross_entropy(classes_fake, gen_labels)
        with frozen(D):                                  # D's input gradient only
            dfake = discriminator_backward(dsource, dclasses, fake_cache)   # dL_G/dG(z, c)
        generator_backward(dfake, g_cache)
        opt_G.step()
        run.log(d_loss=d_loss, g_loss=loss_s + loss_c, acc_real=acc_real, acc_fake=acc_fake)
        if run.should_sample():
            run.save_grid(generate(z_grid, y_grid))
    run.end_epoch(generate(z_grid, y_grid))


# %% [markdown]
# ## What it learned
# 10,000 samples, 1,000 per digit, with their labels in samples.npz; "label accuracy" in
# the metrics is minigan's classifier agreeing with the asked-for digit.

# %%
run.finish(lambda labels: generate(backend.randn(len(labels), args.latent_dim), labels),
           conditional=True)
