"""The layers of the semi-supervised GAN (lesson 09; Salimans et al. 2016's MNIST networks):
a weight-normalised dense layer, additive Gaussian noise, and softplus.

WeightNormDense (Salimans & Kingma 2016, "Weight Normalization: A Simple
Reparameterization to Accelerate Training of Deep Neural Networks",
https://arxiv.org/abs/1602.07868) writes each output unit's weight vector as a length
times a direction, w = g v / ||v||, and learns g, v and b. ``data_dependent_init`` is the
initialisation that paper's sec. 3 gives (and the improved-gan code runs once, on 500
training digits): every unit's pre-activation starts with mean 0 and variance 1 on real data.

GaussianNoise is the improved-gan discriminator's regulariser: it adds N(0, sigma^2) to every
input and hidden activation in training, and nothing at evaluation.
"""
import numpy as np

from .. import backend
from .base import Layer, Sequential, check_input


def _column_sums_of_squares(xp, v):
    """sum_i v_ij^2 per column: einsum, which forms no v * v temporary (twice as fast as
    (v * v).sum(axis=0) in NumPy), where the array module has it (NumPy, CuPy)."""
    if hasattr(xp, "einsum"):
        return xp.einsum("ij,ij->j", v, v)
    return (v * v).sum(axis=0)


class WeightNormDense(Layer):
    """y = x w + b,   w_ij = g_j v_ij / ||v_:j||   (||v_:j|| the norm of column j).

    Shapes: x (N, in), v (in, out), g (out,), b (out,), y (N, out).

    The direction v and the length g of each unit's weights are separate parameters, so
    Adam's step on v turns the weights without changing how large they are. With
    train_g=False, g is a buffer, not a parameter: set by data_dependent_init, saved in a
    checkpoint, never trained (the improved-gan MNIST discriminator's hidden layers;
    ``train_scale=False`` in its DenseLayer). v starts N(0, init_std^2) (0.1 there), g 1, b 0.

    Forward, without forming w: with s_j = g_j / ||v_:j|| and u = x v,

        y = u * s + b                     (s broadcast over the batch)
    """

    def __init__(self, in_features, out_features, train_g=True, init_std=0.1):
        super().__init__()
        xp = backend.xp()
        self.in_features, self.out_features, self.train_g = in_features, out_features, train_g
        self.add_param("v", backend.randn(in_features, out_features, std=init_std))
        g = xp.ones(out_features, dtype=xp.float32)
        if train_g:
            self.add_param("g", g)
        else:
            self.buffers["g"] = g
        self.add_param("b", xp.zeros(out_features, dtype=xp.float32))

    def g(self):
        return self.params["g"] if self.train_g else self.buffers["g"]

    def forward(self, x, train=True):
        check_input(self, x, 2, 1, self.in_features)
        xp = backend.get_array_module(x)
        v = self.params["v"]
        norm = xp.sqrt(_column_sums_of_squares(xp, v))  # (out,)  ||v_:j||
        scale = self.g() / norm                          # (out,)  s_j = g_j / ||v_:j||
        u = x @ v                                        # (N, out)
        y = u * scale
        y += self.params["b"]
        return y, (x, u, scale, norm)

    def backward(self, dy, cache):
        """With y_nj = s_j u_nj + b_j, u = x v, s_j = g_j / ||v_j|| (v_j the column v_:j):

            db_j = sum_n dy_nj
            du   = dy * s                                   (N, out)
            dx   = du v^T                                   (N, in)
            ds_j = sum_n dy_nj u_nj                         (out,)
            dg_j = ds_j / ||v_j||                           (ds/dg = 1 / ||v||)
            dv_j = x^T du_:j - ds_j g_j v_j / ||v_j||^3    (d||v||/dv = v / ||v||)
                 = x^T du_:j - v_j ds_j s_j / ||v_j||^2     (in, out)

        The second term of dv is Salimans & Kingma's projection: dv = (g / ||v||) M dw with
        M = I - w w^T / ||w||^2 and dw = x^T dy, the gradient of the unnormalised layer;
        v's gradient has no component along v, so a step does not shrink v (it grows it:
        ||v + step||^2 = ||v||^2 + ||step||^2, a built-in decay of the effective rate).
        """
        du = self._add_param_grads(dy, cache)
        return du @ self.params["v"].T

    def backward_params(self, dy, cache):
        """db, dg and dv of backward, without dx (D's first layer in its own step)."""
        self._add_param_grads(dy, cache)

    def _add_param_grads(self, dy, cache):
        x, u, scale, norm = cache
        du = dy * scale                                  # (N, out)
        if not self.frozen:
            ds = (dy * u).sum(axis=0)                    # (out,)
            self.grads["b"] += dy.sum(axis=0)
            if self.train_g:
                self.grads["g"] += ds / norm
            self.grads["v"] += x.T @ du
            self.grads["v"] -= self.params["v"] * (ds * scale / (norm * norm))
        return du

    def init_from_data(self, x):
        """Salimans & Kingma 2016, sec. 3 (and improved-gan's ``init=True`` pass): on a batch
        x of real data, measure the pre-activation a = x w of every unit with the current g
        (b left out), its mean m and standard deviation sd over the batch, and set

            g <- g / sd,    b <- -m / sd,

        so that y = (a - m) / sd: every unit starts with mean 0 and variance 1 on data.
        Returns that y (N, out), the input for initialising the next layer."""
        xp = backend.get_array_module(x)
        a, _ = self.forward(x)
        a -= self.params["b"]                            # a = x w, without the bias
        m = a.mean(axis=0)
        sd = xp.sqrt(((a - m) ** 2).mean(axis=0))
        g = self.g()
        g /= sd
        self.params["b"][...] = -m / sd
        return (a - m) / sd

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, train_g={self.train_g}"


