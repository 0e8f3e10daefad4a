"""Conditioning a network on a class label by concatenation (Mirza & Osindero 2014).

A conditional GAN feeds the label y to both networks. The simplest way is to append it
to a layer's input as a one-hot vector:

    after a dense layer   h (N, F)        -> [h, y]                (N, F + K)
    after a conv layer    h (N, C, H, W)  -> [h, y as K maps]      (N, C + K, H, W)

where "K maps" are K constant feature maps, map k filled with y_k (all ones for the
asked-for class, zeros elsewhere): carpedm20/DCGAN-tensorflow's ``conv_cond_concat``.
Every unit of the next layer then sees the label wherever its receptive field lies.

The backward pass of a concatenation splits the incoming gradient along the same axis.
The label's part is dropped: labels are data, not parameters, so nothing learns from it.

    one_hot(labels, K)            integer labels (N,) -> (N, K)
    concat_label(h, onehot)       the concatenation above, for 2-d or 4-d h
    drop_label_grad(dh, C)        its backward: the gradient of the h part, dh[:, :C]

Two containers build on them:

    Conditional(*layers)          a Sequential whose ConcatLabel() layers append the label:
                                  out, cache = net.forward(x, onehot)
    Joint(x, y, joint)            two towers joined: joint([x(x), y(onehot)])
                                  (the CGAN paper's MLPs)
"""
import numpy as np

from . import backend
from .im2col import from_chwn
from .layers.base import Layer, Sequential
from .layers.parts import Parts


def one_hot(labels, num_classes=10, dtype=np.float32):
    """(N,) integers in [0, K) -> (N, K) with a single 1 per row."""
    xp = backend.get_array_module(labels)
    return (labels[:, None] == xp.arange(num_classes)).astype(dtype)


def concat_label(h, onehot):
    """Append the one-hot label to h along axis 1: as K values after a vector, as K
    constant feature maps after a feature map (N, C, H, W)."""
    xp = backend.get_array_module(h)
    y = onehot.astype(h.dtype)
    if h.ndim == 2:
        return xp.concatenate([h, y], axis=1)
    if h.ndim == 4:
        # Built batch-innermost, (C + K, H, W, N), as the conv layers store activations
        # (minigan/im2col.py), and returned as its (N, C + K, H, W) view: the next conv
        # reads it without a transpose copy.
        n, c, height, width = h.shape
        out = xp.empty((c + y.shape[1], height, width, n), dtype=h.dtype)
        out[:c] = h.transpose(1, 2, 3, 0)
        out[c:] = y.T[:, None, None, :]                      # map k = y_k everywhere
        return from_chwn(out)
    raise ValueError(f"concat_label expects a 2-d or 4-d input, got shape {tuple(h.shape)}")


def drop_label_grad(dh, channels):
    """The backward pass of concat_label: d[h, y] splits into (dh, dy) along axis 1.
    Return the first ``channels`` entries, dL/dh; the label's gradient is not needed."""
    # A view, no copy: a conv's input gradient is a batch-innermost (C + K, H, W, N) array,
    # whose first C channels are one contiguous block (a 2-d dh's slice is copied by the
    # GEMM that reads it).
    return dh[:, :channels]


class ConcatLabel(Layer):
    """[h, y]: the place in a Conditional network where the label is appended.
    forward takes the pair (h, onehot); backward returns dL/dh only."""

    def forward(self, inputs, train=True):
        h, onehot = inputs
        return concat_label(h, onehot), h.shape[1]

    def backward(self, dy, channels):
        return drop_label_grad(dy, channels)


class Conditional(Sequential):
    """A Sequential in which every ConcatLabel layer appends the label:

        out, cache = net.forward(x, onehot)
        dx = net.backward(dout, cache)        (plain chain rule, as Sequential)
    """

    def forward(self, x, onehot, train=True):
        caches = []
        for layer in self.layers:
            x, cache = layer.forward((x, onehot) if isinstance(layer, ConcatLabel) else x, train)
            caches.append(cache)
        return x, caches

    def __repr__(self):
        return "Conditional" + super().__repr__()[len("Sequential"):]


class Joint(Parts):
    """Two towers joined by concatenation, as in the CGAN paper's MLPs:

        a = x(x),  b = y(onehot),  out = joint([a, b])

    backward: d[a, b] = joint's input gradient, split at a's width; b's part goes back
    through the y tower (its parameters learn; the label itself gets no gradient), a's
    part through the x tower, whose input gradient is returned.
    """

    def __init__(self, x, y, joint):
        super().__init__(x=x, y=y, joint=joint)

    def forward(self, x, onehot, train=True):
        xp = backend.get_array_module(x)
        a, a_cache = self.x.forward(x, train)
        b, b_cache = self.y.forward(onehot.astype(x.dtype), train)
        out, h_cache = self.joint.forward(xp.concatenate([a, b], axis=1), train)
        return out, (a_cache, b_cache, h_cache, a.shape[1])

    def backward(self, dout, cache, input_grad=True):
        """input_grad=False: nothing needs dL/dx (see Sequential.backward); returns None."""
        a_cache, b_cache, h_cache, width = cache
        dh = self.joint.backward(dout, h_cache)
        self.y.backward_params(dh[:, width:], b_cache)    # the label itself gets no gradient
        if not input_grad:
            self.x.backward_params(dh[:, :width], a_cache)
            return None
        return self.x.backward(dh[:, :width], a_cache)

    def backward_params(self, dout, cache):
        self.backward(dout, cache, input_grad=False)
