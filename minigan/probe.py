"""What a trained DCGAN learned: the measurements of lesson 08 (Radford et al. 2015, sec. 5-6).

    feats = hidden_features(D, x)        # D's hidden activations, conv maps max-pooled to 4 x 4
    idx = balanced_subset(labels, 100, seed, k)      # the k-th class-balanced labelled subset
    result = probe(feats[idx], labels[idx], valid_feats, valid_y, test_feats, LAMBDAS)
    path = slerp(z0, z1, np.linspace(0, 1, 10))      # (or lerp) a walk through the latent space
    walk_stats(probs, feats)             # label changes, confident frames, largest step
    ink_mass(images), slant(images)      # the attributes the vector arithmetic moves
    guided_saliency(D, x, k)             # guided backpropagation of D's k-th strongest feature

Everything that touches a network runs on the active device (minigan.backend); subsets,
walks' latent vectors and the attributes are host arithmetic in NumPy.
"""
import numpy as np

from . import backend
from .data import Batches
from .layers import Conv2d, Dense, LeakyReLU, ReLU, Sequential, frozen
from .layers.activations import guided
from .losses import softmax_cross_entropy
from .optim import Adam

#: the L2 strengths tried for every probe, 1e-4 to 1 in half decades (the one with the
#: lowest validation error is kept)
LAMBDAS = tuple(float(v) for v in np.logspace(-4, 0, 9))


# ----------------------------------------------------------------------------- features


def leaf_layers(model):
    """The layers of a (nested) Sequential in the order forward runs them."""
    if isinstance(model, Sequential):
        return [leaf for layer in model.layers for leaf in leaf_layers(layer)]
    return [model]


def pool_bins(size, grid):
    """[(start, stop)] of the `grid` windows adaptive pooling uses along an axis of `size`:
    window i covers [floor(i size / grid), ceil((i + 1) size / grid)), as PyTorch's
    AdaptiveMaxPool2d. They tile the axis and overlap where grid does not divide size
    (14 -> 4: [0, 4), [3, 7), [7, 11), [10, 14))."""
    return [(i * size // grid, -(-(i + 1) * size // grid)) for i in range(grid)]


def adaptive_max_pool(x, grid=4):
    """(N, C, H, W) -> (N, C, grid, grid): the maximum of each window of pool_bins. The
    paper's "maxpooling each layer's representation to produce a 4 x 4 spatial grid"."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    out = xp.empty((n, c, grid, grid), dtype=x.dtype)
    for i, (r0, r1) in enumerate(pool_bins(h, grid)):
        for j, (c0, c1) in enumerate(pool_bins(w, grid)):
            out[:, :, i, j] = x[:, :, r0:r1, c0:c1].max(axis=(2, 3))
    return out


def _is_activation(layer):
    return isinstance(layer, (ReLU, LeakyReLU))


def hidden_features(D, images, grid=4, batch_size=500):
    """D's activations after every hidden layer (the output of each ReLU / LeakyReLU), in
    eval mode: a feature map max-pooled to grid x grid, a vector as it is, all flattened and
    concatenated. images (N, 1, 28, 28) in D's input range -> (N, F) on the active device.
    Lesson 02's default D: 64 x 16 + 128 x 16 + 1024 = 4,096 features."""
    xp = backend.xp()
    layers = leaf_layers(D)
    last = max(i for i, layer in enumerate(layers) if _is_activation(layer))
    out = []
    for s in range(0, len(images), batch_size):
        h = backend.asarray(images[s:s + batch_size])
        parts = []
        for layer in layers[:last + 1]:
            h, _ = layer.forward(h, train=False)
            if _is_activation(layer):
                parts.append((adaptive_max_pool(h, grid) if h.ndim == 4 else h).reshape(len(h), -1))
        out.append(xp.concatenate(parts, axis=1))
    return xp.concatenate(out)


def standardiser(features):
    """(mean, std) of each feature (columns of a device array); a constant feature gets std
    1, so that it stays 0 instead of becoming 0 / 0."""
    xp = backend.get_array_module(features)
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    return mean, xp.where(std > 1e-6, std, xp.ones_like(std))


# ----------------------------------------------------------------------------- subsets


def balanced_subset(labels, size, seed, index, classes=10):
    """Indices of `size` labelled digits, size / classes of each class, drawn without
    replacement: subset number `index` of this size for this seed (its own generator, so
    subset k is the same whether 1 or 10 subsets are drawn). Sorted."""
    if size % classes:
        raise ValueError(f"a class-balanced subset needs a multiple of {classes} digits, got {size}")
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, size, index])
    per = size // classes
    picks = [rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in range(classes)]
    return np.sort(np.concatenate(picks))


# ----------------------------------------------------------------------------- the probe