def data_dependent_init(model, x, train=True):
    """Run x through a Sequential (nested ones too), initialising every WeightNormDense on
    the way with init_from_data (the layers above see the already initialised outputs).
    Other layers run forward (train=True: GaussianNoise adds its noise, as in improved-gan's
    initialisation pass). Returns the model's output on x."""
    for layer in model.layers if isinstance(model, Sequential) else [model]:
        if isinstance(layer, WeightNormDense):
            x = layer.init_from_data(x)
        elif isinstance(layer, Sequential):
            x = data_dependent_init(layer, x, train)
        else:
            x, _ = layer.forward(x, train)
    return x


class GaussianNoise(Layer):
    """y = x + sigma * e, e ~ N(0, 1) drawn afresh for every entry and every call, in
    training; y = x at evaluation (train=False).

    The noise does not depend on x, so dy/dx = I and backward passes dy through unchanged.
    It is drawn from minigan.backend's seeded generator: the same seed gives the same noise,
    and a checkpoint that stores the generator's state resumes the same stream.
    """

    def __init__(self, sigma):
        super().__init__()
        if not sigma >= 0:
            raise ValueError(f"GaussianNoise sigma must be >= 0, got {sigma}")
        self.sigma = sigma

    def forward(self, x, train=True):
        if not train or self.sigma == 0:
            return x, None
        e = backend.rng().standard_normal(x.shape, dtype=np.dtype(x.dtype))   # on the host
        e *= self.sigma
        y = backend.asarray(e)
        y += x
        return y, None

    def backward(self, dy, cache):
        """y = x + noise: dx = dy."""
        return dy

    def extra_repr(self):
        return f"sigma={self.sigma}"


class Softplus(Layer):
    """y = log(1 + e^x), computed as max(x, 0) + log(1 + e^-|x|), which never overflows.
    (Improved-gan's MNIST generator uses it after each BatchNorm.)

    A smooth ReLU: f'(x) = sigmoid(x), f''(x) = sigmoid(x) (1 - sigmoid(x)). The cache is
    sigmoid(x), all backward needs. It has the second-order pass of minigan/layers/
    activations.py, so a WGAN-GP critic may use it.
    """

    def forward(self, x, train=True):
        xp = backend.get_array_module(x)
        y = xp.log1p(xp.exp(-xp.abs(x)))
        y += xp.maximum(x, 0)
        s = 0.5 * (1 + xp.tanh(0.5 * x))                 # sigmoid(x), as Sigmoid computes it
        return y, s

    def backward(self, dy, s):
        """dy/dx = sigmoid(x) = s."""
        return dy * s

    def backward_input(self, dy, s):
        return self.backward(dy, s), dy

    def tangent(self, x_dot, s):
        """y_dot = sigmoid(x) x_dot."""
        return self.backward(x_dot, s), x_dot

    def backward2(self, y_bar, delta, x_dot, s):
        """f' = s and f'' = s (1 - s), so  x_bar = s y_bar + s (1 - s) x_dot delta."""
        out = (1 - s) * x_dot * delta
        if y_bar is not None:
            out += y_bar
        return s * out
