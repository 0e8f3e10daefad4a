"""Lesson 04: the conditional GAN (Mirza & Osindero 2014): ask G for a particular digit.

Paper: "Conditional Generative Adversarial Nets", https://arxiv.org/abs/1411.1784

Give both networks the digit's class y (one-hot) and the game becomes conditional (eq. 2):

    min_G max_D  E_(x,y)[log D(x | y)] + E_(z,y)[log(1 - D(G(z | y) | y))]

D judges pairs: a real digit with its own label, or G's image with the label G was asked
for. A 3 shown with the label 7 is easy to reject, so G must draw the digit asked for.
G descends the non-saturating -log D(G(z|y)|y). With --arch dcgan, D also rejects real
digits shown with a wrong label y' (--mismatch, Reed et al. 2016):
L_D = -[log D(x|y) + (log(1 - D(x|y')) + log(1 - D(G(z|y)|y))) / 2]. In training, y is the
real batch's labels, so G is asked for each digit as often as MNIST has it.

    python lessons/04_cgan.py                  # carpedm20's conditional DCGAN (default)
    python lessons/04_cgan.py --arch paper     # the paper's MLPs and SGD recipe

Networks (minigan/models.py):
  --arch dcgan: carpedm20/DCGAN-tensorflow's conditional DCGAN: y joins the input and every
    hidden layer (a vector after a dense layer, 10 constant maps after a conv). G [z, y] ->
    1024 -> 128x7x7 -> ConvT 5x5 s2 (14x14) -> ConvT (28x28), sigmoid, BatchNorm; D [x, y] ->
    Conv 5x5 s2 -> Conv -> 1024 -> logit. z ~ U[-1, 1]^100, Adam 2e-4 (beta1 0.5), batch 64,
    2 G steps per D step, lr constant for half the run, then linearly to 0 (--decay-from).
  --arch paper: sec. 4.1's MLPs, a z tower and a y tower joined: G z -> 200, y -> 1000, ->
    1200 -> 784 sigmoid (ReLU); D x -> maxout 240x5, y -> maxout 50x5, -> maxout 240x4 ->
    logit; dropout 0.5 (0.2 on D's image input); SGD, batch 100, lr 0.1 / 1.00004 per step,
    momentum 0.5 -> 0.7 by epoch 250; the G kept: the best validation Parzen estimate.

What to look for: the 10 x 10 grids, row k asking for digit k, column j one fixed z. Each
row becomes its digit; with --arch dcgan the columns differ in slant and stroke (z carries
the style). --arch paper's G ignores z and draws its variety from its dropout masks, so it
is sampled with dropout on (--sample-dropout). The final samples ask for every digit 1,000
times; label accuracy is how often the classifier reads the digit asked for.

Measured at the defaults (python lessons/04_cgan.py; 7 epochs, 43.6 [04_cgan minutes] min on
the 2-core CPU): label accuracy 99.2% [04_cgan acc], Frechet distance 8.25 [04_cgan fd],
classes 9.9-10.1% [04_cgan classes], within-class diversity 0.94 [04_cgan diversity];
--arch paper: Parzen 159.3 ± 1.5 [04_cgan-arch-paper parzen], the paper's Table 1 132 ± 1.8.
Why each choice, what each flag changes, the trials: docs/lessons/04_cgan.md.
"""
# %%
import argparse
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigan import backend, init, train
from minigan.conditioning import one_hot
from minigan.layers import frozen
from minigan.losses import bce_with_logits
from minigan.models import cgan_dcgan, cgan_mlp
from minigan.optim import SGD, Adam, exponential_decay, linear_momentum

LESSON = "04_cgan"
# Per-architecture defaults, applied after parsing to every flag left unset.
ARCHS = {
    "dcgan": dict(epochs=7, batch_size=64, optimizer="adam", g_steps=2,   # carpedm20's
                  sample_dropout=False),
    "paper": dict(epochs=100, batch_size=100, optimizer="sgd", g_steps=1,  # Mirza & Osindero's
                  sample_dropout=True),
}
ALIASES = {"mlp": "paper"}                               # another name for --arch paper
parser = train.make_parser(LESSON, __doc__, b1=0.5, sample_interval=500, arch_table=ARCHS)
parser.add_argument("--arch", choices=(*ARCHS, *ALIASES), default="dcgan",
                    help="dcgan (carpedm20's conditional DCGAN, default) or paper (the paper's "
                         "MLPs; 'mlp' is an alias)")
parser.add_argument("--optimizer", choices=("adam", "sgd"), default=None,
                    help=train.arch_defaults_help(
                        ARCHS, "optimizer", "adam (lr 2e-4, beta1 0.5) or, --arch paper only, "
                        "sgd (the paper's schedule: lr 0.1 decayed by 1.00004 per step, momentum "
                        "0.5 -> 0.7)"))
