"""Layers that move numbers around without arithmetic, and Dropout.

All three are linear maps y = A x (A a reshape, or a fixed mask), so their second-order
pass (WGAN-GP; minigan/penalty.py) has no second-derivative term and no parameters:

    tangent:    y_dot = A x_dot        (the forward map, applied to the tangent)
    backward2:  x_bar = A^T y_bar      (backward, applied to y_bar; None, zero, stays None)
"""
import numpy as np

from .. import backend
from .base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def forward(self, x, train=True):
        return x.reshape(len(x), -1), x

    def backward(self, dy, x):
        """dx is dy reshaped to x's shape. It is written into an array laid out in memory
        like x (``empty_like`` keeps the order; conv outputs are batch-innermost, see
        minigan/im2col.py), so the layers below get gradients in their own layout."""
        dx = backend.get_array_module(dy).empty_like(x, dtype=dy.dtype)
        dx[...] = dy.reshape(x.shape)
        return dx

    def backward_input(self, dy, x):
        return self.backward(dy, x), None

    def tangent(self, x_dot, x):
        return x_dot.reshape(len(x_dot), -1), None

    def backward2(self, y_bar, delta, tcache, x):
        return None if y_bar is None else self.backward(y_bar, x)


class Reshape(Layer):
    """(N, ...) -> (N, *shape); e.g. Reshape((128, 7, 7)) after DCGAN's first Dense."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x, train=True):
        if int(np.prod(x.shape[1:])) != int(np.prod(self.shape)):
            raise ValueError(f"{self!r} cannot reshape input of shape {tuple(x.shape)}")
        return x.reshape((len(x),) + self.shape), x.shape

    def backward(self, dy, shape):
        return dy.reshape(shape)

    def backward_input(self, dy, shape):
        return dy.reshape(shape), None

    def tangent(self, x_dot, shape):
        return x_dot.reshape((len(x_dot),) + self.shape), None

    def backward2(self, y_bar, delta, tcache, shape):
        return None if y_bar is None else y_bar.reshape(shape)

    def extra_repr(self):
        return f"{self.shape}"


class Dropout(Layer):
    """Inverted dropout: in training y = x * m / (1 - p), m ~ Bernoulli(1 - p); identity in eval,
    so the expected activation is the same in both modes."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x, train=True):
        if not train or self.p == 0:
            return x, None
        keep = backend.rand(*x.shape, dtype=x.dtype) >= self.p
        mask = keep.astype(x.dtype) / (1 - self.p)
        return x * mask, mask

    def backward(self, dy, mask):
        """y = x * mask, so dx = dy * mask (the same mask the forward drew)."""
        return dy if mask is None else dy * mask

    def backward_input(self, dy, mask):
        return self.backward(dy, mask), None

    def tangent(self, x_dot, mask):
        """y_dot = x_dot * mask: the forward's mask, not a new draw."""
        return self.backward(x_dot, mask), None

    def backward2(self, y_bar, delta, tcache, mask):
        return None if y_bar is None else self.backward(y_bar, mask)

    def extra_repr(self):
        return f"p={self.p}"
