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


def transposed_forward(W, x_m, y_shape, k, stride, padding, in_hw):
    """A transposed convolution without bias, W (C, F, k, k), x_m (C, H*W*N) -> y (F, Ho, Wo, N):
    cols = W_m^T x_m (F*k*k, H*W*N), one GEMM; col2im adds each kernel offset's block into
    place (ConvTranspose2d.forward, and Conv2d's stride-1 path with the flipped kernel)."""
    cols = W.reshape(W.shape[0], -1).T @ x_m                                 # (F*k*k, H*W*N)
    return col2im(cols, y_shape, k, stride, padding, in_hw)


def transposed_backward(W, dy_c, x_m, k, stride, padding, in_hw, weight_grad=True):
    """Its backward without the bias: dcols = im2col(dy) (F*k*k, H*W*N), the adjoint of
    col2im; dW_m = x_m dcols^T (C, F*k*k), computed as (dcols x_m^T)^T (faster in OpenBLAS,
    see Conv2d.backward), or None; dx_m = W_m dcols (C, H*W*N). Returns (dW, dx_m)."""
    dcols = im2col(dy_c, k, stride, padding, in_hw)                         # (F*k*k, H*W*N)
    dW = (dcols @ x_m.T).T.reshape(W.shape) if weight_grad else None
    return dW, W.reshape(W.shape[0], -1) @ dcols


