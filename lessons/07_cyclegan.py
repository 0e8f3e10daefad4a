"""Lesson 07: CycleGAN, translation between two domains without pairs (Zhu et al. 2017).

Paper: "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks",
https://arxiv.org/abs/1703.10593

Two sets of images, A and B, no pairs between them. G: A -> B and F: B -> A train against
two discriminators, D_B (is this a real B?) and D_A, with least-squares GAN losses (Mao et
al. 2017, "Least Squares Generative Adversarial Networks", https://arxiv.org/abs/1611.04076)
and a cycle loss: there and back must return the input. E is a mean over images and pixels:

    D_B minimises  (E[(D_B(b) - 1)^2] + E[D_B(G(a))^2]) / 2        (D_A: the same with a, F)
    G, F minimise  E[(D_B(G(a)) - 1)^2] + E[(D_A(F(b)) - 1)^2] + lambda L_cyc,  lambda = 10
    L_cyc = E|F(G(a)) - a| + E|G(F(b)) - b|                                 (eqs. 2-3)

Without L_cyc, G may map every a to one realistic b; with it, G must keep enough of a to
get a back. The paper's identity term (sec. 5.2, --identity-weight 0.5) is off by default.

The answer is known here: A = MNIST digits (light on dark); B = T(A), T a 3 x 3 grey-level
dilation (thicker strokes) then an inversion (dark on light), which no per-pixel colour map
can do or undo. A and B come from disjoint halves of MNIST's 60,000 training digits,
shuffled on their own; on test digits, a -> B should give T(a), and T(a') -> A give a'.

Networks (minigan/models.py):
  G, F: resnet_generator: 7x7 conv, two stride-2 convs, 3 residual blocks, two transposed
    convs, 7x7 conv, tanh; InstanceNorm, reflection padding; --channels 32 (the paper's 64).
  D_A, D_B: patch_discriminator: a 7 x 7 map of scores, each judging a 26 x 26 patch.
  Adam 2e-4 (beta1 0.5), batch 32, 3 epochs over A's 30,000 images; lr constant for half
  the run, then linearly to 0. D sees fakes through a 50-image buffer (Shrivastava et al.
  2017): once it is full, each fake is, with probability 1/2, swapped for a stored one.

What to look for:
  * translations_*.png: per direction, rows input / translation / cycled back / truth.
    Digits keep their identity from the first hundred steps; then the strokes sharpen.
  * label_preservation.png, every 100 steps: minigan's classifier reading F(b) as b's
    digit, and each direction's pixel error as a ratio to the best per-pixel colour map's.

Measured at the defaults (python lessons/07_cyclegan.py; 3 epochs, 36 [07_cyclegan minutes]
min on the 2-core CPU): label preservation 98.05% [07_cyclegan preservation], pixel error
0.23 [07_cyclegan ab_map] (A -> B) and 0.29 [07_cyclegan ba_map] (B -> A) times the best
per-pixel map's. What keeps a digit's identity, the ablations: docs/lessons/07_cyclegan.md.
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
from minigan.data import Batches, dilate_invert, load_mnist, unpaired_mnist
from minigan.layers import Parts, frozen
from minigan.losses import l1, mse
from minigan.models import patch_discriminator, resnet_generator
from minigan.optim import Adam

LESSON = "07_cyclegan"
parser = train.make_parser(LESSON, __doc__, epochs=3, batch_size=32, lr=2e-4, b1=0.5,
                           sample_interval=100)
parser.add_argument("--channels", type=train.positive_int, default=32,
                    help="generators' base channels (default: %(default)s; the paper's: 64)")
parser.add_argument("--d-channels", type=train.positive_int, default=64,
                    help="discriminators' base channels (default: %(default)s)")
parser.add_argument("--patch", type=int, choices=(12, 26), default=26,
                    help="side of the patch each discriminator score judges (default: "
                         "%(default)s, whole strokes; 12 passes strokes of the wrong thickness)")
parser.add_argument("--residual-blocks", type=train.positive_int, default=3,
                    help="residual blocks in each generator (default: %(default)s)")
parser.add_argument("--cycle-weight", type=float, default=10.0,
                    help="lambda, the weight of the cycle loss (default: %(default)s; 0 turns "
                         "it off)")
parser.add_argument("--identity-weight", type=float, default=0.0,
                    help="the identity loss's weight, as a fraction of lambda (default: "
                         "%(default)s; the paper's 0.5 makes F draw outlines here, see the docs)")
parser.add_argument("--pool-size", type=int, default=50,
                    help="images in each discriminator's history (default: %(default)s; 0: none)")
train.add_decay_from(parser)
parser.add_argument("--eval-every", type=int, default=100, metavar="N",
                    help="measure translations of --eval-images test digits every N steps "
                         "(default: %(default)s; 0: never)")
parser.add_argument("--eval-images", type=train.positive_int, default=500, metavar="N",
                    help="test digits per direction in those measurements (default: %(default)s)")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
for flag in ("cycle_weight", "identity_weight"):
    if not getattr(args, flag) >= 0:
        train.fail(f"--{flag.replace('_', '-')} must be 0 or more, got {getattr(args, flag)}")
if args.pool_size < 0 or args.eval_every < 0:
    train.fail("--pool-size and --eval-every must be 0 or more")
train.setup(args)

# %% [markdown]
# ## The two domains
# minigan.data.dilate_invert is T; minigan.data.unpaired_mnist splits the training images
# into A's half and B's (transformed) half. Both sets are shuffled on their own.

# %%
x_a, y_a, x_b, y_b = unpaired_mnist(args.seed + 20_000, args.subset)
if args.batch_size > len(x_a):
    train.fail(f"--batch-size {args.batch_size} is larger than the {len(x_a)} images per domain")
data = Batches(2 * x_a - 1, y_a, args.batch_size, seed=args.seed)           # in [-1, 1], tanh's range
data_b = Batches(2 * x_b - 1, y_b, args.batch_size, seed=args.seed + 1)     # shuffled on its own

# The test pairs, for measuring only: a -> T(a), and T(a') -> a'.
x_test, y_test = load_mnist("test")
test_a, test_a_truth, labels_a = x_test[:2000], dilate_invert(x_test[:2000]), y_test[:2000]
test_b, test_b_truth, labels_b = dilate_invert(x_test[2000:4000]), x_test[2000:4000], y_test[2000:4000]

# %% [markdown]
# ## The networks, the optimizers, the history buffers
# Each generator opens with a 7 x 7 conv and an InstanceNorm, which removes each channel's
# mean and scale per image: it gives the same output for a x + b with any a > 0, not for
# an inversion (a = -1), which negates the normalised features, so that after the ReLU
# other units fire. The polarity that tells a B image from an A image thus reaches the
# rest of the generator; to obey the identity term as well (--identity-weight), a
# generator would have to read it there and switch between two maps: translate an image
# of its input domain, pass one of its output domain through unchanged.
# Each discriminator sees the fakes through an ImagePool, CycleGAN's image buffer (after
# Shrivastava et al. 2017's history of generated images).

# %%
G = Parts(ab=resnet_generator(args.channels, args.residual_blocks),    # G: A -> B
          ba=resnet_generator(args.channels, args.residual_blocks))    # F: B -> A
D = Parts(a=patch_discriminator(args.d_channels, args.patch),
          b=patch_discriminator(args.d_channels, args.patch))
opt_G = Adam(G, lr=args.lr, betas=(args.b1, args.b2))                  # both generators
opt_D = Adam(D, lr=args.lr, betas=(args.b1, args.b2))                  # both discriminators


class ImagePool:
    """Up to `size` images a generator drew, kept by random replacement (CycleGAN's
    image_pool.py). query(batch) returns a batch for D: while the pool fills, each new
    image is stored and passed through; once it is full, each new image is, with
    probability 1/2, passed through (and not stored), or else replaced in the returned
    batch by a stored image drawn uniformly, whose slot the new image takes. About half
    of D's fakes so come from the buffer, mostly from earlier steps, and D does not chase
    only G's latest ones. Kept in the checkpoint (on the host)."""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, batch):
        if self.size == 0:
            return batch
        rng, out = backend.rng(), []                    # host draws: no device sync
        for image in batch:
            if len(self.images) < self.size:            # filling up: store, pass through
                self.images.append(image.copy())
                out.append(image)
            elif rng.random() < 0.5:                    # swap with a stored one
                i = int(rng.integers(self.size))
                out.append(self.images[i])
                self.images[i] = image.copy()
            else:
                out.append(image)
        return backend.xp().stack(out)

    def state_dict(self):
        return {"images": [backend.to_host(i).tolist() for i in self.images]}

    def load_state_dict(self, state):
        self.images = [backend.asarray(np.asarray(i, np.float32)) for i in state["images"]]


