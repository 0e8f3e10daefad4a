"""Shared helpers for minigan's test suite.

* a hypothesis profile (no deadline: a numerical gradient is many forward passes);
* an autouse fixture that puts the backend back on the CPU and restores minigan's RNG
  after every test, so tests cannot leak device or random state into each other;
* seeded float64 test data, kept away from the kinks of piecewise-linear functions;
* strategies for valid Conv2d / ConvTranspose2d configurations;
* ``assert_gradcheck``, which asserts a gradient check and records the largest error
  seen per layer; the table is printed at the end of the run;
* ``assert_zero_pattern``, which checks that the gradients that are zero in exact
  arithmetic come out zero to rounding and all others clearly non-zero, without ever
  depending on what a BLAS or a CPU rounds to.
"""
import os
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from minigan import backend

settings.register_profile(
    "minigan", deadline=None, max_examples=25, derandomize=True,   # the same examples on every machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", parent=settings.get_profile("minigan"), max_examples=500,
                          derandomize=False)
# MINIGAN_HYPOTHESIS=thorough runs 20x more examples (a few minutes)
settings.load_profile(os.environ.get("MINIGAN_HYPOTHESIS", "minigan"))

GRAD_TOL = 1e-6                    # every analytic gradient must match to this
SEEDS = st.integers(0, 2 ** 32 - 1)


@pytest.fixture(autouse=True)
def _restore_backend():
    """Run every test on the CPU and undo its changes to the device and the RNG."""
    saved_device = backend._state["device"]
    saved_rng = backend.rng_state()
    backend.use("cpu")
    yield
    backend._state["device"] = saved_device
    backend.set_rng_state(saved_rng)


# ----------------------------------------------------------------------------- data


def randn(seed, shape, scale=1.0, shift=0.0):
    """float64 N(shift, scale^2) samples from their own seeded generator."""
    return shift + scale * np.random.default_rng(seed).standard_normal(shape)


def away_from_zero(x, margin=1e-3):
    """x with every |entry| >= margin, so +-h (1e-6) never crosses a ReLU's kink."""
    return np.where(np.abs(x) < margin, np.where(x < 0, -1, 1) * (margin + np.abs(x)), x)


def randomize_params(layer, seed):
    """Overwrite every parameter (gamma = 1, beta = 0, ... included) with random values,
    so a backward pass that forgets a factor cannot hide behind an identity init."""
    rng = np.random.default_rng(seed)
    for _, owner, key in layer.parameters():
        p = owner.params[key]
        p[...] = backend.asarray(rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1, 1], p.shape),
                                 dtype=p.dtype)
    return layer


# ----------------------------------------------------------------------------- conv configs


def conv_out(size, k, s, p):
    """PyTorch's Conv2d formula (dilation 1): floor((H + 2p - (k - 1) - 1) / s + 1)."""
    return int(np.floor((size + 2 * p - (k - 1) - 1) / s + 1))


def convT_out(size, k, s, p, op):
    """PyTorch's ConvTranspose2d formula (dilation 1): (H - 1) s - 2p + (k - 1) + op + 1."""
    return (size - 1) * s - 2 * p + (k - 1) + op + 1


@st.composite
def conv_configs(draw, max_n=2, max_c=3, max_k=4, max_s=3, max_p=2, max_extra=5):
    """A Conv2d configuration whose output is at least 1 x 1."""
    k = draw(st.integers(1, max_k))
    s = draw(st.integers(1, max_s))
    p = draw(st.integers(0, max_p))
    hmin = max(1, k - 2 * p)                 # (H + 2p - k) // s + 1 >= 1
    return dict(n=draw(st.integers(1, max_n)), c=draw(st.integers(1, max_c)),
                f=draw(st.integers(1, max_c)), k=k, s=s, p=p,
                h=draw(st.integers(hmin, hmin + max_extra)),
                w=draw(st.integers(hmin, hmin + max_extra)))


