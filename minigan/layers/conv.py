"""2-d convolution and transposed convolution (NCHW), each one GEMM per pass via im2col.

Shapes: x (N, C, H, W); Conv2d W (F, C, k, k) as in PyTorch; ConvTranspose2d W (C, F, k, k)
as in PyTorch (input channels first). A transposed convolution is exactly the backward
pass of a convolution with respect to its input, so the two share im2col and col2im with
their roles swapped.
"""
import numpy as np

from .. import backend, init
from ..im2col import col2im, conv_out_size, im2col
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
        cols = im2col(x, self.k, self.stride, self.padding, (Ho, Wo))       # (C*k*k, N*Ho*Wo)
        y = self.params["W"].reshape(F, -1) @ cols                          # (F, N*Ho*Wo)
        y = y.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)                   # (N, F, Ho, Wo)
        if "b" in self.params:
            y = y + self.params["b"].reshape(1, F, 1, 1)
        else:
            y = backend.get_array_module(y).ascontiguousarray(y)
        return y, (x.shape, cols)

    def backward(self, dy, cache):
        """In matrix form y = W_m cols (+ b), with W_m = W.reshape(F, C*k*k):
            dW_m  = dy_m cols^T           (F, C*k*k)     dy_m = dy as (F, N*Ho*Wo)
            db    = dy summed over n, h, w
            dcols = W_m^T dy_m            (C*k*k, N*Ho*Wo)
            dx    = col2im(dcols): every patch entry's gradient added back to its pixel.
        """
        x_shape, cols = cache
        F = self.out_channels
        dy_m = dy.transpose(1, 0, 2, 3).reshape(F, -1)                       # (F, N*Ho*Wo)
        W_m = self.params["W"].reshape(F, -1)
        self.grads["W"] += (dy_m @ cols.T).reshape(self.params["W"].shape)
        if "b" in self.params:
            self.grads["b"] += dy.sum(axis=(0, 2, 3))
        dcols = W_m.T @ dy_m                                                 # (C*k*k, N*Ho*Wo)
        return col2im(dcols, x_shape, self.k, self.stride, self.padding, dy.shape[2:])

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
        x_m = x.transpose(1, 0, 2, 3).reshape(C, -1)                         # (C, N*H*W)
        cols = self.params["W"].reshape(C, -1).T @ x_m                       # (F*k*k, N*H*W)
        y = col2im(cols, (N, F, Ho, Wo), self.k, self.stride, self.padding, (H, W))
        if "b" in self.params:
            y += self.params["b"].reshape(1, F, 1, 1)
        return y, (x.shape, x_m)

    def backward(self, dy, cache):
        """Forward is y = col2im(W_m^T x_m) with W_m = W.reshape(C, F*k*k); the adjoint of
        col2im is im2col, so with dcols = im2col(dy)  (F*k*k, N*H*W):
            dW_m = x_m dcols^T            (C, F*k*k)
            db   = dy summed over n, h, w
            dx_m = W_m dcols              (C, N*H*W), then back to (N, C, H, W)
        """
        (N, C, H, W), x_m = cache
        dcols = im2col(dy, self.k, self.stride, self.padding, (H, W))       # (F*k*k, N*H*W)
        W_m = self.params["W"].reshape(C, -1)
        self.grads["W"] += (x_m @ dcols.T).reshape(self.params["W"].shape)
        if "b" in self.params:
            self.grads["b"] += dy.sum(axis=(0, 2, 3))
        dx_m = W_m @ dcols                                                   # (C, N*H*W)
        xp = backend.get_array_module(dy)
        return xp.ascontiguousarray(dx_m.reshape(C, N, H, W).transpose(1, 0, 2, 3))

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.k}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}")
