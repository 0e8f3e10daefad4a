"""The layers of CycleGAN's generator (Zhu et al. 2017, whose design follows Johnson et al.
2016's style-transfer networks): instance normalisation, reflection padding, and the
residual block built from them.

    x (N, C, H, W) everywhere.
"""
from .. import backend
from .activations import ReLU
from .base import Layer, Sequential, check_input
from .conv import Conv2d
from .norm import normalize_grad


class InstanceNorm2d(Layer):
    """Ulyanov et al. 2016: BatchNorm's formula with the statistics of *one* image and one
    channel, over its H x W pixels, in training and evaluation alike (no running averages):

        mu_nc = mean_hw x_nchw,   var_nc = mean_hw (x_nchw - mu_nc)^2
        x_hat = (x - mu_nc) s_nc,  s_nc = 1 / sqrt(var_nc + eps)
        y = gamma_c x_hat + beta_c                  (affine only; otherwise y = x_hat)

    A style-transfer generator needs this: each image's contrast is normalised on its own,
    so one image's statistics never leak into another's output. CycleGAN's code uses it
    without gamma and beta (affine=False), the default here.

    It is the normalisation of minigan/layers/norm.py with the group one (image, channel)
    plane of M = H W values, so its input gradient is norm.py's ``normalize_grad`` over
    the axes (2, 3).
    """

    axes = (2, 3)                       #: the plane each mean and variance runs over

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
        x_hat = x - x.mean(axis=self.axes, keepdims=True)              # (N, C, H, W), centred
        var = (x_hat * x_hat).mean(axis=self.axes, keepdims=True)      # (N, C, 1, 1)
        inv_std = 1 / xp.sqrt(var + self.eps)                          # s_nc  (N, C, 1, 1)
        x_hat *= inv_std                                               # (x - mu) s
        if not self.affine:
            return x_hat, (x_hat, inv_std)
        gamma = self.params["gamma"].reshape(1, -1, 1, 1)              # (1, C, 1, 1)
        y = x_hat * gamma + self.params["beta"].reshape(1, -1, 1, 1)   # (N, C, H, W)
        return y, (x_hat, inv_std)

    def backward(self, dy, cache):
        """With sums over the images and pixels (affine only):
            dbeta_c = sum_nhw dy,   dgamma_c = sum_nhw dy x_hat,   dx_hat = gamma_c dy
        (dx_hat = dy without gamma), and per plane, through mu and s (which depend on
        every pixel of the same image and channel, and on no other image):
            dx = J_N^T dx_hat = s (dx_hat - mean_hw dx_hat - x_hat mean_hw(dx_hat x_hat))
        Shapes: dy, x_hat, dx (N, C, H, W); inv_std (N, C, 1, 1).
        """
        x_hat, inv_std = cache
        dx_hat = dy                                                    # (N, C, H, W)
        if self.affine:
            if not self.frozen:
                self.grads["beta"] += dy.sum(axis=(0, 2, 3))           # (C,)
                self.grads["gamma"] += (dy * x_hat).sum(axis=(0, 2, 3))
            dx_hat = dy * self.params["gamma"].reshape(1, -1, 1, 1)
        return normalize_grad(dx_hat, x_hat, inv_std, self.axes)      # (N, C, H, W)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class ReflectionPad2d(Layer):
    """Pads H and W by p pixels that mirror the image across its border, without repeating
    the border pixel (NumPy's mode="reflect"). Along one axis, an image of n rows becomes
    n + 2p rows:

        y[i]         = x[p - i]        i < p    the p rows above: x[1 : p+1], mirrored
        y[p + h]     = x[h]            h < n    the image
        y[n + p + j] = x[n - 2 - j]    j < p    the p rows below: x[n-1-p : n-1], mirrored

    rows first, then columns (the same on W). A generator's convolutions then see image-like
    content at the border instead of zeros, and draw no dark frame. Needs p < H and p < W.
    """

    def __init__(self, padding):
        super().__init__()
        self.p = padding

    def forward(self, x, train=True):
        check_input(self, x, 4)
        p = self.p
        N, C, H, W = x.shape
        if p >= H or p >= W:
            raise ValueError(f"{self!r}: padding {p} needs H and W > {p}, got shape {tuple(x.shape)}")
        if p == 0:
            return x, None
        xp = backend.get_array_module(x)
        x = xp.concatenate([x[:, :, 1:p + 1][:, :, ::-1],             # above: x[p], ..., x[1]
                            x,
                            x[:, :, H - 1 - p:H - 1][:, :, ::-1]],    # below: x[H-2], ..., x[H-1-p]
                           axis=2)                                    # (N, C, H+2p, W)
        x = xp.concatenate([x[..., 1:p + 1][..., ::-1],               # columns, the same
                            x,
                            x[..., W - 1 - p:W - 1][..., ::-1]],
                           axis=3)                                    # (N, C, H+2p, W+2p)
        return x, None

    def backward(self, dy, cache):
        """The adjoint of the copy: every pad pixel's gradient goes back to the image pixel
        it copied, added to that pixel's own. Along one axis (dy: n + 2p rows, dx: n):

            dx            = dy[p : p+n]                 the image's own rows
            dx[1 : p+1]     += dy[0 : p], mirrored       (y[i] = x[p - i])
            dx[n-1-p : n-1] += dy[n+p : n+2p], mirrored  (y[n + p + j] = x[n - 2 - j])

        Columns first (they were padded last), then rows. dy (N, C, H+2p, W+2p) -> dx
        (N, C, H, W).
        """
        if self.p == 0:
            return dy
        dx = self._unpad(dy, axis=3)                                   # (N, C, H+2p, W)
        return self._unpad(dx, axis=2)                                 # (N, C, H, W)

    def _unpad(self, dy, axis):
        """backward along one axis (2 or 3) of n + 2p rows: see backward."""
        p = self.p
        dy = dy.swapaxes(axis, -1)                       # the padded axis last: (..., n + 2p)
        n = dy.shape[-1] - 2 * p
        dx = dy[..., p:p + n].copy()                                   # (..., n)
        dx[..., 1:p + 1] += dy[..., 0:p][..., ::-1]
        dx[..., n - 1 - p:n - 1] += dy[..., n + p:n + 2 * p][..., ::-1]
        return dx.swapaxes(axis, -1)

    def extra_repr(self):
        return f"{self.p}"