# Every --eval-every steps: label preservation of F(b) and both directions' pixel error
# ratios on the first --eval-images test pairs, kept in the checkpoint.
pool_a, pool_b, measured = ImagePool(args.pool_size), ImagePool(args.pool_size), train.Measurements()
run = train.Run(args, LESSON, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=data, extra_state={"data_b": data_b, "pool_a": pool_a, "pool_b": pool_b,
                                        "measured": measured})
total_steps = args.epochs * len(data)


def batches_b():
    """B's batches, one per A batch, its epochs running on as long as A's do."""
    while True:
        yield from data_b


def translate(net, images, chunk=250):
    """net (G.ab or G.ba) on host images in [0, 1] -> host images in [0, 1]."""
    out = [net.forward(backend.asarray(2 * images[i:i + chunk] - 1), train=False)[0]
           for i in range(0, len(images), chunk)]
    return (backend.to_host(backend.xp().concatenate(out)) + 1) / 2


def measure(n):
    """Both directions on the first n test pairs: label preservation of b -> A (minigan's
    classifier reads F(b) as b's source digit) and the pixel errors (metrics.translation_errors)."""
    ab, ba = translate(G.ab, test_a[:n]), translate(G.ba, test_b[:n])
    _, probs = metrics.features_and_probs(ba)
    errors_ab = metrics.translation_errors(test_a[:n], ab, test_a_truth[:n])
    errors_ba = metrics.translation_errors(test_b[:n], ba, test_b_truth[:n])
    return {"label_preservation": float((probs.argmax(axis=1) == labels_b[:n]).mean()),
            "a_to_b": errors_ab, "b_to_a": errors_ba, "ab": ab, "ba": ba}


