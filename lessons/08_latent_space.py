"""Lesson 08: what a DCGAN learned (Radford, Metz & Chintala 2015, sections 5-6).

Paper: "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", https://arxiv.org/abs/1511.06434

Nothing is trained here but small read-outs: the lesson opens lesson 02's G and D and
lesson 04's conditional G and measures the paper's three claims about them.
  1. probe (sec. 5): D never saw a label, yet its features make a good digit classifier.
     Features: every hidden layer's activations (conv maps max-pooled to a 4 x 4 grid),
     standardised; a logistic regression on top, min_W,b mean_n -log softmax(x_n W + b)_yn
     + lam/2 |W|^2, trained on 100 and on 1,000 labelled digits (10 class-balanced subsets
     each, lam chosen on the validation split). Against the same D at its initialisation,
     raw pixels, and D's architecture trained on the labels alone (the paper's control).
  2. walk (sec. 6.1): G along straight lines and great circles (slerp) between two z.
     Smooth change, not jumps, says G did not memorise: label changes, confident frames,
     the largest step in the classifier's feature space as a multiple of the mean one.
  3. arith (sec. 6.3.2): "thick - thin" and "leaning right - leaning left" as differences
     of averaged z (K = 1, 3, 10 exemplars), added to 1,000 new z; the same in pixels, at
     full length and scaled to z's move; the mean of 10 draws, each from one digit's samples.
  4. guided (sec. 6.2): guided backpropagation (minigan.layers.activations.guided) of the
     strongest features of D's last conv layer, trained D against D at initialisation.

    python lessons/08_latent_space.py                   # reads both lessons' checkpoints
    python lessons/08_latent_space.py --sections probe,walk,guided   # lesson 02's only
    python lessons/08_latent_space.py --device gpu

What to look for: the probe's table (trained D against its own initialisation, pixels
and the supervised control), walk_linear.png against walk_slerp.png (the same ends; the
straight line's middle passes at |z| ~ 0.7 of the usual length), arith_*.png (lesson 02's
z moves the digit with the style; lesson 04's y keeps the digit, its z holds the style),
saliency.png (where the strongest features of trained and untrained D look).

Measured on lessons 02 and 04's default commands run on one BLAS thread (--dcgan
runs/02_dcgan-threads-1/checkpoint.npz --cgan runs/04_cgan-threads-1/checkpoint.npz, 5-10 min): test error 3.30% [08_latent_space probe_trained_1000_mean] with 1,000 labels, 10.26%
[08_latent_space probe_trained_100_mean] with 100 (D at initialisation 5.30% [08_latent_space
probe_init_1000_mean]); lesson 04's z vectors (K = 3) keep the digit in 87% [08_latent_space
arith_cgan_ink_z_k3_kept@pct] (ink) and 91% [08_latent_space arith_cgan_slant_z_k3_kept@pct]
(slant) of the samples, the pixel differences in 33% [08_latent_space
arith_cgan_ink_pixel_k3_kept@pct] and 51% [08_latent_space arith_cgan_slant_pixel_k3_kept@pct].
The rest: docs/lessons/08_latent_space.md.
"""
# %%
import argparse
import copy
import json
import os
import sys
import time

try:
    import minigan  # noqa: F401  (normally installed with pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from minigan import backend, init, plot, probe, train
from minigan.conditioning import one_hot
from minigan.data import load_mnist
from minigan.layers import Dense
from minigan.metrics import features_and_probs
from minigan.models import cgan_dcgan, dcgan_mnist, dcgan_mnist_deep, dcgan_mnist_fc, dcgan_mnist_keras

LESSON = "08_latent_space"
SECTIONS = ("probe", "walk", "arith", "guided")
SIZES = (100, 1000)                           # labelled digits per subset
KS = (1, 3, 10)                               # exemplars averaged per concept
DCGAN_NETWORKS = {"fc": dcgan_mnist_fc, "small": dcgan_mnist, "deep": dcgan_mnist_deep,
                  "keras": dcgan_mnist_keras}  # lesson 02's --arch choices

parser = train.make_parser(LESSON, __doc__)
KEEP = ("help", "device", "seed", "out")      # the common flags that apply to this lesson
UNUSED = [a for a in parser._actions if a.dest not in KEEP]
for action in UNUSED:
    action.help = argparse.SUPPRESS