def logistic_objective(layer, X, y, lam):
    """The L2-regularised multinomial logistic regression on a Dense layer (W, b):

        J(W, b) = mean_n -log softmax(x_n W + b)_(y_n) + lam / 2 ||W||^2   (b not penalised)
        dJ/dW = X^T (P - Y) / N + lam W,    dJ/db = sum_n (P - Y)_n / N

    (P the softmax probabilities, Y the one-hot labels). Adds the gradients into
    layer.grads and returns J."""
    logits, cache = layer.forward(X)
    loss, dlogits = softmax_cross_entropy(logits, y)
    layer.backward_params(dlogits, cache)
    W = layer.params["W"]
    layer.grads["W"] += lam * W
    return loss + 0.5 * lam * float((W * W).sum())


def fit_logistic(X, y, lam, steps=300, lr=0.05, start=None, classes=10):
    """Minimise logistic_objective with full-batch Adam, its rate falling linearly from lr
    to 0 (the last steps settle instead of hopping around the minimum). start: a Dense
    layer to begin from (a warm start: the solution at the next larger lam), else W = 0,
    b = 0. Returns the fitted Dense layer."""
    layer = Dense(X.shape[1], classes)
    for key, p in layer.params.items():
        p[...] = 0 if start is None else start.params[key]
    opt = Adam(layer, lr=lr)
    for t in range(steps):
        opt.lr = lr * (1 - t / steps)
        opt.zero_grad()
        logistic_objective(layer, X, y, lam)
        opt.step()
    return layer


def row_space(X, rtol=1e-6):
    """X (n, d) = P V^T, with V (d, r) orthonormal columns spanning X's rows and P = X V
    (n, r) orthogonal columns (P = U S of the thin SVD X = U S V^T), from the Gram matrix
    X X^T = U S^2 U^T in float64 (directions with S^2 <= rtol max S^2 dropped).

    Why the probe fits on P: the penalised regression's solution lies in X's row space
    (J's gradient there is X^T (...) + lam W, zero only for W = V A), and for W = V A,
    X W = P A and |W| = |A|: fitting A on P is the same problem, with r <= n unknowns per
    class instead of d (4,096 features, 100 or 1,000 digits), and with uncorrelated
    columns, which Adam's per-coordinate steps suit (on X itself its steps at small lam
    stall far from the minimum)."""
    xp = backend.get_array_module(X)
    X64 = X.astype(xp.float64)
    w, U = np.linalg.eigh(backend.to_host(X64 @ X64.T))
    keep = w > rtol * w.max()
    S, U = np.sqrt(w[keep]), U[:, keep]
    V = X64.T @ backend.asarray(U / S)                        # X^T U S^-1, (d, r)
    return backend.asarray((U * S).astype(np.float32)), V.astype(xp.float32)


def predict(layer, X, batch_size=5000):
    """Class predictions (N,) on the host of a layer or network with forward."""
    out = []
    for s in range(0, len(X), batch_size):
        logits, _ = layer.forward(X[s:s + batch_size], train=False)
        out.append(backend.to_host(logits.argmax(axis=1)))
    return np.concatenate(out).astype(np.int64)


def probe(train_x, train_y, valid_x, valid_y, test_x, lams=LAMBDAS, steps=300, lr=0.05):
    """The paper's protocol for one labelled subset: a logistic regression at each L2
    strength, largest first, each warm-started from the one before, fitted in the row
    space of the training features (row_space); the strength with the lowest validation
    error is kept (the larger one on a tie). Features standardised, on the device; labels
    on the host. Returns {"lam", "valid_errors" (per lam, in the order of lams),
    "test_pred" (host ints), "models" ({lam: Dense layer on the features})}."""
    P, V = row_space(train_x)
    ty, valid_y = backend.asarray(train_y), np.asarray(valid_y)
    fitted, models, errors = None, {}, {}
    for lam in sorted(lams, reverse=True):
        fitted = fit_logistic(P, ty, lam, steps, lr, start=fitted)
        model = Dense(V.shape[0], fitted.out_features)               # W = V A on the features
        model.params["W"][...] = V @ fitted.params["W"]
        model.params["b"][...] = fitted.params["b"]
        models[lam] = model
        errors[lam] = float((predict(model, valid_x) != valid_y).mean())
    best = min(lams, key=lambda lam: (errors[lam], -lam))
    return {"lam": float(best), "valid_errors": [errors[lam] for lam in lams],
            "test_pred": predict(models[best], test_x), "models": models}


