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


# ------------------------------------------- the semi-supervised GAN (lesson 09)
#
# D has K class logits z and an implicit (K+1)-th logit, "fake", fixed at 0:
#     p(fake | x) = 1 / (Z + 1),   Z = sum_k e^(z_k),   D(x) = 1 - p(fake | x) = Z / (Z + 1).
# Z / (Z + 1) = sigmoid(log Z), so D's real/fake logit is lse(z) = log Z, and the GAN's
# real/fake loss is the usual binary cross-entropy on that logit.


def log_sum_exp(logits):
    """lse(z) = log sum_k e^(z_k) per row, computed as max z + log sum_k e^(z_k - max z),
    which never overflows. logits (N, K) -> (N,). Its gradient is d lse / dz = softmax(z)."""
    xp = backend.get_array_module(logits)
    top = logits.max(axis=1, keepdims=True)
    return (top + xp.log(xp.exp(logits - top).sum(axis=1, keepdims=True)))[:, 0]


def bce_with_lse(logits, target):
    """The (K+1)-class discriminator's real/fake loss on its K class logits z (N, K), the
    fake class implicit (logit 0): binary cross-entropy with target t on the logit s = lse(z),

        t = 1 (real):  -log D(x)       = -lse(z) + softplus(lse(z)) = softplus(-lse(z))
        t = 0 (fake):  -log(1 - D(x))  = softplus(lse(z))

    (Salimans et al. 2016, sec. 5; improved-gan's loss_unl writes the first as -lse +
    softplus(lse), which loses the small difference of two large numbers in float32 when
    lse is large; bce_with_logits' form is the same function without that cancellation.)
    Mean over the batch; by the chain rule through s,

        dl/dz = (sigmoid(s) - t) softmax(z) / N        (N, K)
    """
    s = log_sum_exp(logits)
    loss, ds = bce_with_logits(s, target)            # ds = (sigmoid(s) - t) / N, (N,)
    return loss, ds[:, None] * softmax(logits)


def feature_matching(fake_features, real_features):
    """Salimans et al. 2016, sec. 3.1: G matches the mean of D's features on real data,

        l = ||mean_n f(x_n) - mean_n f(G(z_n))||^2 / d,     features (N, d)

    the squared distance divided by the d features, as improved-gan's T.mean does (Adam's
    steps do not depend on that constant). The real features are the target (no gradient);
    with m_r, m_f the two means:  dl/df(G(z_n)) = -2 (m_r - m_f) / (d N)  for every n."""
    xp = backend.get_array_module(fake_features)
    n, d = fake_features.shape
    diff = real_features.mean(axis=0) - fake_features.mean(axis=0)          # (d,)
    grad = xp.broadcast_to(-2 * diff / (d * n), fake_features.shape).astype(fake_features.dtype)
    return float((diff * diff).sum()) / d, grad