class Conv2d(Layer):
    """y[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, c, s*h + i, s*w + j].

    Computed one of two ways, the same numbers to rounding:
      * im2col (the usual): copy every k x k patch of the input into a column, one GEMM.
      * stride 1 with fewer output than input channels (a generator's last layer, 64 -> 1):
        as the transposed convolution with the kernel flipped and padding k - 1 - p,
            conv(x; W, p) = conv_transpose(x; V, k - 1 - p),   V[c, f, i, j] = W[f, c, k-1-i, k-1-j]
        (substitute i -> k - 1 - i in the sum above). Its GEMM, V_m^T x_m, reads the input
        once; im2col would copy all C channels k*k times (49 x 32 values per output pixel
        for lesson 07's last 7 x 7 layer) to produce a single channel.
    """

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
        if self._as_transposed():
            x_m = to_chwn(x).reshape(self.in_channels, -1)                  # (C, H*W*N)
            y = transposed_forward(self._flipped(), x_m, (F, Ho, Wo, N), self.k, 1,
                                   self.k - 1 - self.padding, x.shape[2:])  # (F, Ho, Wo, N)
            if "b" in self.params:
                y += self.params["b"].reshape(F, 1, 1, 1)
            return from_chwn(y), (x.shape, None, x_m)
        cols = im2col(to_chwn(x), self.k, self.stride, self.padding, (Ho, Wo))  # (C*k*k, Ho*Wo*N)
        y = self.params["W"].reshape(F, -1) @ cols                          # (F, Ho*Wo*N)
        if "b" in self.params:
            y += self.params["b"].reshape(F, 1)
        y = from_chwn(y.reshape(F, Ho, Wo, N))                              # (N, F, Ho, Wo) view
        return y, (x.shape, cols, None)

    def _as_transposed(self):
        """Stride 1, fewer outputs than inputs, and a padding a transposed conv can crop."""
        return self.stride == 1 and self.out_channels < self.in_channels and self.padding < self.k

    def _flipped(self):
        """V[c, f, i, j] = W[f, c, k-1-i, k-1-j]: the kernel of the same convolution written
        as a transposed one (C, F, k, k)."""
        return self.params["W"].transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]

    def backward(self, dy, cache):
        """In matrix form y = W_m cols (+ b), with W_m = W.reshape(F, C*k*k):
            dW_m  = dy_m cols^T           (F, C*k*k)     dy_m = dy as (F, Ho*Wo*N)
            db    = dy summed over n, h, w
            dcols = W_m^T dy_m            (C*k*k, Ho*Wo*N)
            dx    = col2im(dcols): every patch entry's gradient added back to its pixel.
        """
        x_shape, cols, x_m = cache
        F = self.out_channels
        if cols is None:                                 # computed as a transposed conv:
            N, C, H, W = x_shape                         # ConvTranspose2d's backward on V
            dy_c = to_chwn(dy)                                               # (F, Ho, Wo, N)
            dV, dx_m = transposed_backward(self._flipped(), dy_c, x_m, self.k, 1,
                                           self.k - 1 - self.padding, (H, W), not self.frozen)
            if not self.frozen:
                self.grads["W"] += dV.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]   # V -> W: unflip
                if "b" in self.params:
                    self.grads["b"] += dy_c.sum(axis=(1, 2, 3))
            return from_chwn(dx_m.reshape(C, H, W, N))
        dy_m = to_chwn(dy).reshape(F, -1)                                    # (F, Ho*Wo*N)
        self._add_param_grads(dy_m, cols)
        return self._input_grad(dy_m, x_shape, dy.shape[2:])

    def backward_params(self, dy, cache):
        """dW and db of backward, without dx (and so without col2im)."""
        cols = cache[1]
        if cols is None:                                 # the transposed-conv path
            return super().backward_params(dy, cache)
        self._add_param_grads(to_chwn(dy).reshape(self.out_channels, -1), cols)

    def _add_param_grads(self, dy_m, cols):
        if not self.frozen:
            # dy_m @ cols.T, computed as (cols @ dy_m.T).T: the same product, but OpenBLAS is
            # faster (and much more robust on a busy machine) with the many rows on the left
            self.grads["W"] += (cols @ dy_m.T).T.reshape(self.params["W"].shape)
            if "b" in self.params:
                self.grads["b"] += dy_m.sum(axis=1)

    def _input_grad(self, dy_m, x_shape, out_hw):
        """dx = col2im(W_m^T dy_m), as (N, C, H, W) view."""
        dcols = self.params["W"].reshape(self.out_channels, -1).T @ dy_m     # (C*k*k, Ho*Wo*N)
        N, C, H, W = x_shape
        dx = col2im(dcols, (C, H, W, N), self.k, self.stride, self.padding, out_hw)
        return from_chwn(dx)                                                 # (N, C, H, W) view

    # --- the second-order pass (WGAN-GP; see minigan/penalty.py) --------------------------

    def backward_input(self, dy, cache):
        """backward without parameter gradients:

            dx = col2im(W_m^T dy_m)       (N, C, H, W),   dy_m = dy as (F, Ho*Wo*N)

        Records delta = dy (N, F, Ho, Wo), the signal at the output, for backward2."""
        x_shape = cache[0]
        dy_m = to_chwn(dy).reshape(self.out_channels, -1)                    # (F, Ho*Wo*N)
        return self._input_grad(dy_m, x_shape, dy.shape[2:]), dy

    def tangent(self, x_dot, cache):
        """J x_dot is the same convolution of x_dot (N, C, H, W), without the bias:
            cols_dot = im2col(x_dot)      (C*k*k, Ho*Wo*N)
            y_dot_m  = W_m cols_dot       (F, Ho*Wo*N), returned as (N, F, Ho, Wo)
        The tangent cache is cols_dot, which backward2 needs again."""
        x_shape = cache[0]
        N, F = x_shape[0], self.out_channels
        Ho, Wo = self.out_hw(*x_shape[2:])
        cols_dot = im2col(to_chwn(x_dot), self.k, self.stride, self.padding, (Ho, Wo))
        y_dot = self.params["W"].reshape(F, -1) @ cols_dot                  # (F, Ho*Wo*N)
        return from_chwn(y_dot.reshape(F, Ho, Wo, N)), cols_dot

    def backward2(self, y_bar, delta, tcache, cache):
        """As Dense, through im2col: J x_dot = W_m cols_dot is linear in W and does not
        depend on x, so d/dW_m <delta_m, W_m cols_dot> = delta_m cols_dot^T and

            dW_m += y_bar_m cols^T + delta_m cols_dot^T        (F, C*k*k)
            db   += y_bar summed over n, h, w
            x_bar = col2im(W_m^T y_bar_m)                      (N, C, H, W)

        (y_bar_m, delta_m: y_bar, delta as (F, Ho*Wo*N)). All but delta_m cols_dot^T is
        backward(y_bar). y_bar = None (zero): only that term, and x_bar = None.
        The tangent cache is cols_dot; delta, y_bar (N, F, Ho, Wo).
        """
        cols_dot = tcache                                                    # (C*k*k, Ho*Wo*N)
        delta_m = to_chwn(delta).reshape(self.out_channels, -1)              # (F, Ho*Wo*N)
        # delta_m cols_dot^T, computed as (cols_dot delta_m^T)^T: see _add_param_grads
        self.grads["W"] += (cols_dot @ delta_m.T).T.reshape(self.params["W"].shape)
        return None if y_bar is None else self.backward(y_bar, cache)

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
        y = transposed_forward(self.params["W"], x_m, (F, Ho, Wo, N), self.k, self.stride,
                               self.padding, (H, W))                         # (F, Ho, Wo, N)
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
        dW, dx_m = transposed_backward(self.params["W"], dy_c, x_m, self.k, self.stride,
                                       self.padding, (H, W), not self.frozen)
        if not self.frozen:
            self.grads["W"] += dW
            if "b" in self.params:
                self.grads["b"] += dy_c.sum(axis=(1, 2, 3))
        return from_chwn(dx_m.reshape(C, H, W, N))                           # (N, C, H, W) view

    def _input_grad(self, dcols, x_shape):
        """dx_m = W_m dcols  (C, H*W*N), as (N, C, H, W) view."""
        N, C, H, W = x_shape
        dx_m = self.params["W"].reshape(C, -1) @ dcols                       # (C, H*W*N)
        return from_chwn(dx_m.reshape(C, H, W, N))                           # (N, C, H, W) view

    # --- the second-order pass (WGAN-GP; see minigan/penalty.py) --------------------------

    def backward_input(self, dy, cache):
        """backward without parameter gradients:

            dx_m = W_m im2col(dy)         (C, H*W*N), returned as (N, C, H, W)

        Records delta = dy (N, F, Ho, Wo), the signal at the output, for backward2."""
        x_shape, _ = cache
        dcols = im2col(to_chwn(dy), self.k, self.stride, self.padding, x_shape[2:])  # (F*k*k, H*W*N)
        return self._input_grad(dcols, x_shape), dy

    def tangent(self, x_dot, cache):
        """J x_dot is the same transposed convolution of x_dot (N, C, H, W), without the bias:
            y_dot = col2im(W_m^T x_dot_m)     (N, F, Ho, Wo),   x_dot_m = x_dot as (C, H*W*N)
        The tangent cache is x_dot_m, which backward2 needs again."""
        (N, C, H, W), _ = cache
        F = self.out_channels
        x_dot_m = to_chwn(x_dot).reshape(C, -1)                              # (C, H*W*N)
        y_dot = transposed_forward(self.params["W"], x_dot_m, (F,) + self.out_hw(H, W) + (N,),
                                   self.k, self.stride, self.padding, (H, W))
        return from_chwn(y_dot), x_dot_m                                     # (N, F, Ho, Wo) view

    def backward2(self, y_bar, delta, tcache, cache):
        """J x_dot = col2im(W_m^T x_dot_m) is linear in W and does not depend on x. Its
        W-gradient against delta is backward's dW with (x_dot, delta) in place of (x, dy):

            dW_m += x_m im2col(y_bar)^T + x_dot_m im2col(delta)^T     (C, F*k*k)
            db   += y_bar summed over n, h, w
            x_bar = W_m im2col(y_bar)                                 (N, C, H, W)

        All but the x_dot_m term is backward(y_bar). y_bar = None (zero): only that term,
        and x_bar = None. The tangent cache is x_dot_m; delta, y_bar (N, F, Ho, Wo).
        """
        (N, C, H, W), _ = cache
        x_dot_m = tcache                                                     # (C, H*W*N)
        dcols = im2col(to_chwn(delta), self.k, self.stride, self.padding, (H, W))  # (F*k*k, H*W*N)
        # x_dot_m im2col(delta)^T, computed as (dcols x_dot_m^T)^T: see Conv2d._add_param_grads
        self.grads["W"] += (dcols @ x_dot_m.T).T.reshape(self.params["W"].shape)
        return None if y_bar is None else self.backward(y_bar, cache)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.k}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}")