def train_supervised(net, x, y, steps, batch_size, lr=1e-3, seed=0):
    """The paper's control: a network trained on the labelled digits alone, softmax
    cross-entropy, Adam (lr falling linearly to 0 over `steps`), batches reshuffled every
    epoch. x (N, 1, 28, 28) in the network's input range, y (N,) on the host."""
    opt = Adam(net, lr=lr)
    batches = Batches(x, y, min(batch_size, len(x)), seed=seed)
    t = 0
    while t < steps:
        for xb, yb in batches:
            opt.lr = lr * (1 - t / steps)
            opt.zero_grad()
            logits, cache = net.forward(xb)
            _, dlogits = softmax_cross_entropy(logits, yb)
            net.backward(dlogits, cache, input_grad=False)
            opt.step()
            t += 1
            if t == steps:
                break
    return net


# ----------------------------------------------------------------------------- walks


def lerp(z0, z1, t):
    """(1 - t) z0 + t z1 for each t: (len(t), d) on the host."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    return (1 - t) * np.asarray(z0, np.float64) + t * np.asarray(z1, np.float64)


def slerp(z0, z1, t):
    """Spherical interpolation (Shoemake 1985; White 2016 for GANs): along the great
    circle between the directions of z0 and z1,

        slerp(t) = sin((1 - t) W) / sin W  z0 + sin(t W) / sin W  z1,   cos W = z0.z1 / |z0||z1|

    For Gaussian z in d dimensions |z| ~ sqrt(d) and z0, z1 are nearly orthogonal: the
    straight line's midpoint has norm ~ sqrt(d / 2), a radius G never saw in training; the
    arc keeps the norm. (Parallel z0, z1: the straight line.)"""
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    cos = float(z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1)))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-8:
        return lerp(z0, z1, t)
    t = np.asarray(t, dtype=np.float64)[:, None]
    return (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


def walk_stats(probs, feats, confident=0.9):
    """How smoothly a walk changes its images, as minigan's classifier sees them.
    probs (P, T, 10) and feats (P, T, F): P paths of T frames. Per path: the number of
    times the read digit changes between neighbouring frames, the share of frames read
    with probability >= `confident`, and the largest distance between neighbouring frames'
    features as a multiple of the path's mean step (1 for even steps; large for a jump)."""
    labels = probs.argmax(axis=2)
    steps = np.linalg.norm(np.diff(feats, axis=1), axis=2)              # (P, T - 1)
    return {"label_changes": (labels[:, 1:] != labels[:, :-1]).sum(axis=1),
            "confident": (probs.max(axis=2) >= confident).mean(axis=1),
            "max_step_ratio": steps.max(axis=1) / np.maximum(steps.mean(axis=1), 1e-12),
            "labels": labels}


# ----------------------------------------------------------------------------- attributes


def _pixels(images):
    a = np.asarray(backend.to_host(images), dtype=np.float64)
    return a.reshape(len(a), a.shape[-2], a.shape[-1])


def ink_mass(images):
    """Stroke thickness, measured: the total intensity of each image (N, 28, 28) in [0, 1],
    the area a stroke of intensity 1 covers (a 1-pixel stroke of length L has mass L)."""
    return _pixels(images).sum(axis=(1, 2))


def slant(images):
    """The slant of each image (N, 28, 28) in [0, 1] from its second-order moments, with
    the intensities as weights, x the column and y the row (downwards):

        slant = -mu_xy / mu_yy,   mu_xy = E[(x - x_bar)(y - y_bar)],  mu_yy = E[(y - y_bar)^2]

    the shear x -> x - s (y - y_bar) that makes the image upright (the least-squares slope
    of x on y; deskewing removes it). Positive: the top leans right (a stroke from the
    bottom left to the top right has slant 1)."""
    a = _pixels(images)
    rows, cols = np.mgrid[0:a.shape[1], 0:a.shape[2]].astype(np.float64)
    mass = np.maximum(a.sum(axis=(1, 2)), 1e-12)
    yb = (a * rows).sum(axis=(1, 2)) / mass
    xb = (a * cols).sum(axis=(1, 2)) / mass
    dy = rows[None] - yb[:, None, None]
    dx = cols[None] - xb[:, None, None]
    mu_xy = (a * dx * dy).sum(axis=(1, 2)) / mass
    mu_yy = (a * dy * dy).sum(axis=(1, 2)) / mass
    return -mu_xy / np.maximum(mu_yy, 1e-12)


ATTRIBUTES = {"ink": ink_mass, "slant": slant}


def concept_vector(codes, values, k):
    """The mean code of the k exemplars with the largest attribute minus that of the k with
    the smallest (the paper's averaged "smiling woman" - "neutral woman" vectors). codes
    (N, ...) and values (N,) on the host. Returns (vector, high indices, low indices)."""
    order = np.argsort(values, kind="stable")
    low, high = order[:k], order[::-1][:k]
    return codes[high].mean(axis=0) - codes[low].mean(axis=0), high, low


