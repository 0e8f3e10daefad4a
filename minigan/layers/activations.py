"""Elementwise nonlinearities. Each cache holds what its backward needs: the input for
the piecewise-linear ones, the output for sigmoid and tanh.

The second-order pass (WGAN-GP; minigan/penalty.py). For y = f(x) elementwise the
Jacobian is diagonal, J = diag f'(x), so

    backward_input:  dx = f'(x) dy                       (records delta = dy)
    tangent:         y_dot = f'(x) x_dot                 (the tangent cache is x_dot)
    backward2:       x_bar = f'(x) y_bar + f''(x) x_dot delta

all elementwise, every array shaped like x. The last term is d/dx <delta, f'(x) x_dot>
(y_bar = None stands for zero, see minigan/layers/base.py). It vanishes for the
piecewise-linear ReLU and LeakyReLU (f'' = 0 away from the kink, where the penalty is
evaluated with probability 1); for tanh and sigmoid it does not, and without it the
penalty's gradient is wrong (lesson 00 and tests/test_second_order.py show by how much).

numpy-ml (github.com/ddbourgin/numpy-ml) computes the same gradient in one forward sweep,
WGAN_GP._dGradInterp (numpy_ml/neural_nets/models/wgan_gp.py) calling each layer's
FullyConnected._bwd2 (numpy_ml/neural_nets/layers/layers.py). Its f'' enters only that
layer's own bias gradient, sum_n f''(z) (x_dot W) delta; the same term's dW = x^T (...)
and everything it sends to the layers below (there is no backward sweep) are missing. That
is exact for its ReLU critic, where f'' = 0, and wrong for a tanh or sigmoid one.
"""
from contextlib import contextmanager

from .. import backend
from .base import Layer


class _PiecewiseLinear(Layer):
    """ReLU and LeakyReLU: f' is the same mask backward applies, f'' = 0."""

    guided = False          #: True inside ``with guided(...)``: backward is guided (below)

    @staticmethod
    def guided_backward(dy, x):
        """Guided backpropagation's rule (Springenberg et al. 2014, fig. 1): pass back
        only positive gradients through positive inputs, dx = dy [x > 0] [dy > 0]. Where
        x > 0 and dy > 0 this is the true gradient; elsewhere it is 0, where ReLU's true
        gradient passes a negative dy and LeakyReLU's also passes slope * dy."""
        return dy * ((x > 0) & (dy > 0))

    def backward_input(self, dy, cache):
        """dx = f'(x) dy, backward itself (the cache is x). backward2 needs no delta
        (f'' = 0): records None."""
        return self.backward(dy, cache), None

    def tangent(self, x_dot, cache):
        """y_dot = f'(x) x_dot: backward's mask, applied to x_dot (like x). backward2 needs
        no tangent (f'' = 0): the tangent cache is None."""
        return self.backward(x_dot, cache), None

    def backward2(self, y_bar, delta, tcache, cache):
        """x_bar = f'(x) y_bar + f''(x) x_dot delta = f'(x) y_bar, since f'' = 0
        (None, zero, if y_bar is). y_bar, x_bar like x."""
        return None if y_bar is None else self.backward(y_bar, cache)


class ReLU(_PiecewiseLinear):
    """y = max(x, 0)."""

    def forward(self, x, train=True):
        return x * (x > 0), x

    def backward(self, dy, x):
        """dy/dx = 1 where x > 0, else 0 (we pick 0 at the kink)."""
        if self.guided:
            return self.guided_backward(dy, x)
        return dy * (x > 0)


