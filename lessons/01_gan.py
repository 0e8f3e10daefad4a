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
    python lessons/01_gan.py --arch paper    # the authors' nets and recipe (mnist.yaml)

Networks:
  --arch mlp   G: z 100 -> 128 -> 256 -> 512 -> 1024 -> 784 tanh, each hidden layer
               Dense -> BatchNorm -> LeakyReLU 0.2, except the first (128), which has no
               BatchNorm; D: 784 -> 512 -> 256 (LeakyReLU 0.2) -> 1 logit
               (minigan.models.mlp_gan, shared with lesson 03). BatchNorm's eps is the
               usual 1e-5: gan.py's BatchNorm1d(n, 0.8) passes 0.8 as eps, not momentum,
               and scores worse (docs/lessons/01_gan.md).
  --arch paper the authors' mnist.yaml (goodfeli/adversarial), setting for setting:
               G z 100 ~ N(0, I) (their Generator's default noise) -> 1200 ReLU -> 1200
               ReLU -> 784 sigmoid, weights U(+-0.05), the output bias the logit of the
               mean training digit; D 784 -> maxout 240x5 -> maxout 240x5 -> 1 logit,
               weights U(+-0.005), dropout keeping 0.8 of the inputs and 0.5 of each hidden
               layer (minigan.models.gan_paper_mnist). Trained as their AdversaryCost2
               does: one forward pass, D's and G's gradients from it, both updated at once
               (simultaneous_step), D's objective halved. SGD, batch 100, lr 0.1 divided
               by 1.000004 per update (floor 1e-6), momentum 0.5 rising to 0.7 by epoch
               250; the first 50,000 digits; every 5 epochs G's validation Parzen estimate,
               and the best G is the one sampled at the end. (No max-norm: the yaml sets
               none.) 150 epochs by default, the most that fit an hour here.

Measured at the defaults, `python lessons/01_gan.py` (30 epochs, ~20 s each on a 2-core
CPU; docs/results.md): inception-style score 8.54, Frechet distance 22.79, every digit
7.1-12.8% of the samples, Parzen log-likelihood 181; what these numbers mean: the last
cell. `python lessons/01_gan.py --arch paper` (150 epochs, 21.6 s each = 54 min): Parzen
172.3 +- 1.4 against the paper's 225 +- 2, FD 21.5, score 8.50; continued to 250 epochs
(90 min), 182.3 +- 2.3, the validation estimate flat from epoch ~160 (the curves:
docs/lessons/01_gan.md, with the trials behind the defaults).

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

from minigan import backend, init, train
from minigan.layers import frozen
from minigan.losses import bce_with_logits
from minigan.models import gan_paper_mnist, mlp_gan
from minigan.optim import SGD, Adam, exponential_decay, linear_momentum

LESSON = "01_gan"
ARCHS = {"mlp": dict(epochs=30, batch_size=64, lr=2e-4),      # Adam, PyTorch-GAN's gan.py
         "paper": dict(epochs=150, batch_size=100, lr=0.1)}    # SGD, the authors' mnist.yaml
parser = train.make_parser(LESSON, __doc__, batch_size=None, lr=None, b1=0.5,
                           sample_interval=500, arch_table=ARCHS)
parser.add_argument("--arch", choices=tuple(ARCHS), default="mlp",
                    help="mlp (PyTorch-GAN style, default) or paper (Goodfellow et al.'s nets)")
parser.add_argument("--g-loss", choices=("non-saturating", "minimax"), default="non-saturating",
                    help="G maximises log D(G(z)) (default) or minimises log(1 - D(G(z))) (eq. 1)")
parser.add_argument("--select-every", type=train.positive_int, default=5, metavar="N",
                    help="--arch paper: every N epochs, score G on the validation split "
                         "(Parzen) and keep the best G for the final samples (default: %(default)s)")
args = train.apply_arch_defaults(parser.parse_args([] if "ipykernel" in sys.modules else None), ARCHS)
train.setup(args)
PAPER = args.arch == "paper"

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


def noise(n):
    """z ~ N(0, I) for both: the authors' Generator draws "gaussian" noise by default."""
    return backend.randn(n, args.latent_dim)


z_grid = run.fixed_noise(100, args.latent_dim)


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
    differ by about 1e-5 of a step."""
    for opt in (opt_G, opt_D):
        opt.lr = exponential_decay(args.lr, opt.t, 1.000004, 1e-6)
        opt.momentum = linear_momentum(epoch + 1, 1, 250, 0.5, 0.7)


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
# `--arch paper`, the authors' recipe for 150 epochs: Parzen 172.3 +- 1.4, where the paper
# reports 225 +- 2; for 250 epochs 182.3 +- 2.3 (its validation estimate flat from ~160).

# %%
run.finish(lambda n: generate(noise(n), best_G if PAPER else G))