def arithmetic_stats(before, after, probs_before, probs_after, attribute):
    """What adding a concept vector did to N images (before / after, (N, 28, 28) in [0, 1]):
    the share whose attribute moved up (the intended way), the share the classifier reads
    as the same digit as before, and the mean move of the attribute, in its own units and
    as a multiple of its spread (standard deviation) over the images before."""
    f = ATTRIBUTES[attribute]
    a0, a1 = f(before), f(after)
    move = float((a1 - a0).mean())
    return {"moved": float((a1 > a0).mean()),
            "kept": float((probs_after.argmax(1) == probs_before.argmax(1)).mean()),
            "move": move, "move_sd": move / max(float(a0.std()), 1e-12)}


#: the largest multiple of the pixel-space vector matched_pixel_step tries
def mean_by_digit(values, digits):
    """{d: mean of the values of the draws whose exemplars were samples of digit d}, in
    digit order: values[r] and digits[r] belong to draw r."""
    values, digits = np.asarray(values, dtype=float), np.asarray(digits)
    return {int(d): float(values[digits == d].mean()) for d in np.unique(digits)}


MAX_PIXEL_SCALE = 8.0


def matched_pixel_step(before, difference, attribute, target, iters=30, max_scale=MAX_PIXEL_SCALE):
    """The scale s for which clip(before + s * difference, 0, 1) moves the attribute by
    `target` on average: the pixel-space vector made to move the attribute as far as the
    z-space vector did, so that the two are compared at the same move. The mean move grows
    with s while the clipping lets it (bisection on [0, max_scale]); a target out of reach
    gives max_scale. Returns (s, the images at s)."""
    f = ATTRIBUTES[attribute]
    a0 = f(before).mean()
    step = lambda s: np.clip(before + s * difference, 0, 1)
    lo, hi = 0.0, max_scale
    at_cap = step(hi)
    if f(at_cap).mean() - a0 < target:
        return hi, at_cap
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(step(mid)).mean() - a0 < target else (lo, mid)
    return hi, step(hi)


# ----------------------------------------------------------------------------- saliency


def last_conv_tap(D):
    """Index (in leaf_layers(D)) of the activation that follows D's last convolution: the
    features sec. 6.2 of the paper visualises."""
    layers = leaf_layers(D)
    conv = max(i for i, layer in enumerate(layers) if isinstance(layer, Conv2d))
    return next(i for i in range(conv, len(layers)) if _is_activation(layers[i]))


def guided_saliency(D, x, rank=0):
    """Guided backpropagation (Springenberg et al. 2014) of each image's rank-th strongest
    feature of D's last convolutional layer: the channel with the rank-th largest maximum
    activation, differentiated at the position of that maximum with respect to the input,
    every ReLU / LeakyReLU passing back only positive gradients through positive inputs
    (minigan.layers.activations.guided). x (N, 1, 28, 28) in D's input range, D in eval
    mode. Returns {"saliency": (N, 1, 28, 28), "channel": (N,), "peak": (N, 2) the (row,
    column) of the maximum in the channel's map, "map_size": (rows, columns)}, on the host."""
    xp = backend.xp()
    layers = leaf_layers(D)[:last_conv_tap(D) + 1]
    h, caches = backend.asarray(x), []
    for layer in layers:
        h, cache = layer.forward(h, train=False)
        caches.append(cache)
    n, c = h.shape[:2]
    peak = backend.to_host(h.reshape(n, c, -1).max(axis=2))         # (N, C), small: on the host
    channel = backend.asarray(np.argsort(-peak, axis=1, kind="stable")[:, rank])
    rows = xp.arange(n)
    where = h.reshape(n, c, -1)[rows, channel].argmax(axis=1)       # (N,) flat position
    dy = xp.zeros(h.shape, dtype=h.dtype).reshape(n, c, -1)
    dy[rows, channel, where] = 1
    dy = dy.reshape(h.shape)
    with frozen(D), guided(D):
        for layer, cache in zip(reversed(layers), reversed(caches)):
            dy = layer.backward(dy, cache)
    rows, cols = np.divmod(backend.to_host(where), h.shape[3])
    return {"saliency": backend.to_host(dy), "channel": backend.to_host(channel),
            "peak": np.stack([rows, cols], axis=1), "map_size": tuple(h.shape[2:])}


def stroke_share(saliency, images, threshold=0.5):
    """The share of |saliency| on the digit's strokes (pixels of intensity > threshold in
    the image, in [0, 1]), per image; an even spread would give the strokes' share of the
    area."""
    s = np.abs(np.asarray(saliency, np.float64)).reshape(len(saliency), -1)
    on = (np.asarray(images).reshape(len(images), -1) > threshold)
    return (s * on).sum(axis=1) / np.maximum(s.sum(axis=1), 1e-300)