parser.add_argument("--dcgan", default=os.path.join("runs", "02_dcgan", "checkpoint.npz"), metavar="PATH",
                    help="lesson 02's checkpoint, any --arch (default: %(default)s)")
parser.add_argument("--cgan", default=os.path.join("runs", "04_cgan", "checkpoint.npz"), metavar="PATH",
                    help="lesson 04's checkpoint, --arch dcgan; read by --sections arith only "
                         "(default: %(default)s)")
parser.add_argument("--sections", default=",".join(SECTIONS),
                    help="which parts to run, comma-separated (default: %(default)s)")
parser.add_argument("--subsets", type=train.positive_int, default=10,
                    help="labelled subsets of each size (default: %(default)s)")
parser.add_argument("--eval-digits", type=train.positive_int, default=10000, metavar="N",
                    help="validation and test digits the probe uses, the first N of each "
                         "split (default: %(default)s, all)")
parser.add_argument("--std-digits", type=train.positive_int, default=5000, metavar="N",
                    help="training digits (the first N, labels unused) whose feature means and "
                         "standard deviations standardise the features (default: %(default)s)")
parser.add_argument("--probe-steps", type=train.positive_int, default=300, metavar="N",
                    help="full-batch Adam steps of each logistic regression (default: %(default)s)")
parser.add_argument("--control-epochs", type=train.positive_int, default=None, metavar="N",
                    help="epochs of the supervised control over its labelled subset "
                         "(default: 30 for 100 labels, 10 for 1,000)")
parser.add_argument("--walks", type=train.positive_int, default=10,
                    help="latent walks, each between two random z (default: %(default)s)")
parser.add_argument("--walk-steps", type=int, default=10, metavar="T",
                    help="frames per walk, both ends included (default: %(default)s)")


def digits(text):
    """argparse type: "all" (0-9) or comma-separated digits; draw r takes its exemplars
    from the (r mod len)-th of them."""
    if text == "all":
        return list(range(10))
    parts = text.split(",")
    if not all(part in tuple("0123456789") for part in parts):
        raise argparse.ArgumentTypeError(f"must be 'all' or digits 0-9 separated by commas, got {text!r}")
    return [int(part) for part in parts]


parser.add_argument("--digit", type=digits, default="all",
                    help="the digits whose samples give the concept vectors: 'all', or a list "
                         "such as 1 or 3,8; draw r takes them from the (r mod len)-th "
                         "(default: %(default)s)")
parser.add_argument("--exemplars", type=train.positive_int, default=200, metavar="N",
                    help="samples of --digit the exemplars are picked from (default: %(default)s)")
parser.add_argument("--confidence", type=train.fraction, default=0.9, metavar="P",
                    help="a sample counts as --digit if the classifier reads it so with "
                         "probability >= P (default: %(default)s; 0: lesson 02's samples read "
                         "as --digit, every lesson 04 sample asked for it)")
parser.add_argument("--arith-repeats", type=train.positive_int, default=10, metavar="R",
                    help="independent draws of exemplars and new z the arithmetic is averaged "
                         "over (default: %(default)s)")
parser.add_argument("--arith-z", type=train.positive_int, default=1000, metavar="N",
                    help="new z each concept vector is added to (default: %(default)s)")
parser.add_argument("--saliency-digits", type=train.positive_int, default=500, metavar="N",
                    help="test digits whose saliency is measured (default: %(default)s)")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
for action in UNUSED:
    if getattr(args, action.dest) != action.default:
        train.fail(f"{action.option_strings[0]} does not apply to lesson 08: it trains no GAN, "
                   "it reads lesson 02's and 04's checkpoints (--dcgan, --cgan)")
sections = [s.strip() for s in args.sections.split(",") if s.strip()]
if not sections or set(sections) - set(SECTIONS):
    train.fail(f"--sections: choose from {','.join(SECTIONS)}, got {args.sections!r}")
if args.walk_steps < 2:
    train.fail(f"--walk-steps must be 2 or more, got {args.walk_steps}")
if args.exemplars < 2 * max(KS):
    train.fail(f"--exemplars must be at least {2 * max(KS)} (the K = {max(KS)} largest and smallest)")
train.setup(args)
metrics = {"lesson": LESSON, "device": args.device, "sections": sections,
           "command": train.command_line()}
timings = {}


def save_metrics():
    """metrics.json, rewritten after every section: a later section's failure keeps the rest."""
    metrics.update({f"seconds_{k}": v for k, v in timings.items()})
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)

