"""Shared helpers for minigan's test suite.

* a hypothesis profile (no deadline: a numerical gradient is many forward passes);
* an autouse fixture that puts the backend back on the CPU and restores minigan's RNG
  after every test, so tests cannot leak device or random state into each other;
* seeded float64 test data, kept away from the kinks of piecewise-linear functions;
* strategies for valid Conv2d / ConvTranspose2d configurations;
* ``assert_gradcheck``, which asserts a gradient check and records the largest error
  seen per layer; the table is printed at the end of the run.
"""
import os
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from minigan import backend

settings.register_profile(
    "minigan", deadline=None, max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", parent=settings.get_profile("minigan"), max_examples=500)
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


def pytest_terminal_summary(terminalreporter):
    if GRAD_ERRORS:
        terminalreporter.section("largest gradient-check error per layer")
        for name in sorted(GRAD_ERRORS):
            terminalreporter.write_line(f"{name:32s} {GRAD_ERRORS[name]:.2e}")
