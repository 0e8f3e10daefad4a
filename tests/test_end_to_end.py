"""A whole GAN update step, checked end to end against finite differences.

A small DCGAN-shaped generator and discriminator in float64. The step is written the way
a lesson writes it: G makes a fake batch, D runs on the real batch AND on the fake batch
before any backward pass, D's gradients of its two BCE terms accumulate, then G's loss
goes back through D (D's input gradient) into G. Each network's parameter gradients are
compared with central differences of the scalar loss, re-running the whole forward pass.
A bug that cancels inside a single layer's check, or a layer that keeps state on self,
shows up here.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import (GRAD_ERRORS, GRAD_TOL, SEEDS, assert_zero_pattern, biases_before_batchnorm,
                      randn, randomize_params)
from minigan import backend
from minigan import layers as L
from minigan.gradcheck import compare, numerical_gradient
from minigan.losses import bce_with_logits

Z_DIM = 3


def make_nets(seed, dropout):
    backend.seed(seed)
    G = L.Sequential(L.Dense(Z_DIM, 2 * 3 * 3), L.BatchNorm1d(18), L.ReLU(), L.Reshape((2, 3, 3)),
                     L.ConvTranspose2d(2, 1, 4, stride=2, padding=1), L.Tanh())      # -> (1, 6, 6)
    D = L.Sequential(L.Conv2d(1, 2, 3, stride=2, padding=1), L.LeakyReLU(0.2),
                     *([L.Dropout(0.3)] if dropout else []), L.Flatten(), L.Dense(2 * 3 * 3, 1))
    G.to_dtype(np.float64)
    D.to_dtype(np.float64)
    randomize_params(G[1], seed)                      # BatchNorm gamma/beta away from 1/0
    # D's default init makes G's gradients ~1e-2 while the loss is ~0.7; the central
    # difference's rounding, ~1e-16 * loss / h, is judged against 1e-3 of the gradient
    # scale, so a larger D (logits ~ 1, far from BCE's saturation) sharpens the check.
    for layer in (D[0], D[-1]):
        layer.params["W"] *= 3
    return G, D


def g_loss_of(d_fake, g_loss):
    """The generator's loss on D's logits for the fake batch."""
    if g_loss == "non-saturating":                    # maximise log D(G(z))
        return bce_with_logits(d_fake, 1.0)
    loss, grad = bce_with_logits(d_fake, 0.0)         # minimax: minimise log(1 - D(G(z)))
    return -loss, -grad


def forward_all(G, D, z, real, seed):
    """One full forward pass: G on z, then D on the real and on the fake batch."""
    backend.seed(seed)                                # dropout masks in a fixed order
    fake, g_cache = G.forward(z)
    d_real, real_cache = D.forward(real)
    d_fake, fake_cache = D.forward(fake)
    return fake, g_cache, d_real, real_cache, d_fake, fake_cache


def d_loss_of(d_real, d_fake):
    l_real, g_real = bce_with_logits(d_real, 1.0)
    l_fake, g_fake = bce_with_logits(d_fake, 0.0)
    return l_real + l_fake, g_real, g_fake


def gan_step(G, D, z, real, seed, g_loss="non-saturating", swap_caches=False):
    """Analytic gradients of one GAN step: returns ({D param: grad}, {G param: grad})."""
    fake, g_cache, d_real, real_cache, d_fake, fake_cache = forward_all(G, D, z, real, seed)
    if swap_caches:                                   # the classic bug, for the negative test
        real_cache = fake_cache

    # discriminator: both batches' gradients accumulate into D.grads
    _, g_real, g_fake = d_loss_of(d_real, d_fake)
    D.zero_grad()
    D.backward(g_real, real_cache)
    D.backward(g_fake, fake_cache)
    d_grads = {n: o.grads[k].copy() for n, o, k in D.parameters()}

    # generator: its loss through D (D's grads from this pass are thrown away)
    _, g_grad = g_loss_of(d_fake, g_loss)
    D.zero_grad()
    G.zero_grad()
    d_fake_input = D.backward(g_grad, fake_cache)     # dL_G / d fake
    assert d_fake_input.shape == fake.shape
    G.backward(d_fake_input, g_cache)
    g_grads = {n: o.grads[k].copy() for n, o, k in G.parameters()}
    return d_grads, g_grads


def numeric_step(G, D, z, real, seed, g_loss="non-saturating"):
    def d_loss():
        _, _, d_real, _, d_fake, _ = forward_all(G, D, z, real, seed)
        return d_loss_of(d_real, d_fake)[0]

    def g_total():
        d_fake = forward_all(G, D, z, real, seed)[4]
        return g_loss_of(d_fake, g_loss)[0]

    d_num = {n: numerical_gradient(d_loss, o.params[k]) for n, o, k in D.parameters()}
    g_num = {n: numerical_gradient(g_total, o.params[k]) for n, o, k in G.parameters()}
    return d_num, g_num


def well_conditioned(G, D, z, real, margin=5e-4):
    """Whether finite differences with step 1e-5 are accurate here: no input of G's ReLU or
    D's LeakyReLU within `margin` of the kink (a step across it is not a derivative), and
    BatchNorm's input spread out (a tiny batch std makes 1/std's curvature explode)."""
    h0 = G[0].forward(z)[0]
    kinks = [G[1].forward(h0)[0]] + [D[0].forward(x)[0] for x in (real, G.forward(z)[0])]
    return bool((h0.std(axis=0) > 0.25).all() and min(np.abs(k).min() for k in kinks) > margin)


def _setup(seed, n, dropout):
    G, D = make_nets(seed, dropout)
    z = randn(seed, (n, Z_DIM), scale=1.5)
    real = np.tanh(randn(seed + 1, (n, 1, 6, 6), scale=2))
    return G, D, z, real


@given(seed=SEEDS, n=st.integers(6, 10), dropout=st.booleans(),
       g_loss=st.sampled_from(["non-saturating", "minimax"]))
def test_gan_step_gradients(seed, n, dropout, g_loss):
    G, D, z, real = _setup(seed % 10 ** 6, n, dropout)
    assume(well_conditioned(G, D, z, real))
    d_grads, g_grads = gan_step(G, D, z, real, seed, g_loss)
    d_num, g_num = numeric_step(G, D, z, real, seed, g_loss)

    assert set(d_grads) == {name for name, _, _ in D.parameters()} and len(d_grads) == 4
    assert set(g_grads) == {name for name, _, _ in G.parameters()} and len(g_grads) == 6
    for name, net, (ana, num) in (("D", D, (d_grads, d_num)), ("G", G, (g_grads, g_num))):
        errs = compare({k: (ana[k], num[k]) for k in ana})
        GRAD_ERRORS[f"GAN step: {name} params"] = max(GRAD_ERRORS[f"GAN step: {name} params"],
                                                      max(errs.values()))
        assert max(errs.values()) <= GRAD_TOL, (name, errs)
        # G's first bias feeds a BatchNorm: analytically zero (0.0 or ~1e-17 depending on
        # the BLAS), so it is checked to rounding; every other gradient clearly non-zero
        assert_zero_pattern(name, ana, biases_before_batchnorm(net))
    assert biases_before_batchnorm(G) == ["0.b"] and biases_before_batchnorm(D) == []


def test_gan_step_catches_swapped_caches():
    """The same check must fail when D's real-batch backward uses the fake batch's cache,
    the bug explicit caches exist to prevent."""
    G, D, z, real = _setup(3, 6, False)
    d_grads, _ = gan_step(G, D, z, real, 3, swap_caches=True)
    d_num, _ = numeric_step(G, D, z, real, 3)
    errs = compare({k: (d_grads[k], d_num[k]) for k in d_grads})
    assert max(errs.values()) > 1e-3


@pytest.mark.parametrize("dropout", [False, True])
def test_gan_step_is_deterministic(dropout):
    G, D, z, real = _setup(5, 4, dropout)
    first = gan_step(G, D, z, real, 7)
    second = gan_step(G, D, z, real, 7)
    for a, b in zip(first, second):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
