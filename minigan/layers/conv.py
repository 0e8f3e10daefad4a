"""2-d convolution and transposed convolution (NCHW), each one GEMM per pass via im2col.

Shapes: x (N, C, H, W); Conv2d W (F, C, k, k) as in PyTorch; ConvTranspose2d W (C, F, k, k)
as in PyTorch (input channels first). A transposed convolution is exactly the backward
pass of a convolution with respect to its input, so the two share im2col and col2im with
their roles swapped.

Inside, the layers work on activations stored batch-innermost, as (C, H, W, N) arrays
(``to_chwn``), and return (N, C, H, W) *views* of such arrays (``from_chwn``): that way
every GEMM output is already the next activation and no transpose copy is needed (see
minigan/im2col.py for why this is the fast layout). Shapes seen from outside are NCHW.
"""
import numpy as np

from .. import backend, init
from ..im2col import col2im, conv_out_size, from_chwn, im2col, to_chwn
from .base import Layer, check_input


class Conv2d(Layer):
    """y[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, c, s*h + i, s*w + j]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.k, self.stride, self.padding = kernel_size, stride, padding
        bound = 1 / np.sqrt(in_channels * kernel_size ** 2)
        self.add_param("W", init.uniform((out_channels, in_channels, kernel_size, kernel_size), bound))
        if bias:
            self.add_param("b", init.uniform((out_channels,), bound))

    def out_hw(self, H, W):
        return (conv_out_size(H, self.k, self.stride, self.padding),
                conv_out_size(W, self.k, self.stride, self.padding))

    def forward(self, x, train=True):
        check_input(self, x, 4, 1, self.in_channels)
        N, F = len(x), self.out_channels
        Ho, Wo = self.out_hw(*x.shape[2:])
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{self!r}: input {tuple(x.shape)} is smaller than the kernel")
        cols = im2col(to_chwn(x), self.k, self.stride, self.padding, (Ho, Wo))  # (C*k*k, Ho*Wo*N)
        y = self.params["W"].reshape(F, -1) @ cols                          # (F, Ho*Wo*N)
        if "b" in self.params:
            y += self.params["b"].reshape(F, 1)
        y = from_chwn(y.reshape(F, Ho, Wo, N))                              # (N, F, Ho, Wo) view
        return y, (x.shape, cols)

    def backward(self, dy, cache):
        """In matrix form y = W_m cols (+ b), with W_m = W.reshape(F, C*k*k):
            dW_m  = dy_m cols^T           (F, C*k*k)     dy_m = dy as (F, Ho*Wo*N)
            db    = dy summed over n, h, w
            dcols = W_m^T dy_m            (C*k*k, Ho*Wo*N)
            dx    = col2im(dcols): every patch entry's gradient added back to its pixel.
        """
        x_shape, cols = cache
        F = self.out_channels
        dy_m = to_chwn(dy).reshape(F, -1)                                    # (F, Ho*Wo*N)
        W_m = self.params["W"].reshape(F, -1)
        # dy_m @ cols.T, computed as (cols @ dy_m.T).T: the same product, but OpenBLAS is
        # faster (and much more robust on a busy machine) with the many rows on the left
        self.grads["W"] += (cols @ dy_m.T).T.reshape(self.params["W"].shape)
        if "b" in self.params:
            self.grads["b"] += dy_m.sum(axis=1)
        dcols = W_m.T @ dy_m                                                 # (C*k*k, Ho*Wo*N)
        N, C, H, W = x_shape
        dx = col2im(dcols, (C, H, W, N), self.k, self.stride, self.padding, dy.shape[2:])
        return from_chwn(dx)                                                 # (N, C, H, W) view

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.k}, "
                f"stride={self.stride}, padding={self.padding}")


class ConvTranspose2d(Layer):
    """The transpose (adjoint) of Conv2d: every input pixel scatters a kernel-weighted
    k x k patch into the output, patches spaced `stride` apart, then `padding` is cropped:

        y[n, f, s*h + i - p, s*w + j - p] += W[c, f, i, j] * x[n, c, h, w]   (+ b[f])
        Ho = (H - 1) s - 2p + k + output_padding
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, bias=True):
        super().__init__()
        if not 0 <= output_padding < max(stride, 1):
            raise ValueError(f"output_padding must be smaller than stride, got {output_padding}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.k, self.stride, self.padding = kernel_size, stride, padding
        self.output_padding = output_padding
        bound = 1 / np.sqrt(out_channels * kernel_size ** 2)   # PyTorch's fan_in for ConvT
        self.add_param("W", init.uniform((in_channels, out_channels, kernel_size, kernel_size), bound))
        if bias:
            self.add_param("b", init.uniform((out_channels,), bound))

    def out_hw(self, H, W):
        s, p, k, op = self.stride, self.padding, self.k, self.output_padding
        return (H - 1) * s - 2 * p + k + op, (W - 1) * s - 2 * p + k + op

    def forward(self, x, train=True):
        check_input(self, x, 4, 1, self.in_channels)
        N, C, H, W = x.shape
        F = self.out_channels
        Ho, Wo = self.out_hw(H, W)
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{self!r}: input {tuple(x.shape)} gives an empty output")
        x_m = to_chwn(x).reshape(C, -1)                                      # (C, H*W*N)
        cols = self.params["W"].reshape(C, -1).T @ x_m                       # (F*k*k, H*W*N)
        y = col2im(cols, (F, Ho, Wo, N), self.k, self.stride, self.padding, (H, W))
        if "b" in self.params:
            y += self.params["b"].reshape(F, 1, 1, 1)
        return from_chwn(y), (x.shape, x_m)                                  # (N, F, Ho, Wo) view

    def backward(self, dy, cache):
        """Forward is y = col2im(W_m^T x_m) with W_m = W.reshape(C, F*k*k); the adjoint of
        col2im is im2col, so with dcols = im2col(dy)  (F*k*k, H*W*N):
            dW_m = x_m dcols^T            (C, F*k*k)
            db   = dy summed over n, h, w
            dx_m = W_m dcols              (C, H*W*N), then viewed as (N, C, H, W)
        """
        (N, C, H, W), x_m = cache
        dy_c = to_chwn(dy)                                                   # (F, Ho, Wo, N)
        dcols = im2col(dy_c, self.k, self.stride, self.padding, (H, W))     # (F*k*k, H*W*N)
        W_m = self.params["W"].reshape(C, -1)
        # x_m @ dcols.T, computed as (dcols @ x_m.T).T (faster in OpenBLAS, see Conv2d)
        self.grads["W"] += (dcols @ x_m.T).T.reshape(self.params["W"].shape)
        if "b" in self.params:
            self.grads["b"] += dy_c.sum(axis=(1, 2, 3))
        dx_m = W_m @ dcols                                                   # (C, H*W*N)
        return from_chwn(dx_m.reshape(C, H, W, N))                           # (N, C, H, W) view

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.k}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}")