GRID = 8                                                   # test digits per direction in a grid
grid_a, grid_a_truth = (backend.asarray(2 * x - 1) for x in (test_a[:GRID], test_a_truth[:GRID]))
grid_b, grid_b_truth = (backend.asarray(2 * x - 1) for x in (test_b[:GRID], test_b_truth[:GRID]))


def save_translation_grid(name):
    """Per direction 8 test digits: rows input / translation / cycled back / truth."""
    rows = []
    for net, back, x, truth in ((G.ab, G.ba, grid_a, grid_a_truth), (G.ba, G.ab, grid_b, grid_b_truth)):
        there, _ = net.forward(x, train=False)
        rows += [x, there, back.forward(there, train=False)[0], truth]
    run.save_grid((backend.xp().concatenate(rows) + 1) / 2, name, nrow=GRID,
                  title=f"{LESSON}: A->B then B->A; rows: input, translation, cycled back, truth")


def save_measurement_plot():
    plot.save_curves({"label preservation (B -> A)": measured.curve("label_preservation", x="step"),
                      "A -> B error / best pixel map": measured.curve("ratio_ab", x="step"),
                      "B -> A error / best pixel map": measured.curve("ratio_ba", x="step")},
                     os.path.join(args.out, "label_preservation.png"),
                     title=f"{LESSON}: on {args.eval_images} test digits per direction")


# %% [markdown]
# ## The training step, written out
# Generators first (eq. 3), both at once: every loss term's gradient flows back through
# the networks that produced its input. The cycle a -> G(a) -> F(G(a)) passes through both:
# F's backward on the cycled image gives the gradient at G(a), which joins D_B's there
# before G's backward. Then the discriminators, on real images and on pooled fakes.
# Least squares (LSGAN, Mao et al. 2017): mse(score map, 1 or 0), G's fakes aiming at 1,
# D's at 0; l1 for the cycle and identity terms.

