"""Lesson 01: the original GAN, two MLPs playing a minimax game.

Paper: Goodfellow et al. 2014, "Generative Adversarial Nets",
https://arxiv.org/abs/1406.2661

G maps noise z to an image, D maps an image to the probability that it is real (eq. 1):

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]

For a fixed G the best D is p_data / (p_data + p_g); against that D, G minimises the
Jensen-Shannon divergence between p_data and p_g, so the game is solved at p_g = p_data.
D takes one step up V, then G one step. G maximises log D(G(z)) by default, the paper's
non-saturating loss (sec. 3): the same fixed point, but a strong gradient while D still
rejects every sample; --g-loss minimax descends log(1 - D(G(z))) as eq. 1 writes it.

Networks (minigan/models.py), z 100-d (--noise):
  --arch mlp    (default; PyTorch-GAN's gan.py) G z -> 128 -> 256 -> 512 -> 1024 -> 784,
                tanh, LeakyReLU 0.2, BatchNorm after every hidden layer but the first;
                D 784 -> 512 -> 256 -> 1 logit, LeakyReLU 0.2. Adam 2e-4, beta1 0.5,
                batch 64, 30 epochs, z ~ N(0, I); a D step, then a G step through the
                updated D.
  --arch paper  the authors' mnist.yaml (goodfeli/adversarial): G z -> 1200 ReLU -> 1200
                ReLU -> 784 sigmoid; D 784 -> maxout 240x5 -> maxout 240x5 -> 1 logit,
                dropout in D. One forward pass updates both nets (their AdversaryCost2);
                SGD, batch 100, lr 0.1 / 1.000004^step, momentum 0.5 -> 0.7 by epoch 250;
                150 epochs; z ~ U(-sqrt 3, sqrt 3) (the yaml's noise: 'uniform'; mean 0,
                variance 1); the G kept is the one with the best validation Parzen estimate.

What to look for: the epoch grids (epoch_NNN.png) turn from grey noise into strokes
within a few epochs, and into digits by the end. With --g-loss minimax, G's logged loss
log(1 - D(G(z))) sits near 0 while D rejects its samples, where its gradient vanishes.

Measured at the defaults, python lessons/01_gan.py (30 epochs of 19.5 [01_gan s_per_epoch]
s on a 2-core CPU): Frechet distance 22.79 [01_gan fd], inception-style score
8.54 [01_gan score], every digit 7.1-12.8% [01_gan classes] of the samples, Parzen
log-likelihood 181 [01_gan parzen] +- 2.3 [01_gan parzen_se]. --arch paper: Parzen 171.1
[01_gan-arch-paper parzen] (the paper: 225 +- 2), 193.8 [01_gan-arch-paper-continued
parzen] after 25 more epochs at the rate of epoch ~1,500 (--schedule-shift).

Why each setting, its measurements, the --arch paper curve: docs/lessons/01_gan.md
"""
# %%
import os
import sys

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigan import backend, init, train
from minigan.layers import frozen
from minigan.losses import bce_with_logits
from minigan.models import gan_paper_mnist, mlp_gan
from minigan.optim import SGD, Adam, exponential_decay, linear_momentum

LESSON = "01_gan"
ARCHS = {"mlp": dict(epochs=30, batch_size=64, lr=2e-4, noise="gaussian"),   # PyTorch-GAN's gan.py
         "paper": dict(epochs=150, batch_size=100, lr=0.1, noise="uniform")}  # the authors' mnist.yaml
parser = train.make_parser(LESSON, __doc__, batch_size=None, lr=None, b1=0.5,
                           sample_interval=500, arch_table=ARCHS)
parser.add_argument("--arch", choices=tuple(ARCHS), default="mlp",
                    help="mlp (PyTorch-GAN style, default) or paper (Goodfellow et al.'s nets)")
parser.add_argument("--noise", choices=("gaussian", "uniform"), default=None,
                    help=train.arch_defaults_help(
                        ARCHS, "noise", "z ~ N(0, I), or U(-sqrt 3, sqrt 3) per coordinate: the same "
                        "mean and variance, the noise of the authors' latest mnist.yaml"))
parser.add_argument("--g-loss", choices=("non-saturating", "minimax"), default="non-saturating",
                    help="G maximises log D(G(z)) (default) or minimises log(1 - D(G(z))) (eq. 1)")
parser.add_argument("--select-every", type=train.positive_int, default=5, metavar="N",
                    help="--arch paper: every N epochs, score G on the validation split "
                         "(Parzen) and keep the best G for the final samples (default: %(default)s)")
parser.add_argument("--schedule-shift", type=train.non_negative_int, default=0, metavar="EPOCHS",
                    help="--arch paper: run the lr and momentum schedule EPOCHS epochs ahead, e.g. "
                         "1350 with --resume from epoch 150 trains at epoch 1,500's lr, 0.005 "
                         "(default: %(default)s)")
