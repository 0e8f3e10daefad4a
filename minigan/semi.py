"""Lesson 09's pieces outside the layers: the semi-supervised GAN's networks (kept here so
the tests build the very same ones), the draw of the labelled digits, and the batches of a
step (a labelled one, and two unlabelled ones).

The networks are improved-gan's MNIST model (Salimans et al. 2016; openai/improved-gan,
mnist_svhn_cifar10/train_mnist_feature_matching.py and nn.py), in minigan's layers:

    G: z ~ U(0, 1)^100 -> Dense 500 (no bias), BatchNorm, softplus -> Dense 500 (no bias),
       BatchNorm, softplus -> WeightNormDense 784 (g trained), sigmoid
    D.features: x (784) + N(0, 0.3^2) -> [WeightNormDense, ReLU, + N(0, 0.5^2)] for 1000,
       500, 250, 250 units -> WeightNormDense 250, ReLU                 (f(x), 250)
    D.head: f + N(0, 0.5^2) -> WeightNormDense 10 (g trained)             (10 logits)

D's hidden layers keep g fixed after the data-dependent initialisation (improved-gan's
``train_scale=False``), so the noise of fixed sigma after each ReLU cannot be outgrown by
scaling the activations up. G's BatchNorm learns a scale and a shift (improved-gan's has the
shift only); its dense weights start Glorot-uniform (Lasagne's default), D's v N(0, 0.1^2).
"""
import numpy as np

from . import backend, init
from .data import Batches
from .layers import (BatchNorm1d, Dense, GaussianNoise, Parts, ReLU, Sequential, Sigmoid,
                     Softplus, WeightNormDense, data_dependent_init)


def semi_supervised_mnist(z_dim=100, g_hidden=(500, 500), d_hidden=(1000, 500, 250, 250, 250),
                          classes=10, side=28, input_noise=0.3, hidden_noise=0.5,
                          train_hidden_g=False):
    """(G, D): G a Sequential, z (N, z_dim) -> images (N, side*side) in [0, 1]; D Parts
    with D.features (N, side*side) -> (N, d_hidden[-1]) and D.head -> (N, classes) logits.
    D is not initialised from data yet: call init_discriminator(D, x) with real digits.
    train_hidden_g: D's hidden layers learn their g too (improved-gan's keep it fixed)."""
    pixels = side * side
    g_layers, width = [], z_dim
    for units in g_hidden:
        dense = Dense(width, units, bias=False)          # BatchNorm's shift is the bias
        dense.params["W"][...] = init.glorot_uniform(dense.params["W"].shape)
        g_layers += [dense, BatchNorm1d(units, eps=1e-6), Softplus()]
        width = units
    out = WeightNormDense(width, pixels, train_g=True)
    out.params["v"][...] = init.glorot_uniform(out.params["v"].shape)
    G = Sequential(*g_layers, out, Sigmoid())

    d_layers, width = [GaussianNoise(input_noise)], pixels
    for i, units in enumerate(d_hidden):
        if i > 0:
            d_layers.append(GaussianNoise(hidden_noise))
        d_layers += [WeightNormDense(width, units, train_g=train_hidden_g), ReLU()]
        width = units
    head = Sequential(GaussianNoise(hidden_noise), WeightNormDense(width, classes, train_g=True))
    return G, Parts(features=Sequential(*d_layers), head=head)


def init_discriminator(D, x):
    """improved-gan's data-dependent initialisation of D (its init_param on 500 training
    digits): every WeightNormDense, bottom to top, scaled and shifted so that its
    pre-activation has mean 0 and variance 1 on x (see WeightNormDense.init_from_data)."""
    data_dependent_init(D.head, data_dependent_init(D.features, x))


