"""minigan's layers. Every one follows the convention in ``base.py``:

    y, cache = layer.forward(x, train=True)
    dx = layer.backward(dy, cache)     # adds parameter gradients into layer.grads
                                       # (none inside ``with frozen(layer):``)

and the layers a WGAN-GP critic may use also have a second-order pass (``base.py``).
"""
from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .base import Layer, Sequential, frozen
from .conv import Conv2d, ConvTranspose2d
from .dense import Dense, Embedding, Maxout
from .image import InstanceNorm2d, ReflectionPad2d, ResidualBlock
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .parts import Parts
# lesson 09's layers (gradient-checked in tests/test_semi_layers.py)
from .semi import GaussianNoise, Softplus, WeightNormDense, data_dependent_init  # noqa: F401
from .shape import Dropout, Flatten, Reshape

__all__ = ["Layer", "Sequential", "Dense", "Maxout", "Embedding", "Conv2d", "ConvTranspose2d",
           "BatchNorm1d", "BatchNorm2d", "LayerNorm", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Dropout", "Flatten", "Reshape", "Parts", "InstanceNorm2d", "ReflectionPad2d",
           "ResidualBlock", "frozen"]