# %% [markdown]
# ## The trained networks, and D as it started
# The checkpoints hold each network's parameters and the arguments of the run, so the
# networks are rebuilt from those (--arch, --latent-dim) and loaded. D at its
# initialisation is rebuilt too: lesson 02 seeds minigan's generator with --seed and then
# builds (G, D), so the same seed and the same builder give the very same initial weights.


# %%
def open_checkpoint(path, flag, lesson, archs, why=""):
    """(arrays, run arguments) of a checkpoint of `lesson` with an --arch in `archs`, or
    one line and exit 2."""
    if not os.path.exists(path):
        train.fail(f"{flag}: no checkpoint at {path}; `python lessons/{lesson}.py` writes it")
    try:
        arrays, meta = train.load_checkpoint(path)
    except ValueError as exc:
        train.fail(f"{flag}: {exc}")
    if meta.get("lesson") != lesson:
        train.fail(f"{flag}: {path} is a checkpoint of {meta.get('lesson')!r}, not of {lesson}")
    arch = meta.get("args", {}).get("arch")
    if arch not in archs:
        train.fail(f"{flag}: {path} was written by {lesson} --arch {arch}; this lesson reads "
                   f"--arch {' or '.join(archs)}{why}")
    return arrays, meta["args"]


def load_model(model, arrays, name, flag, path):
    """Copy the checkpoint's parameters of network `name` ("G" or "D") into model."""
    try:
        model.load_state_dict({k[len(f"model/{name}/"):]: v for k, v in arrays.items()
                               if k.startswith(f"model/{name}/")})
    except ValueError as exc:
        train.fail(f"{flag}: {path}: {exc}")
    return model


arrays, run_args = open_checkpoint(args.dcgan, "--dcgan", "02_dcgan", tuple(DCGAN_NETWORKS))
if "arith" in sections:
    cgan_arrays, cgan_args = open_checkpoint(args.cgan, "--cgan", "04_cgan", ("dcgan",),
                                             " (the paper's MLP G all but ignores z: lesson 04)")
make = DCGAN_NETWORKS[run_args["arch"]]
z_dim = run_args["latent_dim"]
G, D = make(z_dim=z_dim)
load_model(G, arrays, "G", "--dcgan", args.dcgan)
load_model(D, arrays, "D", "--dcgan", args.dcgan)
backend.seed(run_args["seed"])                # as lesson 02's setup did, before building
_, D0 = make(z_dim=z_dim)                     # D as it was before its first step
if "arith" in sections:
    cG, _ = cgan_dcgan(z_dim=cgan_args["latent_dim"])
    load_model(cG, cgan_arrays, "G", "--cgan", args.cgan)
    del cgan_arrays
del arrays
backend.seed(args.seed)                       # this lesson's own draws from here on
rng = np.random.default_rng(args.seed)        # host draws: z, subsets


def generate(z):
    """Lesson 02's G in eval mode (BatchNorm on its running statistics), images in [0, 1]."""
    images, _ = G.forward(backend.asarray(np.asarray(z, np.float32)), train=False)
    return np.clip(backend.to_host((images + 1) / 2), 0, 1).reshape(-1, 28, 28)


def generate_conditional(z, labels):
    """Lesson 04's G(z | y) in eval mode, images in [0, 1]."""
    y = one_hot(backend.asarray(np.asarray(labels)), 10)
    images, _ = cG.forward(backend.asarray(np.asarray(z, np.float32)), y, train=False)
    return np.clip(backend.to_host(images), 0, 1).reshape(-1, 28, 28)


def in_chunks(fn, *arrays, chunk=500):
    return np.concatenate([fn(*(a[i:i + chunk] for a in arrays)) for i in range(0, len(arrays[0]), chunk)])


# %% [markdown]
# ## 1. D as a feature extractor (sec. 5)
# "We use the discriminator's convolutional features from all layers, maxpooling each
# layers representation to produce a 4 x 4 spatial grid. These features are then flattened
# and concatenated ... and a regularized linear L2-SVM classifier is trained on top of
# them." Here: a multinomial logistic regression (a Dense layer, softmax cross-entropy,
# an L2 penalty, Adam: minigan.probe) in place of the SVM. "1000 uniformly class
# distributed training examples are randomly selected" and 10,000 validation digits
# choose the regularisation, as the paper's SVHN experiment does; 100 labels too.
# Every feature is standardised with its mean and standard deviation over the first 5,000
# training digits (--std-digits; their labels unused), the same for every subset. The
# regression is fitted in the row space of the subset's features (minigan.probe.row_space),
# the same problem with 100 or 1,000 unknowns per class in place of 4,096.
# The control: D's own architecture with a 10-way output layer, starting from D's
# initial weights, trained on each subset's labels alone.

