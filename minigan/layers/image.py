"""Layers of image-to-image networks (Johnson et al. 2016's residual generators, which
CycleGAN uses): instance normalisation, reflection padding, and the residual block.

    x (N, C, H, W) everywhere.
"""
from .. import backend
from .base import Layer, Sequential, check_input
from .activations import ReLU
from .conv import Conv2d


class InstanceNorm2d(Layer):
    """Ulyanov et al. 2016: BatchNorm's formula with the statistics of *one* image and one
    channel, over its H x W pixels, in training and evaluation alike (no running averages):

        mu_nc = mean_hw x_nchw,   var_nc = mean_hw (x_nchw - mu_nc)^2
        x_hat = (x - mu_nc) / sqrt(var_nc + eps);   y = gamma_c x_hat + beta_c  (affine only)

    A style-transfer generator needs this: each image's contrast is normalised on its own,
    so one image's statistics never leak into another's output. CycleGAN's code uses it
    without gamma and beta (affine=False), the default here.
    """

    def __init__(self, num_features, eps=1e-5, affine=False):
        super().__init__()
        xp = backend.xp()
        self.num_features, self.eps, self.affine = num_features, eps, affine
        if affine:
            self.add_param("gamma", xp.ones(num_features, dtype=xp.float32))
            self.add_param("beta", xp.zeros(num_features, dtype=xp.float32))

    def forward(self, x, train=True):
        check_input(self, x, 4, 1, self.num_features)
        xp = backend.get_array_module(x)
        x_hat = x - x.mean(axis=(2, 3), keepdims=True)                  # (N, C, H, W)
        var = (x_hat * x_hat).mean(axis=(2, 3), keepdims=True)         # (N, C, 1, 1)
        inv_std = 1 / xp.sqrt(var + self.eps)
        x_hat *= inv_std
        if not self.affine:
            return x_hat, (x_hat, inv_std)
        y = x_hat * self.params["gamma"].reshape(1, -1, 1, 1) + self.params["beta"].reshape(1, -1, 1, 1)
        return y, (x_hat, inv_std)

    def backward(self, dy, cache):
        """BatchNorm's backward with the sums over one image's m = H W pixels:
            dbeta_c = sum_nhw dy,   dgamma_c = sum_nhw dy x_hat,   g = dy gamma
            dx = inv_std * (g - mean_hw g - x_hat * mean_hw(g x_hat))
        (mu and var depend on every pixel of the same image and channel, hence the two
        mean terms; they do not depend on other images.)
        """
        x_hat, inv_std = cache
        if self.affine:
            if not self.frozen:
                self.grads["beta"] += dy.sum(axis=(0, 2, 3))
                self.grads["gamma"] += (dy * x_hat).sum(axis=(0, 2, 3))
            dy = dy * self.params["gamma"].reshape(1, -1, 1, 1)
        dx = dy - dy.mean(axis=(2, 3), keepdims=True)
        dx -= x_hat * (dy * x_hat).mean(axis=(2, 3), keepdims=True)
        dx *= inv_std
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class ReflectionPad2d(Layer):
    """Pads H and W by p pixels that mirror the image across its border, without repeating
    the border pixel (NumPy's mode="reflect"):   row -i of the pad = row i of the image,

        y[..., i, :] = x[..., p - i, :]            for the p rows above,    i < p
        y[..., H + p + j, :] = x[..., H - 2 - j, :]  for the p rows below,  j < p
    (the same on W). A generator's convolutions then see image-like content at the border
    instead of zeros, and draw no dark frame. Needs p < H and p < W.
    """

    def __init__(self, padding):
        super().__init__()
        self.p = padding

    def forward(self, x, train=True):
        check_input(self, x, 4)
        p = self.p
        if p >= x.shape[2] or p >= x.shape[3]:
            raise ValueError(f"{self!r}: padding {p} needs H and W > {p}, got shape {tuple(x.shape)}")
        if p == 0:
            return x, None
        xp = backend.get_array_module(x)
        x = xp.concatenate([x[:, :, p:0:-1], x, x[:, :, -2:-p - 2:-1]], axis=2)       # rows
        x = xp.concatenate([x[:, :, :, p:0:-1], x, x[:, :, :, -2:-p - 2:-1]], axis=3)  # columns
        return x, None

    def backward(self, dy, cache):
        """The adjoint of the copy: every pad pixel's gradient goes back to the image pixel
        it copied, added to that pixel's own. Along one axis of image size n (dy: n + 2p):
            dx = dy[p : p+n]
            dx[1 : p+1]       += dy[:p] mirrored       (pad pixel i copied x[p - i])
            dx[n-1-p : n-1]   += dy[n+p:] mirrored     (pad pixel n+p+j copied x[n-2-j])
        Columns first (they were padded last), then rows.
        """
        if self.p == 0:
            return dy
        dx = self._unpad(dy, axis=3)
        return self._unpad(dx, axis=2)

    def _unpad(self, dy, axis):
        p = self.p
        dy = dy.swapaxes(axis, -1)                       # the padded axis last
        n = dy.shape[-1] - 2 * p
        dx = dy[..., p:p + n].copy()
        dx[..., 1:p + 1] += dy[..., :p][..., ::-1]
        dx[..., n - 1 - p:n - 1] += dy[..., n + p:][..., ::-1]
        return dx.swapaxes(axis, -1)

    def extra_repr(self):
        return f"{self.p}"


class ResidualBlock(Layer):
    """He et al. 2016's residual block as Johnson et al. 2016 and CycleGAN build it:

        y = x + F(x),   F = ReflectionPad 1, Conv c->c 3x3, InstanceNorm, ReLU,
                            ReflectionPad 1, Conv c->c 3x3, InstanceNorm

    Shape-preserving: (N, c, H, W) -> (N, c, H, W). Its backward is the sum rule:
        dx = dy + F.backward(dy)
    (the identity path hands the gradient straight down, whatever F does to it).
    """

    def __init__(self, channels):
        super().__init__()
        c = channels
        self.body = Sequential(ReflectionPad2d(1), Conv2d(c, c, 3), InstanceNorm2d(c), ReLU(),
                               ReflectionPad2d(1), Conv2d(c, c, 3), InstanceNorm2d(c))

    def forward(self, x, train=True):
        fx, cache = self.body.forward(x, train)
        return x + fx, cache

    def backward(self, dy, cache):
        return dy + self.body.backward(dy, cache)

    def parameters(self):
        return [(f"body.{n}", o, k) for n, o, k in self.body.parameters()]

    def named_buffers(self):
        return self.body.named_buffers()

    def to_dtype(self, dtype):
        self.body.to_dtype(dtype)
        return self

    def extra_repr(self):
        return f"{self.body[1].in_channels}"