@st.composite
def convT_configs(draw, max_n=2, max_c=3, max_k=4, max_s=3, max_p=2, max_extra=3):
    """A ConvTranspose2d configuration (output_padding < stride) with output >= 1 x 1."""
    k = draw(st.integers(1, max_k))
    s = draw(st.integers(1, max_s))
    p = draw(st.integers(0, max_p))
    op = draw(st.integers(0, s - 1))
    need = 2 * p - k - op + 1                # (H - 1) s >= 2p - k - op + 1
    hmin = 1 + max(0, -(-need // s))
    return dict(n=draw(st.integers(1, max_n)), c=draw(st.integers(1, max_c)),
                f=draw(st.integers(1, max_c)), k=k, s=s, p=p, op=op,
                h=draw(st.integers(hmin, hmin + max_extra)),
                w=draw(st.integers(hmin, hmin + max_extra)))


# ----------------------------------------------------------------------------- gradient checks

GRAD_ERRORS = defaultdict(float)     # layer name -> largest relative error seen


def assert_gradcheck(name, errors, tol=GRAD_TOL, expect=None):
    """Assert every relative error in ``errors`` (a check_layer dict) is <= tol.
    ``expect``: the set of gradient names that must have been checked."""
    if expect is not None:
        assert set(errors) == set(expect), f"{name}: checked {sorted(errors)}, expected {sorted(expect)}"
    assert errors, f"{name}: nothing was checked"
    worst = max(errors.values())
    GRAD_ERRORS[name] = max(GRAD_ERRORS[name], worst)
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"{name}: gradient check failed (rel. error > {tol}): {bad}"


# ----------------------------------------------------------------------------- zero gradients
#
# Some gradients are zero in exact arithmetic: the bias of a layer that feeds a BatchNorm
# (BatchNorm subtracts the batch mean of each channel, and the bias only shifts that
# channel by a constant, so the loss does not depend on it), or the critic's last bias in
# WGAN's mean(D(fake)) - mean(D(real)). Computed, such a gradient is a sum of terms that
# cancel: it comes out 0.0 with one BLAS and ~1e-17 with another (measured: OpenBLAS's
# Haswell kernels give exactly 0.0 for one bias of lesson 04's conditional DCGAN, its
# Prescott and SkylakeX kernels 1.3e-16 and 4.2e-17 of the largest gradient). So a test
# must know which gradients vanish and judge "zero" and "non-zero" relative to the scale
# of the whole step's gradients, with margins far from rounding on both sides.

ZERO_REL = 1e-10       # analytically zero: every |entry| <= ZERO_REL * the largest |entry|
                       # (measured: <= 2.4e-16, rounding)
NONZERO_REL = 1e-8     # analytically non-zero: its largest |entry| >= NONZERO_REL * that.
                       # A one-entry bias gradient is a sum of data-dependent terms and can
                       # be small by chance (6e-5 in 2400 draws of test_gan_step_gradients;
                       # >= 1e-2 in the lessons' step checks), but not 1e-8.


def biases_before_norm(model, norms=None):
    """Names (as in model.parameters()) of the Dense / Conv2d / ConvTranspose2d biases
    directly followed by a normalisation layer (default: BatchNorm1d/2d in train mode):
    their gradient is analytically zero, the norm subtracts the mean they shift. Looks into
    Sequential (and Conditional), Parts (and Joint) and ResidualBlock containers."""
    from minigan import layers as L
    norms = norms or (L.BatchNorm1d, L.BatchNorm2d)
    if isinstance(model, L.Parts):
        return [f"{p}.{n}" for p, part in model.parts.items() for n in biases_before_norm(part, norms)]
    if isinstance(model, L.ResidualBlock):
        return [f"body.{n}" for n in biases_before_norm(model.body, norms)]
    if not isinstance(model, L.Sequential):
        return []
    names = []
    for i, layer in enumerate(model.layers):
        names += [f"{i}.{n}" for n in biases_before_norm(layer, norms)]
        after = model.layers[i + 1] if i + 1 < len(model.layers) else None
        if (isinstance(layer, (L.Dense, L.Conv2d, L.ConvTranspose2d)) and "b" in layer.params
                and isinstance(after, norms)):
            names.append(f"{i}.b")
    return names


def biases_before_batchnorm(model):
    return biases_before_norm(model)


def assert_zero_pattern(name, grads, zero=()):
    """``grads``: {param: gradient}. The ones named in ``zero`` are analytically zero and
    must be zero to rounding (<= ZERO_REL of the largest gradient entry of all); every
    other must be clearly non-zero (its largest entry >= NONZERO_REL of that), so that the
    gradient check really tested it. Never compares with an exact 0.0."""
    size = {k: float(np.abs(backend.to_host(g)).max(initial=0.0)) for k, g in grads.items()}
    scale = max(size.values())
    assert scale > 0, f"{name}: every gradient is zero"
    assert set(zero) <= set(grads), f"{name}: no such parameters {sorted(set(zero) - set(grads))}"
    not_zero = {k: size[k] / scale for k in zero if size[k] > ZERO_REL * scale}
    assert not not_zero, f"{name}: analytically zero gradients are not (relative size): {not_zero}"
    vanishing = {k: size[k] / scale for k in grads if k not in zero and size[k] < NONZERO_REL * scale}
    assert not vanishing, f"{name}: gradients (nearly) vanish (relative size): {vanishing}"


def pytest_terminal_summary(terminalreporter):
    if GRAD_ERRORS:
        terminalreporter.section("largest gradient-check error per layer")
        for name in sorted(GRAD_ERRORS):
            terminalreporter.write_line(f"{name:32s} {GRAD_ERRORS[name]:.2e}")