class LeakyReLU(_PiecewiseLinear):
    """y = x if x > 0 else slope * x   (DCGAN's discriminator uses slope 0.2)."""

    def __init__(self, negative_slope=0.2):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x, train=True):
        xp = backend.get_array_module(x)
        s = self.negative_slope
        # For 0 <= s <= 1, max(x, s x) is x where x > 0 and s x elsewhere: one ufunc, no
        # mask (xp.where is several times slower in NumPy, and makes float64 from scalars).
        y = xp.maximum(x, s * x) if 0 <= s <= 1 else xp.where(x > 0, x, s * x)
        return y, x

    def backward(self, dy, x):
        """dy/dx = 1 where x > 0, else slope."""
        if self.guided:
            return self.guided_backward(dy, x)
        slope = self.negative_slope
        grad = (x > 0).astype(dy.dtype)        # 1 where x > 0, else 0
        grad *= 1 - slope                      # 1 - slope where x > 0
        grad += slope                          # 1 where x > 0, slope elsewhere
        grad *= dy
        return grad

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Layer):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2, which never overflows."""

    def forward(self, x, train=True):
        xp = backend.get_array_module(x)
        y = 0.5 * (1 + xp.tanh(0.5 * x))
        return y, y

    def backward(self, dy, y):
        """dy/dx = sigma(x) (1 - sigma(x)) = y (1 - y)."""
        return dy * y * (1 - y)

    def backward_input(self, dy, cache):
        """dx = y (1 - y) dy, backward itself (the cache is y). Records delta = dy."""
        return self.backward(dy, cache), dy

    def tangent(self, x_dot, cache):
        """y_dot = y (1 - y) x_dot (like x). The tangent cache is x_dot."""
        return self.backward(x_dot, cache), x_dot

    def backward2(self, y_bar, delta, tcache, cache):
        """f' = y (1 - y) and f'' = d/dx [y (1 - y)] = y' (1 - 2y) = y (1 - y)(1 - 2y), so
            x_bar = y (1 - y) (y_bar + (1 - 2y) x_dot delta)        (like x)
        (y_bar = None: zero, only the f'' term).
        """
        x_dot, y = tcache, cache
        s = (1 - 2 * y) * x_dot * delta                  # (1 - 2y) x_dot delta
        if y_bar is not None:
            s += y_bar
        return y * (1 - y) * s


class Tanh(Layer):
    """y = tanh(x)."""

    def forward(self, x, train=True):
        xp = backend.get_array_module(x)
        y = xp.tanh(x)
        return y, y

    def backward(self, dy, y):
        """d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2."""
        return dy * (1 - y * y)

    def backward_input(self, dy, cache):
        """dx = (1 - y^2) dy, backward itself (the cache is y). Records delta = dy."""
        return self.backward(dy, cache), dy

    def tangent(self, x_dot, cache):
        """y_dot = (1 - y^2) x_dot (like x). The tangent cache is x_dot."""
        return self.backward(x_dot, cache), x_dot

    def backward2(self, y_bar, delta, tcache, cache):
        """f' = 1 - y^2 and f'' = d/dx (1 - y^2) = -2 y y' = -2 y (1 - y^2), so
            x_bar = (1 - y^2) (y_bar - 2 y x_dot delta)             (like x)
        (y_bar = None: zero, only the f'' term).
        """
        x_dot, y = tcache, cache
        s = -2 * y * x_dot * delta                       # -2 y x_dot delta
        if y_bar is not None:
            s += y_bar
        return (1 - y * y) * s


def piecewise_linear_layers(model):
    """Every ReLU and LeakyReLU inside a model, found through the containers' attributes
    (Sequential's layers, Parts' parts, a residual block's body)."""
    found, seen, stack = [], set(), [model]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, _PiecewiseLinear):
            found.append(obj)
        elif isinstance(obj, Layer):
            for value in vars(obj).values():
                items = value.values() if isinstance(value, dict) else \
                    value if isinstance(value, (list, tuple)) else [value]
                stack.extend(v for v in items if isinstance(v, Layer))
    return found


@contextmanager
def guided(*models):
    """Within the block, backward through every ReLU and LeakyReLU of these models is
    guided backpropagation (``_PiecewiseLinear.guided_backward``): the saliency maps of
    lesson 08 (Radford et al. 2015, sec. 6.2). Other layers backpropagate as always; the
    result is no gradient of anything, so never train inside the block."""
    layers = [layer for model in models for layer in piecewise_linear_layers(model)]
    for layer in layers:
        layer.guided = True
    try:
        yield
    finally:
        for layer in layers:
            layer.guided = False
