"""backward(..., input_grad=False): D's own step needs D's parameter gradients, not the
gradient with respect to its input. The parameter gradients must be exactly those of the
full backward, nothing is returned, and the work for dL/dx is really skipped."""
import numpy as np
import pytest

from conftest import randn, randomize_params
from minigan import backend, models
from minigan.conditioning import Conditional, Joint, one_hot
from minigan.layers import conv as conv_module

N = 4


def _discriminators():
    """(name, D, call): call(D) -> (D's output, cache), on a fixed batch of 28 x 28 digits."""
    x = randn(1, (N, 1, 28, 28))
    y = one_hot(np.arange(N) % 10, 10)
    nets = {
        "dcgan": models.dcgan_mnist()[1],
        "dcgan_fc": models.dcgan_mnist_fc(hidden=32)[1],
        "gan_paper (flatten, dropout first)": models.gan_paper_mnist()[1],
        "mlp": models.mlp_gan()[1],
        "keras_trunk": models.keras_trunk(),
        "patch": models.patch_discriminator(channels=8),
        "wgan_gp critic": models.wgan_gp_mnist(dim=8)[1],
        "cgan_dcgan (Conditional)": models.cgan_dcgan(d_ch=8, d_fc=16)[1],
        "cgan_mlp (Joint)": models.cgan_mlp()[1],
    }
    for name, D in nets.items():
        D.to_dtype(np.float64)
        randomize_params(D, 3)
        conditional = isinstance(D, (Conditional, Joint))
        yield name, D, (lambda D, c=conditional: D.forward(x, y) if c else D.forward(x))


def _grads(D):
    return {name: owner.grads[key].copy() for name, owner, key in D.parameters()}


@pytest.mark.parametrize("name, D, call", list(_discriminators()), ids=lambda v: v if isinstance(v, str) else "")
def test_parameter_gradients_are_the_full_backwards(name, D, call):
    backend.seed(0)                              # the same dropout masks in both forwards
    out, cache = call(D)
    dy = randn(2, out.shape)
    D.zero_grad()
    dx = D.backward(dy, cache)
    full = _grads(D)
    D.zero_grad()
    assert D.backward(dy, cache, input_grad=False) is None
    assert dx is not None and dx.shape == (N, 1, 28, 28)
    for key, g in _grads(D).items():
        np.testing.assert_array_equal(g, full[key], err_msg=f"{name}: {key}")
    assert any(np.abs(g).sum() > 0 for g in full.values())


def test_layers_below_the_first_learner_are_not_run(monkeypatch):
    """The GAN paper's D starts Flatten, Dropout, Maxout: with input_grad=False neither
    Flatten nor Dropout may run backward, and Maxout only adds its parameter gradients."""
    D = models.gan_paper_mnist()[1]
    out, cache = D.forward(randn(0, (N, 1, 28, 28)).astype(np.float32))
    flatten, dropout = D.layers[0], D.layers[1]

    def refuse(*args):
        raise AssertionError("backward ran below the first layer with parameters")
    monkeypatch.setattr(flatten, "backward", refuse)
    monkeypatch.setattr(dropout, "backward", refuse)
    monkeypatch.setattr(D.layers[2], "backward", refuse)       # Maxout: backward_params only
    D.backward(randn(1, out.shape).astype(np.float32), cache, input_grad=False)
    assert np.abs(D.layers[2].grads["W"]).sum() > 0


def test_conv_backward_params_skips_the_input_gradient(monkeypatch):
    """Conv2d.backward_params: no W^T dy product and no col2im, only dW and db."""
    D = models.dcgan_mnist()[1]
    out, cache = D.forward(randn(0, (N, 1, 28, 28)).astype(np.float32))
    first = D.layers[0]
    calls = []
    real_col2im = conv_module.col2im
    monkeypatch.setattr(conv_module, "col2im", lambda *a: calls.append(a[1]) or real_col2im(*a))
    D.backward(randn(1, out.shape).astype(np.float32), cache, input_grad=False)
    assert (1, 28, 28, N) not in calls          # D's input, (C, H, W, N): never built
    assert len(calls) == 1                       # the second conv's input gradient still is
    assert np.abs(first.grads["W"]).sum() > 0