# %%
lam, lam_idt = args.cycle_weight, args.cycle_weight * args.identity_weight
for epoch in run.epochs():
    for (a, _), (b, _) in zip(run.batches(), batches_b()):
        for opt in (opt_G, opt_D):
            opt.lr = train.linear_decay(args.lr, run.step, total_steps, args.decay_from)

        # ---- generators: the adversarial, cycle and identity terms of both directions
        opt_G.zero_grad()
        fake_b, fake_b_cache = G.ab.forward(a)                       # G(a)
        fake_a, fake_a_cache = G.ba.forward(b)                       # F(b)
        score_b, cache_b = D.b.forward(fake_b)
        gan_ab, dscore_b = mse(score_b, 1.0)                         # (D_B(G(a)) - 1)^2
        score_a, cache_a = D.a.forward(fake_a)
        gan_ba, dscore_a = mse(score_a, 1.0)                         # (D_A(F(b)) - 1)^2
        with frozen(D):                                              # the Ds' input gradients only
            dfake_b = D.b.backward(dscore_b, cache_b)
            dfake_a = D.a.backward(dscore_a, cache_a)
        cyc = idt = 0.0
        if lam > 0:
            rec_a, rec_cache = G.ba.forward(fake_b)                  # F(G(a)) ~ a
            loss, drec = l1(rec_a, a)
            dfake_b += G.ba.backward(lam * drec, rec_cache)
            cyc += loss
            rec_b, rec_cache = G.ab.forward(fake_a)                  # G(F(b)) ~ b
            loss, drec = l1(rec_b, b)
            dfake_a += G.ab.backward(lam * drec, rec_cache)
            cyc += loss
        if lam_idt > 0:
            same_b, same_cache = G.ab.forward(b)                     # G(b) ~ b
            loss, dsame = l1(same_b, b)
            G.ab.backward(lam_idt * dsame, same_cache)
            idt += loss
            same_a, same_cache = G.ba.forward(a)                     # F(a) ~ a
            loss, dsame = l1(same_a, a)
            G.ba.backward(lam_idt * dsame, same_cache)
            idt += loss
        G.ab.backward(dfake_b, fake_b_cache)
        G.ba.backward(dfake_a, fake_a_cache)
        opt_G.step()

        # ---- discriminators: real images -> 1, pooled fakes -> 0, each loss halved
        opt_D.zero_grad()
        d_loss = 0.0
        for net, real, fake, pool in ((D.a, a, fake_a, pool_a), (D.b, b, fake_b, pool_b)):
            score, cache = net.forward(real)
            loss_real, dscore = mse(score, 1.0)
            net.backward(dscore / 2, cache, input_grad=False)
            score, cache = net.forward(pool.query(fake))
            loss_fake, dscore = mse(score, 0.0)
            net.backward(dscore / 2, cache, input_grad=False)
            d_loss += (loss_real + loss_fake) / 2
        opt_D.step()

        run.log(d_loss=d_loss, gan=gan_ab + gan_ba, cycle=cyc, identity=idt)
        if args.eval_every and run.step % args.eval_every == 0 and not args.no_eval:
            t0 = time.perf_counter()
            m = measure(args.eval_images)
            run.t0 += time.perf_counter() - t0                       # not training time
            measured.points.append({"step": run.step, "label_preservation": m["label_preservation"],
                                    "ratio_ab": m["a_to_b"]["ratio_to_best_pixel_map"],
                                    "ratio_ba": m["b_to_a"]["ratio_to_best_pixel_map"]})
            save_measurement_plot()
        if run.should_sample():
            save_translation_grid(f"translations_{run.step:06d}.png")
    save_translation_grid(f"translations_epoch_{epoch + 1:03d}.png")
    run.end_epoch()


# %% [markdown]
# ## What it learned
# 2,000 test digits per direction go to translations.npz with their truths and labels;
# metrics.json gets both directions' pixel errors and the label preservation of B -> A.

# %%
m = measure(len(test_a))
np.savez_compressed(os.path.join(args.out, "translations.npz"),
                    a=test_a[:, 0], a_to_b=m["ab"][:, 0].clip(0, 1), a_to_b_truth=test_a_truth[:, 0],
                    b=test_b[:, 0], b_to_a=m["ba"][:, 0].clip(0, 1), b_to_a_truth=test_b_truth[:, 0],
                    labels_a=labels_a, labels_b=labels_b)
result = {**run.result_header(), "label_preservation": m["label_preservation"],
          "a_to_b": m["a_to_b"], "b_to_a": m["b_to_a"], "curve": measured.points}
with open(os.path.join(args.out, "metrics.json"), "w") as f:
    json.dump(result, f, indent=2)
print(f"label preservation (B -> A) {100 * m['label_preservation']:.1f}%", flush=True)
for direction in ("a_to_b", "b_to_a"):
    e = m[direction]
    print(f"{direction.replace('_to_', ' -> ').upper()}: pixel error {e['pixel_error']:.4f} = "
          f"{e['ratio_to_identity']:.2f} x doing nothing, {e['ratio_to_best_pixel_map']:.2f} x the "
          f"best per-pixel map", flush=True)
