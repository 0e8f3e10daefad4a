"""Layers that move numbers around without arithmetic, and Dropout."""
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

    def extra_repr(self):
        return f"p={self.p}"