args = train.apply_arch_defaults(parser.parse_args([] if "ipykernel" in sys.modules else None), ARCHS)
PAPER = args.arch == "paper"
if args.schedule_shift and not PAPER:
    parser.error("--schedule-shift: only --arch paper has a schedule to shift")
train.setup(args)

# %% [markdown]
# ## The networks
# `--arch mlp` outputs tanh in [-1, 1] and trains on images scaled to [-1, 1];
# `--arch paper` outputs a sigmoid in [0, 1] and trains on the raw [0, 1] pixels. Neither
# D has a final sigmoid: BCE on the logit is the same loss, computed stably.

# %%
if not PAPER:
    G, D = mlp_gan(z_dim=args.latent_dim)             # G's images are (N, 1, 28, 28);
                                                        # D flattens what it is given
    opt_G = Adam(G, lr=args.lr, betas=(args.b1, args.b2))
    opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))
    low = -1.0                                          # data and G's output in [-1, 1]
    data = train.training_data(args, low=low)           # all 60,000 training digits
else:
    # mnist.yaml: trained on the first 50,000 digits; the last 10,000 ("valid") pick sigma
    # of the Parzen estimate and the G that is kept (best_G, below)
    G, D = gan_paper_mnist(z_dim=args.latent_dim)
    best_G, _ = gan_paper_mnist(z_dim=args.latent_dim)
    data = train.training_data(args, low=0.0, split="train")
    # "init_bias: init_sigmoid_bias_from_marginals": G starts by drawing the mean digit
    G.layers[4].params["b"][...] = backend.asarray(init.sigmoid_bias_from_marginals(
        backend.to_host(data.x)))
    opt_G = SGD(G, lr=args.lr, momentum=0.5)           # "init_momentum: .5"
    opt_D = SGD(D, lr=args.lr, momentum=0.5)
    low = 0.0                                           # data and G's output in [0, 1]

models = {"G": G, "D": D, **({"best_G": best_G} if PAPER else {})}
selection = train.ParzenSelection(G, best_G if PAPER else None)   # --arch paper only
run = train.Run(args, LESSON, models=models, optimizers={"G": opt_G, "D": opt_D},
                data=data, extra_state={"selection": selection})


SQRT3 = 3 ** 0.5                                       # U(-sqrt 3, sqrt 3): mean 0, variance 1


def noise(n):
    """z ~ N(0, I), or with --noise uniform U(-sqrt 3, sqrt 3)^d (the authors' Generator's
    "uniform" noise)."""
    if args.noise == "uniform":
        return backend.rand(n, args.latent_dim, low=-SQRT3, high=SQRT3)
    return backend.randn(n, args.latent_dim)


z_grid = (run.fixed_noise(100, args.latent_dim, low=-SQRT3, high=SQRT3) if args.noise == "uniform"
          else run.fixed_noise(100, args.latent_dim))


def generate(z, net=G):
    """Images in [0, 1], G (or best_G) in eval mode."""
    images, _ = net.forward(z, train=False)
    return (images - low) / (1 - low)


# %% [markdown]
# ## Algorithm 1, one step
# D ascends V: with targets 1 for x and 0 for G(z), BCE is exactly -V, so D descends
#     L_D = -[log D(x) + log(1 - D(G(z)))].
# G descends log(1 - D(G(z))) (minimax) or -log D(G(z)) (non-saturating). On the logit l
# of D(G(z)): log(1 - sigmoid(l)) = -BCE(l, target 0), so the minimax G loss is minus the
# BCE with target 0 and its gradient is minus that BCE's gradient.

# %%
def generator_loss(logit_fake):
    """G's loss on D's logit for G(z), and its gradient."""
    if args.g_loss == "non-saturating":
        return bce_with_logits(logit_fake, 1.0)                     # -log D(G(z))
    bce, dbce = bce_with_logits(logit_fake, 0.0)                    # -log(1 - D(G(z)))
    return -bce, -dbce                                              #  log(1 - D(G(z)))


def alternating_step(x):
    """--arch mlp: a D step, then a G step through the updated D."""
    z = noise(len(x))
    fake, g_cache = G.forward(z)

    # ---- D: descend -[log D(x) + log(1 - D(G(z)))]
    opt_D.zero_grad()
    logit_real, real_cache = D.forward(x)
    logit_fake, fake_cache = D.forward(fake)
    loss_real, dreal = bce_with_logits(logit_real, 1.0)
    loss_fake, dfake = bce_with_logits(logit_fake, 0.0)
    D.backward(dreal, real_cache, input_grad=False)                 # D's parameter gradients;
    D.backward(dfake, fake_cache, input_grad=False)                 # no one needs dL/dx here
    opt_D.step()

    # ---- G: through the updated D
    opt_G.zero_grad()
    logit_fake, fake_cache = D.forward(fake)
    g_loss, dlogit = generator_loss(logit_fake)
    with frozen(D):                                                 # D's input gradient only
        G.backward(D.backward(dlogit, fake_cache), g_cache)
    opt_G.step()
    return loss_real + loss_fake, g_loss


