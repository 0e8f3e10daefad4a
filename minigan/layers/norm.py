"""Batch normalization (Ioffe & Szegedy 2015) over the batch (1-d) or batch and pixels (2-d),
and layer normalization (Ba et al. 2016) over each sample's own values (the normalisation
the WGAN-GP paper recommends for a critic). InstanceNorm2d (image.py) is the third member
of the family, normalising one image's channel over its pixels.

All three normalise groups of M values: x_hat = (x - mean x) s, s = 1 / sqrt(var x + eps),
the mean and variance over the group's values (``axes``). They share one Jacobian,

    J_N = d x_hat / dx = s (I - 1 1^T / M - x_hat x_hat^T / M)     (M x M per group, symmetric)

(mu and s depend on every value of the group: hence the two rank-one terms), applied by
``normalize_grad``.
"""
from .. import backend
from .base import Layer, check_input


def normalize_grad(u, x_hat, inv_std, axes):
    """J_N u = s (u - mean u - x_hat mean(u x_hat)), the means over ``axes``: one group's
    M values. u, x_hat: like x; inv_std (s): x's shape with 1 on ``axes``.

    J_N is symmetric, so this one product is the normalisation's backward (J_N^T dx_hat)
    and its tangent (J_N x_dot). LayerNorm (a sample's values) and InstanceNorm2d (one
    image's channel, axes (2, 3)) call it; BatchNorm computes the same product from the
    sums its parameter gradients already hold (see _BatchNorm.backward).
    """
    out = u - u.mean(axis=axes, keepdims=True)                # u - mean u
    out -= x_hat * (u * x_hat).mean(axis=axes, keepdims=True)  # - x_hat mean(u x_hat)
    out *= inv_std
    return out