parser.add_argument("--g-steps", type=train.positive_int, default=None,
                    help=train.arch_defaults_help(
                        ARCHS, "g_steps", "G updates per D update, on the same z and y (2: "
                        "carpedm20's code)"))
parser.add_argument("--select-every", type=train.positive_int, default=5, metavar="N",
                    help="--arch paper: every N epochs, score G on the validation split "
                         "(Parzen) and keep the best G for the final samples (default: %(default)s)")
parser.add_argument("--sample-dropout", action=argparse.BooleanOptionalAction, default=None,
                    help=train.arch_defaults_help(
                        ARCHS, "sample_dropout", "--arch paper: keep G's dropout on when "
                        "sampling (G learns to draw its variety from the dropout masks)"))
parser.add_argument("--mismatch", action=argparse.BooleanOptionalAction, default=True,
                    help="--arch dcgan: D also learns to reject real digits shown with a "
                         "wrong label (Reed et al. 2016's matching-aware D; default: on; "
                         "--no-mismatch is carpedm20's D loss)")
train.add_decay_from(parser, prefix="--arch dcgan: ", constant=", as carpedm20 does")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
args.arch = ALIASES.get(args.arch, args.arch)
train.apply_arch_defaults(args, ARCHS)
if args.arch == "dcgan" and args.optimizer == "sgd":
    train.fail("--optimizer sgd is the paper's schedule: use it with --arch paper")
if args.arch == "dcgan" and args.sample_dropout:
    train.fail("--sample-dropout: only --arch paper's G has dropout")
if args.lr is None:
    args.lr = 0.1 if args.optimizer == "sgd" else 2e-4
train.setup(args)
CLASSES = 10

# %% [markdown]
# ## The networks and the optimizers
# Both architectures end in a sigmoid and train on MNIST's own [0, 1] pixels. Neither D
# has a sigmoid layer: BCE on the logit is the same loss, computed stably. Both take
# (images, one-hot labels): `out, cache = net.forward(x, onehot)`.

# %%
PAPER = args.arch == "paper"
if PAPER:
    G, D = cgan_mlp(z_dim=args.latent_dim, classes=CLASSES)
    best_G, _ = cgan_mlp(z_dim=args.latent_dim, classes=CLASSES)
    z_low = 0.0                                      # z ~ U[0, 1]^100, "the unit hypercube"
    # trained on the first 50,000 digits; the last 10,000 score G for model selection
    data = train.training_data(args, low=0.0, split="train")
    # the GAN yaml's "init_bias: init_sigmoid_bias_from_marginals": G starts at the mean digit
    G.joint.layers[-3].params["b"][...] = backend.asarray(init.sigmoid_bias_from_marginals(
        backend.to_host(data.x)))
else:
    G, D = cgan_dcgan(z_dim=args.latent_dim, classes=CLASSES)
    z_low = -1.0                                     # carpedm20 draws z ~ U[-1, 1]^100
    data = train.training_data(args, low=0.0)        # MNIST in [0, 1], like the sigmoid
if args.optimizer == "sgd":
    opt_G = SGD(G, lr=args.lr, momentum=0.5)
    opt_D = SGD(D, lr=args.lr, momentum=0.5)
else:
    opt_G = Adam(G, lr=args.lr, betas=(args.b1, args.b2))
    opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))
if PAPER:                                            # the kept G and its scores are saved
    selection = train.ParzenSelection(G, best_G)
    models, extra = {"G": G, "D": D, "best_G": best_G}, {"selection": selection}
else:
    models, extra = {"G": G, "D": D}, None
run = train.Run(args, LESSON, models=models, optimizers={"G": opt_G, "D": opt_D},
                data=data, extra_state=extra)

total_steps = args.epochs * len(data)

# The grid: row k asks for digit k, column j uses the j-th of ten fixed noise vectors.
xp = backend.xp()
z_grid = xp.tile(run.fixed_noise(10, args.latent_dim, low=z_low, high=1.0), (10, 1))
y_grid = xp.repeat(xp.arange(CLASSES), 10)


def noise(n):
    return backend.rand(n, args.latent_dim, low=z_low, high=1.0)


def generate(z, labels, net=G):
    """G(z | y) (or best_G); images (N, 1, 28, 28) in [0, 1]. The DCGAN samples in eval
    mode (BatchNorm on its running statistics). The paper's G has no BatchNorm, and with
    --sample-dropout (its default) it keeps its dropout on: trained with dropout 0.5, G
    learns to draw a digit's style from the dropout masks and all but ignores z, so with
    dropout off every z gives the same image (see "What to look for" above)."""
    images, _ = net.forward(z, one_hot(labels, CLASSES), train=args.sample_dropout)
    return images