# %%
if "probe" in sections:
    t0 = time.perf_counter()
    x_train, y_train = load_mnist("train")                       # the 50,000 training digits
    x_valid, y_valid = (a[:args.eval_digits] for a in load_mnist("valid"))
    x_test, y_test = (a[:args.eval_digits] for a in load_mnist("test"))
    subsets = {n: np.stack([probe.balanced_subset(y_train, n, args.seed, k) for k in range(args.subsets)])
               for n in SIZES}
    union = np.unique(np.concatenate([s.ravel() for s in subsets.values()]))
    extractors = {"trained": lambda x: probe.hidden_features(D, 2 * x - 1),   # D reads [-1, 1]
                  "init": lambda x: probe.hidden_features(D0, 2 * x - 1),
                  "pixels": lambda x: backend.asarray(x.reshape(len(x), -1))}
    errors, preds, lams = {}, {}, {}
    for name, extract in extractors.items():
        mean, std = probe.standardiser(extract(x_train[:args.std_digits]))
        feats = (extract(x_train[union]) - mean) / std
        valid_f, test_f = ((extract(x) - mean) / std for x in (x_valid, x_test))
        metrics[f"probe_{name}_features"] = int(feats.shape[1])
        for n in SIZES:
            rows = backend.asarray(np.searchsorted(union, subsets[n]))
            results = [probe.probe(feats[rows[k]], y_train[subsets[n][k]], valid_f, y_valid, test_f,
                                   steps=args.probe_steps) for k in range(args.subsets)]
            metrics[f"probe_{name}_{n}_valid_errors"] = [[100 * e for e in r["valid_errors"]]
                                                          for r in results]
            preds[name, n] = np.stack([r["test_pred"] for r in results])
            errors[name, n] = (preds[name, n] != y_test).mean(axis=1)
            lams[name, n] = [r["lam"] for r in results]
        del feats, valid_f, test_f
        print(f"probe: {name} features done ({time.perf_counter() - t0:.0f} s)", flush=True)

    # the control: D's architecture trained on the labels (from D's initial weights)
    control_epochs = {100: args.control_epochs or 30, 1000: args.control_epochs or 10}
    x_test_d = backend.asarray(2 * x_test - 1)
    for n in SIZES:
        out = []
        for k in range(args.subsets):
            backend.seed([args.seed, n, k])
            net = copy.deepcopy(D0)
            net.layers[-1] = init.dcgan_init(Dense(net.layers[-1].in_features, 10))
            batch = min(50, n)
            probe.train_supervised(net, 2 * x_train[subsets[n][k]] - 1, y_train[subsets[n][k]],
                                   steps=control_epochs[n] * (n // batch), batch_size=batch,
                                   seed=args.seed + k)
            out.append(probe.predict(net, x_test_d, batch_size=500))
        preds["supervised", n] = np.stack(out)
        errors["supervised", n] = (preds["supervised", n] != y_test).mean(axis=1)
    backend.seed(args.seed)
    for (name, n), e in errors.items():
        metrics[f"probe_{name}_{n}_mean"] = float(100 * e.mean())
        metrics[f"probe_{name}_{n}_std"] = float(100 * e.std(ddof=1)) if len(e) > 1 else 0.0
        metrics[f"probe_{name}_{n}_errors"] = [float(100 * v) for v in e]
        if (name, n) in lams:
            metrics[f"probe_{name}_{n}_lams"] = lams[name, n]
    metrics["probe_lambdas"] = list(probe.LAMBDAS)
    metrics["probe_control_epochs"] = {str(n): control_epochs[n] for n in SIZES}
    np.savez(os.path.join(args.out, "probe.npz"),
             **{f"labelled_idx_{n}": subsets[n] for n in SIZES},
             **{f"test_pred_{n}": preds["trained", n] for n in SIZES},
             **{f"test_pred_{n}_{name}": preds[name, n] for name in ("init", "pixels", "supervised")
                for n in SIZES})
    timings["probe"] = time.perf_counter() - t0
    save_metrics()

# %% [markdown]
# ## 2. Walking in the latent space (sec. 6.1)
# "If walking in this latent space results in semantic changes to the image generations
# ... we can reason that the model has learned relevant and interesting representations."
# The same pairs (z0, z1) walked twice: along the straight line and along the great circle
# (slerp). minigan's classifier reads every frame.

# %%
if "walk" in sections:
    t0 = time.perf_counter()
    z0, z1 = rng.standard_normal((2, args.walks, z_dim))
    t = np.linspace(0, 1, args.walk_steps)
    frames = {}                                                                # walks.npz
    for kind, path in (("linear", probe.lerp), ("slerp", probe.slerp)):
        z = np.stack([path(z0[p], z1[p], t) for p in range(args.walks)])       # (P, T, d)
        images = generate(z.reshape(-1, z_dim))
        feats, probs = features_and_probs(images)
        s = probe.walk_stats(probs.reshape(args.walks, args.walk_steps, 10),
                             feats.reshape(args.walks, args.walk_steps, -1))
        norms = np.linalg.norm(z, axis=2) / np.sqrt(z_dim)                     # |z| / sqrt(d)
        metrics.update({f"walk_{kind}_label_changes": float(s["label_changes"].mean()),
                        f"walk_{kind}_confident": float(s["confident"].mean()),
                        f"walk_{kind}_max_step_ratio": float(s["max_step_ratio"].mean()),
                        f"walk_{kind}_max_step_ratio_max": float(s["max_step_ratio"].max()),
                        f"walk_{kind}_norm_min": float(norms.min(axis=1).mean()),
                        f"walk_{kind}_labels": s["labels"].tolist()})
        plot.save_grid(images, os.path.join(args.out, f"walk_{kind}.png"), nrow=args.walk_steps,
                       title=f"{kind} walks: {metrics[f'walk_{kind}_label_changes']:.1f} label "
                             f"changes a path, {100 * metrics[f'walk_{kind}_confident']:.0f}% "
                             "frames read with p >= 0.9")
        frames[kind] = np.asarray(images, np.float32).reshape(args.walks, args.walk_steps, 28, 28)
    np.savez_compressed(os.path.join(args.out, "walks.npz"), **frames)        # (P, T, 28, 28) each
    timings["walk"] = time.perf_counter() - t0
    save_metrics()

# %% [markdown]
# ## 3. Vector arithmetic (sec. 6.3.2)
# "Experiments working on only single samples per concept were unstable, but averaging
# the Z vector for three exemplars showed consistent and stable generations." Among G's
# samples of one digit (read so by the classifier with p >= 0.9), the K with the most ink
# (and with the least), the K leaning furthest right (and left); the difference of their
# mean z is the concept vector, added at full length to new z of every digit. The paper's
# baseline, "adding the samples in pixel space", adds the difference of the exemplars'
# mean images instead; it moves the attribute less far than the z vector does, so it is
# also scaled until the mean move equals z's (probe.matched_pixel_step): the two spaces
# compared at the same move. Which exemplars the 200 samples hold moves the numbers by up
# to 10-20 points, so the construction is repeated on --arith-repeats independent draws,
# draw r with the samples of digit r mod 10 (--digit all): a vector made of 1s and one
# made of 8s are different vectors, and the mean over the digits judges the method, not
# one digit's strokes.

# %%
if "arith" in sections:
    t0 = time.perf_counter()
    gens = {"dcgan": (lambda n: rng.standard_normal((n, z_dim)),
                      lambda z, labels: in_chunks(generate, z)),
            "cgan": (lambda n: rng.uniform(-1, 1, (n, cgan_args["latent_dim"])),   # lesson 04's z
                     lambda z, labels: in_chunks(generate_conditional, z, labels))}

    def exemplar_pool(g, noise, sample, digit):
        """--exemplars of G's samples of `digit` (read so with p >= --confidence): (z, images)."""
        codes, pool, drawn = [], [], 0
        while sum(map(len, codes)) < args.exemplars:
            if drawn >= max(50 * args.exemplars, 5000):
                train.fail(f"{g}'s G drew only {sum(map(len, codes))} samples read as a "
                           f"{digit} with p >= {args.confidence} in {drawn}, fewer than "
                           f"--exemplars {args.exemplars}: choose another --digit")
            z = noise(500)
            images = sample(z, np.full(500, digit))
            _, probs = features_and_probs(images)
            keep = (probs.argmax(1) == digit) & (probs.max(1) >= args.confidence)
            if g == "cgan" and args.confidence == 0:
                keep[:] = True                # asked for --digit: that is enough
            codes.append(z[keep])
            pool.append(images[keep])
            drawn += 500
        return np.concatenate(codes)[:args.exemplars], np.concatenate(pool)[:args.exemplars]

    # every repeat: a new pool of exemplars and 1,000 new z; the metrics are the means over
    # the repeats (and _sd their spread), the grids show the first
    labels = np.arange(args.arith_z) % 10                           # for lesson 04's G
    arith_digits = [args.digit[r % len(args.digit)] for r in range(args.arith_repeats)]
    found = {}
    for g, (noise, sample) in gens.items():
        for r in range(args.arith_repeats):
            digit = arith_digits[r]
            codes, pool = exemplar_pool(g, noise, sample, digit)
            z_new = noise(args.arith_z)
            base = sample(z_new, labels)
            _, p_base = features_and_probs(base)
            for attr, measure in probe.ATTRIBUTES.items():
                values = measure(pool)
                for k in KS:
                    v, high, low = probe.concept_vector(codes, values, k)
                    moved = sample(z_new + v, labels)
                    difference = pool[high].mean(0) - pool[low].mean(0)     # in pixels
                    pixel = np.clip(base + difference, 0, 1)
                    stats = {space: probe.arithmetic_stats(base, after, p_base, features_and_probs(after)[1], attr)
                             for space, after in (("z", moved), ("pixel", pixel))}
                    # the pixel vector scaled to move the attribute as far as the z vector did
                    scale, matched = probe.matched_pixel_step(base, difference, attr, stats["z"]["move"])
                    stats["matched"] = {**probe.arithmetic_stats(base, matched, p_base,
                                                                 features_and_probs(matched)[1], attr),
                                        "scale": scale, "reached": float(scale < probe.MAX_PIXEL_SCALE)}
                    for space, st in stats.items():
                        for key, value in st.items():
                            found.setdefault(f"arith_{g}_{attr}_{space}_k{k}_{key}", []).append(value)
                    if k == 3 and r == 0:     # the paper's K: exemplars, before, z, pixels, scaled
                        blank = np.zeros((10 - 2 * k, 28, 28))
                        rows = [pool[high], blank, pool[low], base[:10], moved[:10], pixel[:10], matched[:10]]
                        plot.save_grid(np.concatenate(rows), os.path.join(args.out, f"arith_{g}_{attr}.png"),
                                       nrow=10, title=f"{g} {attr}: exemplars (3 high | 3 low), new z, + vector "
                                                      "in z, + vector in pixels, scaled to z's move")
    for key, values in found.items():
        metrics[key] = float(np.mean(values))
        metrics[key + "_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        metrics[key + "_repeats"] = [float(v) for v in values]
    metrics["arith_digits"] = arith_digits
    for key in [k for k in found if "_k3_kept" in k and "_matched_" not in k]:   # K = 3, by digit
        for d, value in probe.mean_by_digit(found[key], arith_digits).items():
            metrics[f"{key}_digit{d}"] = value
    timings["arith"] = time.perf_counter() - t0
    save_metrics()

# %% [markdown]
# ## 4. What D's features respond to (sec. 6.2)
# Guided backpropagation (Springenberg et al. 2014) of the strongest features of D's last
# convolutional layer: for each digit, the three channels with the largest activation,
# each differentiated at its peak with respect to the input, with every LeakyReLU passing
# back only positive gradients through positive inputs. The paper compares with random
# filters; here with D at its initialisation. The share of each map's |saliency| that lies
# on the digit's strokes (pixels > 0.5) is measured on --saliency-digits test digits.

# %%
if "guided" in sections:
    t0 = time.perf_counter()
    x_test, y_test = load_mnist("test")
    x_sal = x_test[:args.saliency_digits]
    shown = np.array([np.flatnonzero(y_test == c)[0] for c in range(10)])     # one of each digit
    columns = [x_test[shown, 0]]
    for name, net in (("trained", D), ("init", D0)):
        shares, border = [], []
        for rank in range(3):
            g = probe.guided_saliency(net, 2 * x_sal - 1, rank)
            shares.append(probe.stroke_share(g["saliency"], x_sal))
            (r, c), (h, w) = g["peak"].T, g["map_size"]
            border.append((r == 0) | (r == h - 1) | (c == 0) | (c == w - 1))  # map's outer ring
            mag = np.abs(probe.guided_saliency(net, 2 * x_test[shown] - 1, rank)["saliency"][:, 0])
            mag /= np.maximum(mag.max(axis=(1, 2), keepdims=True), 1e-30)
            columns.append(np.maximum(mag, 0.25 * x_test[shown, 0]))        # over the digit, in grey
        metrics[f"guided_stroke_share_{name}"] = float(np.mean(shares))
        metrics[f"guided_peak_on_border_{name}"] = float(np.mean(border))
    metrics["guided_stroke_area"] = float((x_sal > 0.5).mean())
    plot.save_grid(np.stack(columns, axis=1).reshape(-1, 28, 28), os.path.join(args.out, "saliency.png"),
                   nrow=7, title="digit | trained D's 3 strongest features | D at initialisation's")
    timings["guided"] = time.perf_counter() - t0
    save_metrics()

# %% [markdown]
# ## The numbers
# metrics.json holds every one (flat keys); the table below is the summary.

# %%
save_metrics()
lines = []
if "probe" in sections:
    lines.append(f"probe test error % ({args.subsets} subsets, mean +- sd)   100 labels      1,000 labels")
    for name in ("trained", "init", "pixels", "supervised"):
        cells = [f"{metrics[f'probe_{name}_{n}_mean']:5.2f} +- {metrics[f'probe_{name}_{n}_std']:4.2f}"
                 for n in SIZES]
        lines.append(f"  {name:<43}{cells[0]:<16}{cells[1]}")
if "walk" in sections:
    lines.append("walks                 label changes  confident  max step / mean  min |z|/sqrt(d)")
    for kind in ("linear", "slerp"):
        lines.append(f"  {kind:<20}{metrics[f'walk_{kind}_label_changes']:>13.1f}"
                     f"{100 * metrics[f'walk_{kind}_confident']:>10.0f}%"
                     f"{metrics[f'walk_{kind}_max_step_ratio']:>17.2f}"
                     f"{metrics[f'walk_{kind}_norm_min']:>17.2f}")
if "arith" in sections:
    lines.append(f"arithmetic (% moved the intended way / % digit kept +- sd over {args.arith_repeats} draws)")
    lines.append(f"  {'':<55}" + "".join(f"{f'K={k}':<16}" for k in KS))
    for g in ("dcgan", "cgan"):
        for attr in probe.ATTRIBUTES:
            for space in ("z", "pixel", "matched"):
                key = f"arith_{g}_{attr}_{space}_k"
                cells = [f"{100 * metrics[f'{key}{k}_moved']:3.0f}/{100 * metrics[f'{key}{k}_kept']:3.0f}"
                         f" +-{100 * metrics[f'{key}{k}_kept_sd']:3.0f}"
                         + ("*" if metrics.get(f"{key}{k}_reached", 1) < 1 else " ") for k in KS]
                name = {"matched": "pixel, scaled to z's move"}.get(space, space)
                lines.append(f"  {g:<6}{attr:<6}{name:<43}" + "   ".join(cells))
    lines.append(f"  * in some draws even {probe.MAX_PIXEL_SCALE:g} x the pixel vector moved the "
                 "attribute less than z's did")
    shown = sorted(set(metrics["arith_digits"]))
    if len(shown) > 1:                          # the shares (K = 3) by the exemplars' digit
        lines.append("% digit kept (K=3) by the exemplars' digit  " + "".join(f"{d:>5}" for d in shown))
        for g in ("dcgan", "cgan"):
            for attr in probe.ATTRIBUTES:
                for space in ("z", "pixel"):
                    key = f"arith_{g}_{attr}_{space}_k3_kept_digit"
                    lines.append(f"  {g:<6}{attr:<6}{space:<36}"
                                 + "".join(f"{100 * metrics[f'{key}{d}']:5.0f}" for d in shown))
if "guided" in sections:
    lines.append(f"saliency on strokes: trained D {100 * metrics['guided_stroke_share_trained']:.1f}%, "
                 f"D at initialisation {100 * metrics['guided_stroke_share_init']:.1f}% "
                 f"(strokes cover {100 * metrics['guided_stroke_area']:.1f}% of the pixels); peak on "
                 f"the map's border: {100 * metrics['guided_peak_on_border_trained']:.0f}% and "
                 f"{100 * metrics['guided_peak_on_border_init']:.0f}%")
lines.append("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
print("\n".join(lines), flush=True)
