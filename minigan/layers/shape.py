"""Layers that move numbers around without arithmetic, and Dropout.

All three are linear maps y = A x (A a reshape, or a fixed mask), so their second-order
pass (WGAN-GP; minigan/penalty.py) has no second-derivative term and no parameters:

    backward_input:  dx = A^T dy       (backward itself; records no delta)
    tangent:         y_dot = A x_dot    (the forward map, applied to the tangent; no tangent cache)
    backward2:       x_bar = A^T y_bar  (backward, applied to y_bar; None, zero, stays None)

each array shaped as the forward's input (dx, x_dot, x_bar) or output (dy, y_dot, y_bar).
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

    def backward_input(self, dy, cache):
        """dx = dy reshaped to x's shape, backward itself (the cache is x)."""
        return self.backward(dy, cache), None

    def tangent(self, x_dot, cache):
        """y_dot = x_dot flattened: (N, d1, d2, ...) -> (N, d1*d2*...)."""
        return x_dot.reshape(len(x_dot), -1), None

    def backward2(self, y_bar, delta, tcache, cache):
        """x_bar = y_bar reshaped to x's shape (None stays None)."""
        return None if y_bar is None else self.backward(y_bar, cache)


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

    def backward_input(self, dy, cache):
        """dx = dy reshaped to the input's shape (the cache), backward itself."""
        return dy.reshape(cache), None

    def tangent(self, x_dot, cache):
        """y_dot = x_dot reshaped: (N, ...) -> (N, *shape)."""
        return x_dot.reshape((len(x_dot),) + self.shape), None

    def backward2(self, y_bar, delta, tcache, cache):
        """x_bar = y_bar reshaped to the input's shape (None stays None)."""
        return None if y_bar is None else y_bar.reshape(cache)

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

    def backward_input(self, dy, cache):
        """dx = dy * mask, backward itself (the cache is the mask, or None in eval)."""
        return self.backward(dy, cache), None

    def tangent(self, x_dot, cache):
        """y_dot = x_dot * mask: the forward's mask, not a new draw."""
        return self.backward(x_dot, cache), None

    def backward2(self, y_bar, delta, tcache, cache):
        """x_bar = y_bar * mask (None stays None)."""
        return None if y_bar is None else self.backward(y_bar, cache)

    def extra_repr(self):
        return f"p={self.p}"
