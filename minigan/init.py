"""Weight initializers. Each draws from minigan's seeded generator onto the active device.

Layers start with PyTorch's defaults (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
biases) so a reader can compare numbers with PyTorch; lessons re-initialise with these.
"""
import numpy as np

from . import backend


def fans(shape, transposed=False):
    """(fan_in, fan_out) of a weight: Dense (in, out); Conv (out, in, k, k); ConvT (in, out, k, k)."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    a, b = shape[0] * receptive, shape[1] * receptive
    return (a, b) if transposed else (b, a)


def uniform(shape, bound, dtype=np.float32):
    return backend.rand(*shape, low=-bound, high=bound, dtype=dtype)


def normal(shape, std=0.02, dtype=np.float32):
    """N(0, std^2); std 0.02 is DCGAN's "all weights were initialized from N(0, 0.02)"."""
    return backend.randn(*shape, std=std, dtype=dtype)


def glorot_uniform(shape, transposed=False, dtype=np.float32):
    """Glorot & Bengio 2010: U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape, transposed)
    return uniform(shape, np.sqrt(6.0 / (fan_in + fan_out)), dtype)


def he_normal(shape, transposed=False, dtype=np.float32):
    """He et al. 2015 for ReLU nets: N(0, 2 / fan_in)."""
    fan_in, _ = fans(shape, transposed)
    return normal(shape, np.sqrt(2.0 / fan_in), dtype)


def sigmoid_bias_from_marginals(images, eps=1e-7):
    """The bias b of a sigmoid output layer such that sigmoid(b) is the data's mean image:
    b = log(m / (1 - m)), m the per-pixel mean clipped to [eps, 1 - eps] (pixels that are
    always 0 get a large negative bias instead of -inf). The GAN authors' mnist.yaml starts
    G's output layer so (pylearn2's init_sigmoid_bias_from_marginals, eps 1e-7): an untrained
    G already draws the average digit. images (N, ...) in [0, 1] -> (prod(...),) float32."""
    m = np.clip(np.asarray(images, np.float64).reshape(len(images), -1).mean(0), eps, 1 - eps)
    return np.log(m / (1 - m)).astype(np.float32)


def dcgan_init(model, std=0.02):
    """Re-initialise a model DCGAN-style: conv/dense weights ~ N(0, std), biases 0,
    BatchNorm gamma ~ N(1, std), beta 0 (as in the PyTorch DCGAN reference code)."""
    xp = backend.xp()
    for _, owner, key in model.parameters():
        p = owner.params[key]
        if key == "W":
            p[...] = normal(p.shape, std, p.dtype)
        elif key == "gamma":
            p[...] = 1 + normal(p.shape, std, p.dtype)
        elif key in ("b", "beta"):
            p[...] = xp.zeros_like(p)
    return model


def irange_init(model, irange):
    """Re-initialise a model as pylearn2's ``irange`` does (the GAN authors' yaml files):
    every weight uniform in [-irange, irange], every bias 0."""
    for _, owner, key in model.parameters():
        p = owner.params[key]
        p[...] = uniform(p.shape, irange, p.dtype) if key == "W" else 0
    return model
