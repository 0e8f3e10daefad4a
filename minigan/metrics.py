"""Measuring what a GAN learned, with a small MNIST classifier built from minigan's layers.

    python -m minigan.metrics runs/02_dcgan/samples.npz     # all metrics of a samples file
    python -m minigan.metrics --train                       # retrain the shipped classifier

The classifier (two strided convs and a dense layer, >= 99% test accuracy: 99.12% on the
10,000 test images, ``accuracy(*load_classifier(), "test")``) gives:

* Frechet distance (FD) between the samples' and the MNIST test set's 128-d penultimate
  features: ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))  (Heusel et al. 2017,
  with this classifier in place of Inception). Lower is better; the test set vs itself is 0.
* Inception-style score: exp(E_x KL(p(y|x) || p(y)))  (Salimans et al. 2016). Between 1
  and 10: high when each sample is confidently one digit and all digits appear.
* Class shares: the fraction of samples classified as each digit (mode collapse shows here).
* Label accuracy, for conditional models: the share classified as the label asked for.
* Within-class diversity and spread, for conditional models: how much the samples of one
  label differ, in the classifier's features (as a fraction of real digits') and in pixels.
* Parzen-window log-likelihood, the GAN paper's protocol: a Gaussian window of width sigma
  on each sample; sigma chosen from logspace(-1, 0, 10) on the validation split; the mean
  log-density of the test images, +- its standard error.

Lesson 07's translations are measured against their known truth (translation_errors: the
pixel error as a ratio to doing nothing and to the best per-pixel map). To compare two
curves over a run's checkpoints, spearman(a, b): Spearman's rank
correlation (lesson 03 ranks its checkpoints by the critic's Wasserstein estimate and by
frechet_distance_to_test, and asks whether the two orders agree). docs/metrics.md gives
each metric's formula, how to read it and its value for real digits.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from . import backend
from .data import load_mnist
from .layers import Conv2d, Dense, Dropout, Flatten, ReLU, Sequential
from .losses import softmax, softmax_cross_entropy

WEIGHTS = os.path.join(os.path.dirname(__file__), "classifier.npz")
_model = {}


def classifier():
    """Conv 1->32 k5 s2 (14x14), ReLU, Conv 32->64 k5 s2 (7x7), ReLU, Dense 3136->128, ReLU
    (the features), Dropout 0.5, Dense 128->10 (the logits). Returns (features, head)."""
    features = Sequential(Conv2d(1, 32, 5, 2, 2), ReLU(), Conv2d(32, 64, 5, 2, 2), ReLU(),
                          Flatten(), Dense(64 * 7 * 7, 128), ReLU())
    return features, Sequential(Dropout(0.5), Dense(128, 10))


def random_shift(x, rng, max_shift=2):
    """Translate each image (N, 1, 28, 28) by up to max_shift pixels in x and y (zeros
    shifted in): the augmentation that takes this small net from 98.9% to over 99%."""
    xp = backend.get_array_module(x)
    n, size = len(x), x.shape[-1]
    padded = xp.pad(x[:, 0], ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    oy, ox = (backend.asarray(o) for o in rng.integers(0, 2 * max_shift + 1, (2, n)))
    rows = oy[:, None] + xp.arange(size)                                   # (N, 28)
    cols = ox[:, None] + xp.arange(size)
    return padded[xp.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]][:, None]


def load_classifier():
    """The shipped classifier on the active device (cached per device)."""
    key = backend.device()
    if key not in _model:
        if not os.path.exists(WEIGHTS):
            raise FileNotFoundError(f"classifier weights missing at {WEIGHTS}: "
                                    "run python -m minigan.metrics --train")
        features, head = classifier()
        with np.load(WEIGHTS) as f:
            state = {k: f[k] for k in f.files}
        features.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("features.")})
        head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        _model[key] = (features, head)
    return _model[key]


def features_and_probs(images, batch_size=500):
    """images (N, 28, 28) or (N, 1, 28, 28) in [0, 1] -> (features (N, 128), p(y|x) (N, 10)) on the host."""
    features, head = load_classifier()
    images = np.asarray(backend.to_host(images), dtype=np.float32).reshape(-1, 1, 28, 28)
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        h, _ = features.forward(backend.asarray(images[i:i + batch_size]), train=False)
        logits, _ = head.forward(h, train=False)
        feats.append(backend.to_host(h))
        probs.append(backend.to_host(softmax(logits)))
    return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)


def frechet_distance(f1, f2):
    """||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)).

    Tr((S1 S2)^(1/2)) = sum of sqrt(eigenvalues of S1^(1/2) S2 S1^(1/2)), a symmetric PSD
    matrix, so two symmetric eigendecompositions do it (no scipy.linalg.sqrtm needed).
    """
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ s2 @ root1)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def inception_score(probs, eps=1e-12):
    """exp(E_x KL(p(y|x) || p(y))), with p(y) the mean of p(y|x) over the samples."""
    p_y = probs.mean(0, keepdims=True)
    kl = (probs * (np.log(probs + eps) - np.log(p_y + eps))).sum(1)
    return float(np.exp(kl.mean()))


def _parzen_log_density(queries, samples, sigmas, chunk=1000):
    """log p(x) under the mixture (1/N) sum_i N(x; s_i, sigma^2 I), for each sigma:
        log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - (d/2) log(2 pi sigma^2)
    Returns (len(sigmas), len(queries))."""
    n, d = samples.shape
    s_sq = (samples ** 2).sum(1)
    out = np.empty((len(sigmas), len(queries)))
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk]
        dist = (q ** 2).sum(1)[:, None] + s_sq[None, :] - 2 * q @ samples.T    # (chunk, N)
        np.maximum(dist, 0, out=dist)
        for j, sigma in enumerate(sigmas):
            a = -dist / (2 * sigma ** 2)
            amax = a.max(1, keepdims=True)
            lse = amax[:, 0] + np.log(np.exp(a - amax).sum(1))
            out[j, i:i + chunk] = lse - np.log(n) - 0.5 * d * np.log(2 * np.pi * sigma ** 2)
    return out


def sigma_grid(n):
    """n widths from 0.1 to 1, evenly spaced in log (n = 10: the paper's grid)."""
    return np.logspace(-1, 0, n)


PAPER_SIGMAS = sigma_grid(10)             # the GAN paper's grid: 10 widths, 1.29x apart


def parzen_validation(samples, sigmas=PAPER_SIGMAS):
    """(mean log-likelihood of the validation split, sigma): the best over sigmas. The GAN
    paper picks sigma so, and lesson 01 --arch paper keeps the model that scores best here."""
    s = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    valid = load_mnist("valid")[0].reshape(-1, 784).astype(np.float64)
    ll = _parzen_log_density(valid, s, sigmas).mean(1)
    return float(ll.max()), float(sigmas[ll.argmax()])


def parzen(samples, sigmas=PAPER_SIGMAS):
    """The GAN paper's protocol: sigma picked on the validation split, then the test split's
    mean log-likelihood and its standard error. Samples (N, 28, 28) in [0, 1]."""
    s = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    test = load_mnist("test")[0].reshape(-1, 784).astype(np.float64)
    sigma = parzen_validation(s, sigmas)[1]
    ll = _parzen_log_density(test, s, [sigma])[0]
    return {"parzen_ll": float(ll.mean()), "parzen_se": float(ll.std() / np.sqrt(len(ll))),
            "parzen_sigma": sigma}


_test_features = {}


def evaluate(images, labels=None, parzen_window=True, sigmas=PAPER_SIGMAS):
    """Every metric of a set of generated images (N, 28, 28) in [0, 1] (+ asked-for labels);
    sigmas: the Parzen window widths that the validation split chooses from."""
    feats, probs = features_and_probs(images)
    if "test" not in _test_features:
        _test_features["test"] = features_and_probs(load_mnist("test")[0])[0]
    predicted = probs.argmax(1)
    result = {
        "n_samples": int(len(images)),
        "frechet_distance": frechet_distance(feats, _test_features["test"]),
        "inception_score": inception_score(probs),
        "class_shares": (np.bincount(predicted, minlength=10) / len(images)).tolist(),
    }
    result["min_class_share"] = min(result["class_shares"])
    result["max_class_share"] = max(result["class_shares"])
    if labels is not None:
        result["label_accuracy"] = float((predicted == np.asarray(labels)).mean())
        result["within_class_spread"] = within_class_spread(images, labels)
        test_x, test_y = load_mnist("test")
        result["within_class_spread_real"] = within_class_spread(test_x[:, 0], test_y)
        per_class = within_class_diversity(feats, labels, _test_features["test"], test_y)
        result["within_class_diversity"] = float(np.mean(per_class))
        result["within_class_diversity_per_class"] = per_class
    if parzen_window:
        result.update(parzen(images, sigmas))
    return result


def within_class_spread(images, labels):
    """How different the images of one class are from each other: the root-mean-square
    distance of an image to its class's mean image, sqrt(mean_i ||x_i - mean_c||^2 / 784),
    averaged over the classes. A conditional G that ignores z draws one image per class
    and scores 0; the MNIST test digits score 0.229 (pixels in [0, 1])."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    labels = np.asarray(labels)
    spreads = [np.sqrt(((x[labels == c] - x[labels == c].mean(0)) ** 2).mean())
               for c in np.unique(labels)]
    return float(np.mean(spreads))


def mean_pairwise_distance(f):
    """The mean Euclidean distance between two different rows of f (n, d), n >= 2:
    ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b from one Gram matrix (clipped at 0 against
    rounding), the n zero self-distances left out of the mean. The rows are centred first:
    distances do not change, and the formula loses no digits to large norms."""
    f = np.asarray(f, dtype=np.float64)
    f = f - f.mean(0)
    sq = (f * f).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * f @ f.T
    np.fill_diagonal(d2, 0)                     # exactly 0, not sqrt(rounding)
    n = len(f)
    return float(np.sqrt(np.clip(d2, 0, None)).sum() / (n * (n - 1)))


def within_class_diversity(feats, labels, real_feats, real_labels):
    """Per digit: the mean pairwise distance between samples asked for that digit, in the
    classifier's feature space, as a fraction of the same for real test digits of that
    class. 1.0 is as varied as real data; a G that draws one image per label scores 0
    however high its label accuracy. Returns the ten fractions (a list)."""
    labels, real_labels = np.asarray(labels), np.asarray(real_labels)
    out = []
    for c in range(10):
        if (labels == c).sum() < 2:
            raise ValueError(f"within_class_diversity needs >= 2 samples of class {c}")
        out.append(mean_pairwise_distance(feats[labels == c])
                   / mean_pairwise_distance(real_feats[real_labels == c]))
    return out


def test_features():
    """The MNIST test split's 128-d classifier features (10,000 x 128), computed once per
    process and shared with evaluate(): the reference every Frechet distance is taken to."""
    if "test" not in _test_features:
        _test_features["test"] = features_and_probs(load_mnist("test")[0])[0]
    return _test_features["test"]


def frechet_distance_to_test(images):
    """The Frechet distance of generated images (N, 28, 28) in [0, 1] to the MNIST test
    set, as evaluate() computes it, without the other metrics: cheap enough to take at
    every checkpoint of a run (the test set's features are computed once and cached).
    Compare values only at the same N: the distance of a finite sample is biased upwards,
    more so the smaller N."""
    return frechet_distance(features_and_probs(images)[0], test_features())


def best_pixel_map(inputs, targets, bins=64):
    """The best any 1 x 1 colour map can do on these pairs: a lookup table from input
    intensity to output intensity, fitted on the pairs themselves (for each of `bins`
    equal intensity bins of [0, 1], the median target of the pixels that fall in it).
    Returns the table's outputs for `inputs` (same shape). A translation that only
    re-colours pixels (an inversion, a contrast curve) is one of these maps at best."""
    x, t = np.asarray(inputs, np.float64).ravel(), np.asarray(targets, np.float64).ravel()
    which = np.minimum((x * bins).astype(np.int64), bins - 1)            # bin of each pixel
    table = np.zeros(bins)
    for b in range(bins):
        in_bin = t[which == b]
        table[b] = np.median(in_bin) if in_bin.size else 0.0
    return table[which].reshape(np.shape(inputs))


def translation_errors(inputs, outputs, truths):
    """Mean absolute pixel error of a translation against the truth, and two ratios:
    to doing nothing (the input itself) and to the best per-pixel map (best_pixel_map).
    All arrays in [0, 1], the same shape (N, 28, 28)."""
    inputs, outputs, truths = (np.asarray(a, np.float64) for a in (inputs, outputs, truths))
    error = float(np.abs(outputs - truths).mean())
    identity = float(np.abs(inputs - truths).mean())
    pixel_map = float(np.abs(best_pixel_map(inputs, truths) - truths).mean())
    return {"pixel_error": error, "pixel_error_identity": identity,
            "pixel_error_best_pixel_map": pixel_map,
            "ratio_to_identity": error / identity, "ratio_to_best_pixel_map": error / pixel_map}


def _average_ranks(x):
    """Ranks 1..n of the values of x; tied values share the mean of the ranks they span
    (e.g. [10, 20, 20, 30] -> [1, 2.5, 2.5, 4])."""
    x = np.asarray(x, dtype=np.float64).ravel()
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, group = np.unique(x, return_inverse=True)
    return (np.bincount(group, weights=ranks) / np.bincount(group))[group]


def spearman(a, b):
    """Spearman's rank correlation of two equally long sequences: Pearson's correlation of
    their ranks, ties given their average rank,

        rho = sum_i r'_i s'_i / sqrt(sum_i r'_i^2  sum_i s'_i^2),   r' = r - mean r, s' = s - mean s

    with r the ranks of a and s those of b. Without ties this is the textbook
    1 - 6 sum_i (r_i - s_i)^2 / (n (n^2 - 1)). +1: the two order the items identically,
    -1: in reverse. NaN when either sequence is constant (or has fewer than 2 items): no
    order to compare.
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if len(a) != len(b):
        raise ValueError(f"spearman: sequences of different lengths ({len(a)} and {len(b)})")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("spearman: the values must be finite")
    if len(a) < 2:
        return float("nan")
    r, s = _average_ranks(a), _average_ranks(b)
    r, s = r - r.mean(), s - s.mean()
    denom = np.sqrt((r * r).sum() * (s * s).sum())
    return float((r * s).sum() / denom) if denom > 0 else float("nan")


def format_metrics(m):
    lines = [f"Frechet distance (classifier features)  {m['frechet_distance']:.2f}",
             f"inception-style score                    {m['inception_score']:.3f}",
             "class shares %  " + " ".join(f"{k}:{100 * s:.1f}" for k, s in enumerate(m["class_shares"]))]
    if "label_accuracy" in m:
        lines.append(f"label accuracy                           {100 * m['label_accuracy']:.2f}%")
    if "within_class_spread" in m:
        lines.append(f"within-class spread (real digits)        {m['within_class_spread']:.3f} "
                     f"({m['within_class_spread_real']:.3f})")
    if "within_class_diversity" in m:
        lines.append(f"within-class diversity (real = 1)        {m['within_class_diversity']:.3f} "
                     f"(classes {min(m['within_class_diversity_per_class']):.3f}-"
                     f"{max(m['within_class_diversity_per_class']):.3f})")
    if "parzen_ll" in m:
        lines.append(f"Parzen log-likelihood                    {m['parzen_ll']:.1f} +- {m['parzen_se']:.1f}"
                     f"  (sigma {m['parzen_sigma']:.3f})")
    return "\n".join(lines)


# ------------------------------------------------------------------- training the classifier


def train_classifier(epochs=10, batch_size=64, lr=1e-3, seed=0):
    """Adam on the 50,000 training images, randomly shifted; prints test accuracy; saves WEIGHTS."""
    from .data import Batches
    from .optim import Adam
    backend.seed(seed)
    features, head = classifier()
    opt = Adam([features, head], lr=lr)
    x, y = load_mnist("train")
    batches = Batches(x, y, batch_size, seed=seed)
    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        opt.lr = lr * (0.75 ** epoch)                 # decay the step size every epoch
        for xb, yb in batches:
            opt.zero_grad()
            h, h_cache = features.forward(random_shift(xb, batches.rng))
            logits, l_cache = head.forward(h)
            loss, dlogits = softmax_cross_entropy(logits, yb)
            features.backward(head.backward(dlogits, l_cache), h_cache)
            opt.step()
            total += loss
        acc = accuracy(features, head, "test")
        print(f"epoch {epoch + 1}: loss {total / len(batches):.4f}  test accuracy {100 * acc:.2f}%  "
              f"({time.perf_counter() - t0:.0f}s)", flush=True)
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    np.savez(WEIGHTS, **state)
    _model.clear()
    return acc


def accuracy(features, head, split):
    x, y = load_mnist(split)
    correct = 0
    for i in range(0, len(x), 500):
        h, _ = features.forward(backend.asarray(x[i:i + 500]), train=False)
        logits, _ = head.forward(h, train=False)
        correct += int((backend.to_host(logits).argmax(1) == y[i:i + 500]).sum())
    return correct / len(x)


def main(argv=None):
    from .train import OneLineParser       # one-line errors, as the lessons give
    p = OneLineParser(prog="python -m minigan.metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("samples", nargs="?", help="a samples.npz (key images; optional key labels)")
    p.add_argument("--train", action="store_true", help="retrain the classifier and overwrite its weights")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--no-parzen", action="store_true", help="skip the Parzen-window estimate")
    p.add_argument("--parzen-sigmas", type=int, default=10, metavar="N",
                   help="choose the Parzen width from N values 0.1 to 1, log-spaced "
                        "(default: %(default)s, the GAN paper's grid, 1.29x apart)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = p.parse_args(argv)
    if args.train:
        train_classifier(args.epochs)
        return
    if not args.samples:
        p.error("give a samples.npz, or --train")
    if args.parzen_sigmas < 1:
        p.error(f"--parzen-sigmas must be at least 1, got {args.parzen_sigmas}")
    try:
        with np.load(args.samples) as f:
            images = f["images"]
            labels = f["labels"] if "labels" in f.files else None
    except Exception as exc:
        print(f"error: cannot read {args.samples}: {exc}", file=sys.stderr)
        raise SystemExit(2)
    if images.ndim not in (3, 4) or images.shape[-2:] != (28, 28):
        print(f"error: {args.samples}: images must be (N, 28, 28), got {images.shape}", file=sys.stderr)
        raise SystemExit(2)
    m = evaluate(images, labels, parzen_window=not args.no_parzen,
                 sigmas=sigma_grid(args.parzen_sigmas))
    print(json.dumps(m) if args.json else format_metrics(m))


if __name__ == "__main__":
    main()
