"""Networks that more than one lesson (and the benchmark) builds.

``dcgan_mnist()`` is the DCGAN of Radford et al. 2015 sized for 28 x 28 MNIST, as in the
PyTorch DCGAN example scaled down: the generator projects z to a 128 x 7 x 7 feature map
and doubles its size twice with stride-2 transposed convolutions (7 -> 14 -> 28); the
discriminator mirrors it with stride-2 convolutions (28 -> 14 -> 7) and one logit.
"""
from . import init
from .layers import (BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dense, Flatten,
                     LeakyReLU, ReLU, Reshape, Sequential, Tanh)


def dcgan_mnist(z_dim=100, g_channels=128, d_channels=64):
    """(G, D) for MNIST, DCGAN-initialised (weights N(0, 0.02), BN gamma N(1, 0.02), biases 0).

    G: z (N, z_dim) -> images (N, 1, 28, 28) in [-1, 1]
    D: images (N, 1, 28, 28) -> logits (N, 1)   (use bce_with_logits, no sigmoid layer)
    """
    c, d = g_channels, d_channels
    G = Sequential(
        Dense(z_dim, c * 7 * 7),
        BatchNorm1d(c * 7 * 7),
        ReLU(),
        Reshape((c, 7, 7)),
        ConvTranspose2d(c, c // 2, 4, stride=2, padding=1),       # 7 -> 14
        BatchNorm2d(c // 2),
        ReLU(),
        ConvTranspose2d(c // 2, 1, 4, stride=2, padding=1),       # 14 -> 28
        Tanh(),
    )
    D = Sequential(
        Conv2d(1, d, 4, stride=2, padding=1),                      # 28 -> 14
        LeakyReLU(0.2),
        Conv2d(d, 2 * d, 4, stride=2, padding=1),                  # 14 -> 7
        BatchNorm2d(2 * d),
        LeakyReLU(0.2),
        Flatten(),
        Dense(2 * d * 7 * 7, 1),
    )
    return init.dcgan_init(G), init.dcgan_init(D)
