"""Elementwise nonlinearities. Each cache holds what its backward needs: the input for
the piecewise-linear ones, the output for sigmoid and tanh."""
from .. import backend
from .base import Layer


class ReLU(Layer):
    """y = max(x, 0)."""

    def forward(self, x, train=True):
        return x * (x > 0), x

    def backward(self, dy, x):
        """dy/dx = 1 where x > 0, else 0 (we pick 0 at the kink)."""
        return dy * (x > 0)


class LeakyReLU(Layer):
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


class Tanh(Layer):
    """y = tanh(x)."""

    def forward(self, x, train=True):
        xp = backend.get_array_module(x)
        y = xp.tanh(x)
        return y, y

    def backward(self, dy, y):
        """d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2."""
        return dy * (1 - y * y)