def paper_sgd_schedule(epoch):
    """Mirza & Osindero, sec. 4.1: "initial learning rate of 0.1 which was exponentially
    decreased down to .000001 with decay factor of 1.00004. Also momentum was used with
    initial value of .5 which was increased up to 0.7". The paper does not say over how
    long; the GAN yaml's MomentumAdjustor reaches its final momentum at epoch 250."""
    for opt in (opt_G, opt_D):
        opt.lr = exponential_decay(args.lr, opt.t, 1.00004, 1e-6)
        opt.momentum = linear_momentum(epoch + 1, 1, 250, 0.5, 0.7)


def select_model(epoch):
    """Paper: "the model [was] chosen on the validation log-likelihood": every
    --select-every epochs, the Parzen estimate of 2,000 samples (200 per digit) on the
    held-out 10,000; the best G so far is kept in best_G."""
    labels = xp.arange(2000) % CLASSES
    selection(epoch + 1, backend.to_host(generate(noise(2000), labels))[:, 0])


# %% [markdown]
# ## One step of eq. 2
# The labels y are the real batch's own: G is asked for the same digits D sees real
# examples of (as carpedm20's code does), so each digit as often as MNIST has it (1 most
# often, 5 least); only the final samples ask for every digit equally often.
# D descends L_D = -[log D(x | y) + log(1 - D(G(z | y) | y))] (BCE with targets 1 and 0),
# plus --arch dcgan's --mismatch term below; G descends L_G = -log D(G(z | y) | y).
# G takes --g-steps steps per D step (2 with --arch dcgan, as carpedm20's code does "to
# make sure that d_loss does not go to zero"; 1 with --arch paper), on the same z and y;
# the first reuses the fake batch of D's step (G has not changed since), the next ones
# draw it again from the updated G.

# %%
for epoch in run.epochs():
    for x, labels in run.batches():
        if args.optimizer == "sgd":
            paper_sgd_schedule(epoch)
        elif args.arch == "dcgan":                     # constant, then linearly to 0
            for opt in (opt_G, opt_D):
                opt.lr = train.linear_decay(args.lr, run.step, total_steps, args.decay_from)
        y = one_hot(labels, CLASSES)
        z = noise(len(x))
        fake, g_cache = G.forward(z, y)

        # ---- D step: maximise log D(x | y) + log(1 - D(G(z | y) | y)) (+ --mismatch's term)
        opt_D.zero_grad()
        logit_real, real_cache = D.forward(x, y)       # two forwards before any backward:
        logit_fake, fake_cache = D.forward(fake, y)    # each keeps its own cache
        loss_real, dlogit_real = bce_with_logits(logit_real, 1.0)
        loss_fake, dlogit_fake = bce_with_logits(logit_fake, 0.0)
        D.backward(dlogit_real, real_cache, input_grad=False)  # both terms add into D.grads
        if args.mismatch and args.arch == "dcgan":
            # Reed et al. 2016, Algorithm 1 (GAN-CLS): a real digit with a wrong label is
            # a third kind of input, to be rejected like a fake; the two "fake" terms
            # share the weight of one: L_D = -[log D(x|y) + (log(1 - D(x|y')) +
            # log(1 - D(G(z|y)|y))) / 2], y' = y shifted by 1..9 classes (never y itself)
            wrong = (labels + backend.randint(CLASSES - 1, len(x)) + 1) % CLASSES
            logit_wrong, wrong_cache = D.forward(x, one_hot(wrong, CLASSES))
            loss_wrong, dlogit_wrong = bce_with_logits(logit_wrong, 0.0)
            D.backward(dlogit_wrong / 2, wrong_cache, input_grad=False)
            loss_fake, dlogit_fake = (loss_fake + loss_wrong) / 2, dlogit_fake / 2
        D.backward(dlogit_fake, fake_cache, input_grad=False)  # (no input gradient: G is fixed)
        opt_D.step()

        # ---- G step(s): maximise log D(G(z | y) | y) through the just-updated D
        for k in range(args.g_steps):
            if k > 0:
                fake, g_cache = G.forward(z, y)        # G changed: draw the batch again
            opt_G.zero_grad()
            logit_fake, fake_cache = D.forward(fake, y)
            g_loss, dlogit = bce_with_logits(logit_fake, 1.0)
            with frozen(D):                            # D's parameter gradients: not needed
                dfake = D.backward(dlogit, fake_cache)     # dL_G/dG(z|y): D's input gradient
            G.backward(dfake, g_cache)                 # ... carried back through G
            opt_G.step()

        run.log(d_loss=loss_real + loss_fake, g_loss=g_loss)
        if run.should_sample():
            run.save_grid(generate(z_grid, y_grid))
    if PAPER and ((epoch + 1) % args.select_every == 0 or epoch + 1 == args.epochs):
        select_model(epoch)
    run.end_epoch(generate(z_grid, y_grid))


# %% [markdown]
# ## What it learned
# 10,000 samples, 1,000 asked for each digit, go to samples.npz with their labels; the
# classifier's agreement with the labels is the "label accuracy" line of the metrics.

# %%
run.finish(lambda labels: generate(noise(len(labels)), labels, best_G if PAPER else G),
           conditional=True)