class ResidualBlock(Layer):
    """He et al. 2016's residual connection in the form of CycleGAN's (Zhu et al. 2017,
    appendix 7.2, "Rk"; ResnetBlock in junyanz/pytorch-CycleGAN-and-pix2pix,
    models/networks.py, with its defaults: reflection padding, instance norm):

        y = x + F(x),   F = ReflectionPad 1, Conv c->c 3x3, InstanceNorm, ReLU,
                            ReflectionPad 1, Conv c->c 3x3, InstanceNorm

    (Johnson et al. 2016's blocks, which CycleGAN's generator otherwise follows, use
    BatchNorm and unpadded convolutions, cropping x to F's smaller output.)
    Shape-preserving: (N, c, H, W) -> (N, c, H, W); H, W >= 2 for the padding.
    """

    def __init__(self, channels):
        super().__init__()
        c = channels
        self.body = Sequential(ReflectionPad2d(1), Conv2d(c, c, 3), InstanceNorm2d(c), ReLU(),
                               ReflectionPad2d(1), Conv2d(c, c, 3), InstanceNorm2d(c))

    def forward(self, x, train=True):
        fx, cache = self.body.forward(x, train)          # F(x) (N, c, H, W); F's caches
        return x + fx, cache

    def backward(self, dy, cache):
        """The sum rule: dx = dy + F^T dy, the identity path handing the gradient straight
        down whatever F does to it; F's backward adds its convolutions' parameter
        gradients. dy, dx (N, c, H, W)."""
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