def draw_labelled(labels, n, seed, classes=10):
    """Indices of n labelled digits, n / classes of each class, drawn without replacement
    with the seed from the digits whose labels are given; sorted by class, then index.
    Raises ValueError (one sentence) if n is not a multiple of classes or a class has
    fewer than n / classes digits."""
    labels = np.asarray(labels)
    if n % classes or n < classes:
        raise ValueError(f"--labels must be a positive multiple of {classes} (the same number "
                         f"of each digit), got {n}")
    if n > len(labels):
        raise ValueError(f"--labels {n} is larger than the {len(labels)} training digits")
    rng, per_class, idx = np.random.default_rng(seed), n // classes, []
    for c in range(classes):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"--labels {n} needs {per_class} digits of each class; the training "
                             f"digits hold only {len(members)} {c}s")
        idx.append(np.sort(rng.choice(members, per_class, replace=False)))
    return np.concatenate(idx)


class SemiSupervisedBatches(Batches):
    """The batches of every step: a labelled batch (x, y), an unlabelled batch for D's step
    and another for G's step (improved-gan shuffles the unlabelled digits twice per epoch,
    trainx_unl and trainx_unl2). An epoch is one pass over the unlabelled digits; the
    labelled ones are repeated in fresh shuffles as often as that takes.

    Images are (N, 784) rows; the arrays move to the active device once. The checkpoint
    between two batches is minigan.data.Batches': the generator's state before this
    epoch's shuffles and the batches given out so far.
    """

    def __init__(self, x_lab, y_lab, x_unl, batch_size, seed=0):
        super().__init__(x_unl, None, batch_size, seed)          # self.x: the unlabelled digits
        self.x_lab, self.y_lab = backend.asarray(x_lab), backend.asarray(y_lab)

    def shuffle(self):
        """Two orders of the unlabelled digits (D's, G's) and enough labelled shuffles."""
        n, n_lab = len(self) * self.batch_size, len(self.x_lab)
        order_d = backend.asarray(self.rng.permutation(len(self.x)))
        order_g = backend.asarray(self.rng.permutation(len(self.x)))
        repeats = -(-n // n_lab)                                    # ceil
        order_lab = backend.asarray(self.rng.permuted(np.tile(np.arange(n_lab), (repeats, 1)),
                                                      axis=1).ravel())
        return order_lab, order_d, order_g

    def batch(self, order, i):
        order_lab, order_d, order_g = order
        b = slice(i * self.batch_size, (i + 1) * self.batch_size)
        lab = order_lab[b]
        return self.x_lab[lab], self.y_lab[lab], self.x[order_d[b]], self.x[order_g[b]]


def update_average(average, model, step, decay):
    """Polyak-style averaging of a model's parameters, as improved-gan keeps one of D's
    (disc_param_avg) for testing: an exponential moving average with rate 1 - decay,
    bias-corrected like Adam's moments, in place in `average` (a model of the same build):

        a_t = a_(t-1) + r_t (p_t - a_(t-1)),   r_t = (1 - decay) / (1 - decay^t)

    which is sum_k (1 - decay) decay^(t-k) p_k / (1 - decay^t), the weighted mean of the
    parameters after updates 1..t (r_1 = 1: a_1 = p_1, whatever a held). step = t >= 1.
    Only parameters are averaged; buffers (BatchNorm's statistics, a fixed g) are copied."""
    rate = (1 - decay) / (1 - decay ** step)
    for (_, a_owner, a_key), (_, owner, key) in zip(average.parameters(), model.parameters()):
        a = a_owner.params[a_key]
        a += rate * (owner.params[key] - a)
    for (_, a_owner, a_key), (_, owner, key) in zip(average.named_buffers(), model.named_buffers()):
        a_owner.buffers[a_key][...] = owner.buffers[key]


def classify(D, x, batch_size=1000):
    """D's predicted class of every row of x (eval mode: no noise), in chunks; host ints."""
    out = []
    for i in range(0, len(x), batch_size):
        feats, _ = D.features.forward(x[i:i + batch_size], train=False)
        logits, _ = D.head.forward(feats, train=False)
        out.append(backend.to_host(logits.argmax(axis=1)))
    return np.concatenate(out)