def simultaneous_step(x):
    """--arch paper, as the authors' code does it (AdversaryCost2): one forward pass of
    both nets, D's gradient from d_obj and G's from g_obj on that same pass (the same
    samples, the same dropout masks in D), then one update of each."""
    z = noise(len(x))
    fake, g_cache = G.forward(z)
    opt_D.zero_grad()
    opt_G.zero_grad()
    logit_real, real_cache = D.forward(x)
    logit_fake, fake_cache = D.forward(fake)
    loss_real, dreal = bce_with_logits(logit_real, 1.0)
    loss_fake, dfake = bce_with_logits(logit_fake, 0.0)
    # d_obj = (BCE(D(x), 1) + BCE(D(G(z)), 0)) / 2
    D.backward(dreal / 2, real_cache, input_grad=False)
    D.backward(dfake / 2, fake_cache, input_grad=False)
    # g_obj on the same logit, back through D (frozen: it adds to G only) into G
    g_loss, dlogit = generator_loss(logit_fake)
    with frozen(D):
        G.backward(D.backward(dlogit, fake_cache), g_cache)
    opt_D.step()
    opt_G.step()
    return (loss_real + loss_fake) / 2, g_loss


def paper_schedule(epoch):
    """mnist.yaml: the rate decays by 1.000004 each update to no less than 1e-6
    (ExponentialDecay); momentum rises from 0.5 at epoch 1 to 0.7 at epoch 250
    (MomentumAdjustor start 1, saturate 250). minigan's SGD applies lr to the velocity
    (PyTorch's form); pylearn2 puts it inside. With lr changing by 4e-6 per step the two
    differ by about 1e-5 of a step. --schedule-shift S evaluates both S epochs later."""
    shift_steps = args.schedule_shift * len(data)
    for opt in (opt_G, opt_D):
        opt.lr = exponential_decay(args.lr, opt.t + shift_steps, 1.000004, 1e-6)
        opt.momentum = linear_momentum(epoch + 1 + args.schedule_shift, 1, 250, 0.5, 0.7)


def select_model(epoch):
    """Every --select-every epochs: G's validation Parzen log-likelihood (2,000 samples);
    the best G so far is copied to best_G (the authors kept the model by this number)."""
    selection(epoch + 1, backend.to_host(generate(noise(2000)))[:, 0])


for epoch in run.epochs():
    for x, _ in run.batches():
        if PAPER:
            paper_schedule(epoch)
        d_loss, g_loss = (simultaneous_step if PAPER else alternating_step)(x)
        run.log(d_loss=d_loss, g_loss=g_loss)
        if run.should_sample():
            run.save_grid(generate(z_grid))
    if PAPER and ((epoch + 1) % args.select_every == 0 or epoch + 1 == args.epochs):
        select_model(epoch)
    run.end_epoch(generate(z_grid))


# %% [markdown]
# ## What it learned, measured
# `run.finish` saves 10,000 samples to samples.npz and scores them (minigan/metrics.py)
# with a small MNIST classifier built from minigan's own layers; every later lesson prints
# the same lines, and docs/metrics.md defines each of them. "Real" is what 10,000 real
# training digits score, the last row of docs/results.md.
#
# - Frechet distance, lower is better (real 2.04 [zz-reference fd]): the distance between
#   a Gaussian fitted to the classifier's 128-d features of the samples and one fitted to
#   those of the MNIST test digits. It sees both how digit-like and how varied the samples
#   are. The features are this classifier's, not Inception's: compare it with other
#   minigan runs, not with published FIDs.
# - Inception-style score, 1 to 10, higher is better (real 9.67 [zz-reference score]):
#   exp E_x KL(p(y|x) || p(y)), high when each sample is confidently one digit and all ten
#   digits appear. It is blind to variety within a digit: a G that drew one clean image of
#   each digit would score near 10.
# - Class shares, each near 10% (real 8.6-11.2% [zz-reference classes]: MNIST is not quite
#   uniform): the share of samples the classifier reads as each digit; a digit far below
#   10% is one G dropped (mode collapse). Every sample counts as some digit, however badly
#   drawn.
# - Parzen-window log-likelihood, higher is better (real 241 [zz-reference parzen]; the
#   GAN paper reports 225 +- 2 for its nets): a Gaussian of width sigma (chosen on the
#   validation split) on every sample, and the mean log-density of the MNIST test digits
#   under that mixture. It rewards pixel closeness to test digits, not quality: blurry
#   averages of training digits (k-means centres) beat real digits (Theis et al. 2016), and
#   a copy of the training set would score like the real row. It is here because the GAN
#   paper reports it.
#
# This lesson at the defaults: FD 22.79 [01_gan fd], score 8.54 [01_gan score], shares
# 7.1-12.8% [01_gan classes], Parzen 181 [01_gan parzen]. --arch paper, the authors'
# recipe for 150 epochs: Parzen 171.1 [01_gan-arch-paper parzen], where the paper
# reports 225 +- 2.

# %%
run.finish(lambda n: generate(noise(n), best_G if PAPER else G))
