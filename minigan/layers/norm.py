"""Batch normalization (Ioffe & Szegedy 2015) over the batch (1-d) or batch and pixels (2-d)."""
from .. import backend
from .base import Layer, check_input


class _BatchNorm(Layer):
    """x_hat = (x - mu_B) / sqrt(var_B + eps);  y = gamma * x_hat + beta.

    In training, mu_B and var_B are the statistics of the current batch (over the axes in
    ``self.axes``) and the running averages are updated as in PyTorch:
    running = (1 - momentum) * running + momentum * batch_stat (unbiased variance).
    With train=False the running averages are used instead.
    """
    ndim, axes = None, None

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
        In training mu and var depend on x too; differentiating through them gives
            dx = inv_std / m * (m dx_hat - sum dx_hat - x_hat * sum(dx_hat * x_hat)),
        and since sum dx_hat = gamma dbeta and sum(dx_hat * x_hat) = gamma dgamma,
            dx = gamma * inv_std * (dy - dbeta / m - x_hat * dgamma / m)
        (written so, it costs a few passes over the batch instead of a dozen).
        In eval mode mu and var are constants: dx = dx_hat * inv_std.
        """
        x_hat, inv_std, train = cache
        dbeta = dy.sum(axis=self.axes, keepdims=True)             # (1, C[, 1, 1])
        dgamma = (dy * x_hat).sum(axis=self.axes, keepdims=True)
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
