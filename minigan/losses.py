"""Losses. Each returns (loss, dloss/dinput): the gradient the backward pass starts from.
Every loss is a mean over the batch, so gradients carry a 1/N."""
from . import backend


def bce_with_logits(logits, target):
    """Binary cross-entropy on logits z with targets t in [0, 1]:

        l = -[t log sigma(z) + (1 - t) log(1 - sigma(z))] = max(z, 0) - z t + log(1 + e^-|z|)

    The right-hand form never exponentiates a positive number, so it is exact for any |z|.
    dl/dz = sigma(z) - t.
    """
    xp = backend.get_array_module(logits)
    # A number target (1.0: "real") stays a Python number: asarray would copy it to the
    # GPU at every call.
    if not isinstance(target, (int, float)):
        target = xp.broadcast_to(xp.asarray(target, dtype=logits.dtype), logits.shape)
    n = logits.size
    loss = xp.maximum(logits, 0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
    sigma = 0.5 * (1 + xp.tanh(0.5 * logits))
    return float(loss.sum()) / n, (sigma - target) / n


def softmax(logits):
    """Row-wise softmax, shifted by the row max so exp never overflows."""
    xp = backend.get_array_module(logits)
    e = xp.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean of -log softmax(z)_y over the batch; logits (N, K), integer labels (N,).

        log softmax(z)_y = z_y - max z - log sum_k e^(z_k - max z)
        dl/dz = (softmax(z) - onehot(y)) / N
    """
    xp = backend.get_array_module(logits)
    n = len(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(n)
    loss = -float(log_probs[rows, labels].sum()) / n
    grad = xp.exp(log_probs)
    grad[rows, labels] -= 1
    return loss, grad / n


def mse(pred, target):
    """mean (p - t)^2;  dl/dp = 2 (p - t) / size.  (Lesson 07's least-squares GAN loss.)"""
    diff = pred - target
    return float((diff * diff).sum()) / diff.size, 2 * diff / diff.size


def l1(pred, target):
    """mean |p - t|;  dl/dp = sign(p - t) / size  (0 where p = t).  (Lesson 07's cycle and
    identity losses.)"""
    xp = backend.get_array_module(pred)
    diff = pred - target
    return float(xp.abs(diff).sum()) / diff.size, xp.sign(diff) / diff.size


def mean(scores):
    """mean of the scores and its gradient 1/N: the critic's terms in a Wasserstein loss,
    e.g. critic loss = mean(D(fake)) - mean(D(real))."""
    xp = backend.get_array_module(scores)
    return float(scores.sum()) / scores.size, xp.full_like(scores, 1.0 / scores.size)