class _BatchNorm(Layer):
    """x_hat = (x - mu_B) / sqrt(var_B + eps);  y = gamma * x_hat + beta.

    In training, mu_B and var_B are the statistics of the current batch (over the axes in
    ``self.axes``) and the running averages are updated as in PyTorch:
    running = (1 - momentum) * running + momentum * batch_stat (unbiased variance).
    With train=False the running averages are used instead.
    """
    ndim, axes = None, None
    second_order_hint = "use LayerNorm: BatchNorm mixes the samples of a batch"

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        xp = backend.xp()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.add_param("gamma", xp.ones(num_features, dtype=xp.float32))
        self.add_param("beta", xp.zeros(num_features, dtype=xp.float32))
        self.buffers["running_mean"] = xp.zeros(num_features, dtype=xp.float32)
        self.buffers["running_var"] = xp.ones(num_features, dtype=xp.float32)

    def _bshape(self, v):
        """(C,) -> (1, C) or (1, C, 1, 1), to broadcast against x."""
        return v.reshape((1, -1) + (1,) * (self.ndim - 2))

    def forward(self, x, train=True):
        check_input(self, x, self.ndim, 1, self.num_features)
        xp = backend.get_array_module(x)
        if train:
            mu = x.mean(axis=self.axes, keepdims=True)
            x_hat = x - mu                                        # centred; normalised below
            var = (x_hat * x_hat).mean(axis=self.axes, keepdims=True)
            m = x.size // self.num_features                       # values per channel
            mom = self.momentum
            self.buffers["running_mean"] *= 1 - mom
            self.buffers["running_mean"] += mom * mu.ravel()
            self.buffers["running_var"] *= 1 - mom
            self.buffers["running_var"] += mom * var.ravel() * (m / max(m - 1, 1))
        else:
            mu = self._bshape(self.buffers["running_mean"])
            var = self._bshape(self.buffers["running_var"])
            x_hat = x - mu
        inv_std = 1 / xp.sqrt(var + self.eps)                     # (1, C[, 1, 1])
        x_hat *= inv_std                                          # (x - mu) / sqrt(var + eps)
        y = x_hat * self._bshape(self.params["gamma"])
        y += self._bshape(self.params["beta"])
        return y, (x_hat, inv_std, train)

    def backward(self, dy, cache):
        """With m values per channel and sums over the batch (and pixel) axes:
            dbeta  = sum dy,   dgamma = sum dy * x_hat,   dx_hat = dy * gamma
        In training mu and var depend on x too: dx = J_N^T dx_hat (the module docstring),
            dx = inv_std * (dx_hat - mean dx_hat - x_hat * mean(dx_hat * x_hat)),
        normalize_grad's product. gamma is one number per channel, constant over the m
        values the means run over, and sum dx_hat = gamma dbeta, sum(dx_hat * x_hat) =
        gamma dgamma, so
            dx = gamma * inv_std * (dy - dbeta / m - x_hat * dgamma / m)
        reuses the two sums the parameter gradients need (a few passes over the batch
        instead of a dozen).
        In eval mode mu and var are constants: dx = dx_hat * inv_std.
        Shapes: dy, x_hat, dx like x; inv_std, dbeta, dgamma (1, C[, 1, 1]).
        """
        x_hat, inv_std, train = cache
        dbeta = dy.sum(axis=self.axes, keepdims=True)             # (1, C[, 1, 1])
        dgamma = (dy * x_hat).sum(axis=self.axes, keepdims=True)
        if not self.frozen:
            self.grads["beta"] += dbeta.ravel()
            self.grads["gamma"] += dgamma.ravel()
        scale = self._bshape(self.params["gamma"]) * inv_std      # gamma / sqrt(var + eps)
        if not train:
            return dy * scale
        m = dy.size // self.num_features
        dx = x_hat * (-dgamma / m)
        dx += dy
        dx -= dbeta / m
        dx *= scale
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Normalizes each feature of x (N, C) over the batch."""
    ndim, axes = 2, (0,)


class BatchNorm2d(_BatchNorm):
    """Normalizes each channel of x (N, C, H, W) over the batch and all pixels."""
    ndim, axes = 4, (0, 2, 3)


class LayerNorm(Layer):
    """Layer normalization (Ba et al. 2016), as in the WGAN-GP critics (Gulrajani et al.
    2017, sec. 4): each sample is normalised on its own, over all of its M values (M = C
    for x (N, C); M = C*H*W for x (N, C, H, W)):

        mu_n  = mean_m x_nm,   var_n = mean_m (x_nm - mu_n)^2,   s_n = 1 / sqrt(var_n + eps)
        x_hat = (x - mu_n) s_n,          y = gamma_c x_hat + beta_c

    gamma and beta are per channel (axis 1) and shared by a feature map's pixels, as in
    the authors' code (tflib's Layernorm: moments over axes [1, 2, 3], one scale and offset
    per channel, eps 1e-5). Per channel keeps what a conv layer has, one set of numbers per
    feature map whatever the image size, and a conv critic stays translation-equivariant.

    No sample sees another, so train and eval are the same function, and the per-sample
    input gradient that the penalty constrains is well defined (BatchNorm's is not).

    The normalisation N(x) = x_hat of one sample has the Jacobian of the module docstring,

        J_N = s (I - 1 1^T / M - x_hat x_hat^T / M)          (M x M, symmetric)

    so one function, ``normalize_grad`` (over the sample's axes), applies it both as J_N^T
    (backward) and as J_N (tangent).
    """

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        xp = backend.xp()
        self.num_features, self.eps = num_features, eps
        self.add_param("gamma", xp.ones(num_features, dtype=xp.float32))
        self.add_param("beta", xp.zeros(num_features, dtype=xp.float32))

    @staticmethod
    def _bshape(v, ndim):
        """(C,) -> (1, C) or (1, C, 1, 1), to broadcast against x."""
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    @staticmethod
    def _sample_axes(a):
        return tuple(range(1, a.ndim))                 # every axis but the batch

    @staticmethod
    def _channel_axes(a):
        return (0,) + tuple(range(2, a.ndim))          # every axis but the channel

    def forward(self, x, train=True):
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expects (N, {self.num_features}, ...) input, "
                             f"got shape {tuple(x.shape)}")
        xp = backend.get_array_module(x)
        axes = self._sample_axes(x)
        x_hat = x - x.mean(axis=axes, keepdims=True)                # centred; normalised below
        var = (x_hat * x_hat).mean(axis=axes, keepdims=True)        # (N, 1[, 1, 1])
        inv_std = 1 / xp.sqrt(var + self.eps)                       # s_n
        x_hat *= inv_std
        y = x_hat * self._bshape(self.params["gamma"], x.ndim)
        y += self._bshape(self.params["beta"], x.ndim)
        return y, (x_hat, inv_std)

    def _normalize_grad(self, u, x_hat, inv_std):
        """J_N u over each sample's M values: normalize_grad on every axis but the batch."""
        return normalize_grad(u, x_hat, inv_std, self._sample_axes(u))

    def backward(self, dy, cache):
        """With sums over the batch (and pixel) axes:
            dbeta = sum dy,   dgamma = sum dy * x_hat,   dx_hat = gamma dy
        and, per sample, through the normalisation (mu and s depend on x):
            dx = J_N^T dx_hat = s (dx_hat - mean dx_hat - x_hat mean(dx_hat * x_hat))
        """
        x_hat, inv_std = cache
        axes = self._channel_axes(dy)
        if not self.frozen:
            self.grads["beta"] += dy.sum(axis=axes)
            self.grads["gamma"] += (dy * x_hat).sum(axis=axes)
        return self._normalize_grad(dy * self._bshape(self.params["gamma"], dy.ndim),
                                    x_hat, inv_std)

    # --- the second-order pass (WGAN-GP; see minigan/penalty.py) --------------------------

    def backward_input(self, dy, cache):
        """backward without parameter gradients: dx = J_N^T (gamma dy), J_N^T = J_N.
        Records delta = dy, the signal at the output, for backward2. dy, dx like x."""
        x_hat, inv_std = cache                                     # like x; (N, 1[, 1, 1])
        dx_hat = dy * self._bshape(self.params["gamma"], dy.ndim)  # gamma dy
        return self._normalize_grad(dx_hat, x_hat, inv_std), dy

    def tangent(self, x_dot, cache):
        """y = gamma x_hat + beta, so J x_dot = gamma x_hat_dot with

            x_hat_dot = J_N x_dot = s (x_dot - mean x_dot - x_hat mean(x_hat x_dot))

        (means over each sample's M values). x_dot, y_dot like x. The tangent cache is
        (x_dot, x_hat_dot), both of which backward2 needs."""
        x_hat, inv_std = cache                                     # like x; (N, 1[, 1, 1])
        x_hat_dot = self._normalize_grad(x_dot, x_hat, inv_std)     # like x
        y_dot = x_hat_dot * self._bshape(self.params["gamma"], x_dot.ndim)
        return y_dot, (x_dot, x_hat_dot)

    def backward2(self, y_bar, delta, tcache, cache):
        """The second-order term is Q = <delta, J x_dot> = <u, J_N(x) x_dot> with u = gamma
        delta, <.,.> summed over one sample's M values (each sample is independent).

        gamma:  Q = <delta, gamma x_hat_dot>, so  dgamma += sum delta * x_hat_dot  (per
                channel, over the batch and pixels).
        x:      J_N depends on x through s and x_hat. Per sample, with a = <u, x_dot -
                mean x_dot> (no x in it), c = <u, x_hat> and p = <x_dot, x_hat>,
                    Q = s a - s c p / M.
                With ds/dx = -s^2 x_hat / M (as d var/dx = 2 (x - mu) / M), dc/dx = J_N^T u
                = J_N u and dp/dx = J_N x_dot = x_hat_dot:
                    dQ/dx = -(s^2 x_hat / M) (a - c p / M) - (s / M) (p J_N u + c x_hat_dot)
                          = -(s / M) (Q x_hat + c x_hat_dot + p J_N u),   as s (a - c p / M) = Q.
        beta:   y depends on beta only additively: J does not, no second-order term.

        So  x_bar = J_N (gamma y_bar) - (s / M) (Q x_hat + c x_hat_dot + p J_N u), and
        backward(y_bar) gives the first term and the y_bar parts of dgamma and dbeta
        (none if y_bar is None, zero). y_bar, delta, x_bar like x; Q, c, p (N, 1[, 1, 1]).
        """
        x_hat, inv_std = cache                                     # like x; (N, 1[, 1, 1])
        x_dot, x_hat_dot = tcache                                  # like x, each
        self.grads["gamma"] += (delta * x_hat_dot).sum(axis=self._channel_axes(delta))
        u = delta * self._bshape(self.params["gamma"], delta.ndim)  # like x
        axes = self._sample_axes(u)
        M = x_hat[0].size
        Q = (u * x_hat_dot).sum(axis=axes, keepdims=True)          # (N, 1[, 1, 1])
        c = (u * x_hat).sum(axis=axes, keepdims=True)              # (N, 1[, 1, 1])
        p = (x_dot * x_hat).sum(axis=axes, keepdims=True)          # (N, 1[, 1, 1])
        second = Q * x_hat                                         # Q x_hat
        second += c * x_hat_dot                                    #  + c x_hat_dot
        second += p * self._normalize_grad(u, x_hat, inv_std)      #  + p J_N u
        second *= -inv_std / M                                     # times -(s / M)
        if y_bar is not None:
            second += self.backward(y_bar, cache)
        return second

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}"
