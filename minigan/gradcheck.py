"""Numerical gradient checking: the proof that every hand-written backward pass is right.

For a scalar function f, the central difference

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

has error ~h^2 |f'''| / 6 from truncation plus ~eps_machine * |f| / h from rounding. The
two balance near h = eps^(1/3) ~ 1e-5, where in float64 both are around 1e-11 relative,
so an analytic gradient that agrees to 1e-6 is right and one that disagrees is wrong.
(A smaller h only grows the rounding term: at h = 1e-6 it is ~2e-10 of |f|, which puts
correct gradients of O(1)-valued outputs, e.g. a sigmoid's, near 1e-6. In float32 the
rounding term alone is ~1e-2: checks always run in float64.)

To check a layer we turn its output into a scalar with a fixed random projection,
L = sum((y - y0) * R), y0 the output at the unperturbed point (a constant), so dL/dy = R,
run backward(R), and compare every input and parameter gradient with the central
differences of L. Subtracting y0 changes no derivative, but it keeps the sum's own
rounding (proportional to |sum y * R|, however small the gradient measured) out of it.
"""
import numpy as np

from . import backend


def rel_error(analytic, numeric, floor=None):
    """Max over entries of |a_i - n_i| / max(|a_i| + |n_i|, floor).

    A pure elementwise ratio is meaningless for entries that are (nearly) zero: there the
    finite difference returns rounding noise, ~1e-10 * |f|, and the ratio is ~1 however
    right the code is (the bias of a Dense layer followed by BatchNorm has gradient exactly
    0). So entries are judged relative to at least ``floor``, by default 1e-3 of the
    largest |a_i| + |n_i|: a wrong entry shows unless it is off by less than ~1e-9 of the
    gradient's scale.
    """
    a = backend.to_host(analytic).astype(np.float64)
    n = backend.to_host(numeric).astype(np.float64)
    mag = np.abs(a) + np.abs(n)
    if floor is None:
        floor = 1e-3 * float(mag.max(initial=0.0))
    floor = max(floor, 1e-300)
    return float((np.abs(a - n) / np.maximum(mag, floor)).max(initial=0.0))


def numerical_gradient(f, x, h=1e-5):
    """Central differences of the scalar f() with respect to the array x, perturbed in place."""
    xp = backend.get_array_module(x)
    grad = xp.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)   # views: writing them writes x, grad
    for i in range(flat_x.size):
        old = float(flat_x[i])
        flat_x[i] = old + h
        f_plus = f()
        flat_x[i] = old - h
        f_minus = f()
        flat_x[i] = old
        flat_g[i] = (f_plus - f_minus) / (2 * h)
    return grad


def extrapolated_gradient(f, x, h=1e-5):
    """Richardson's extrapolation of two central differences: D(h) = g + c h^2 + O(h^4),
    so (4 D(h/2) - D(h)) / 3 = g + O(h^4). The second-order checks use it: their S has
    large third derivatives on some draws (LayerNorm near a flat input), where D(h)'s h^2
    error alone reaches the tolerance."""
    return (4 * numerical_gradient(f, x, h / 2) - numerical_gradient(f, x, h)) / 3


def check_layer(layer, x, train=True, h=1e-5, seed=0, onehot=None):
    """Gradient-check one layer (or a Sequential) at input x, in float64.

    Returns {"x": err, "<param>": err, ...} with the max relative error of each gradient
    (no "x" entry for integer inputs, e.g. Embedding indices). The layer is cast to float64.
    ``onehot``: for a network with a second, label input (minigan.conditioning's
    Conditional and Joint), the labels, held fixed: forward(x, onehot, train).
    """
    xp = backend.xp()
    layer.to_dtype(xp.float64)
    if x.dtype.kind == "f":
        x = x.astype(xp.float64)

    def forward():
        backend.seed(seed)           # the same dropout mask on every evaluation
        if onehot is None:
            return layer.forward(x, train)
        return layer.forward(x, onehot, train)

    y, cache = forward()
    R = xp.asarray(np.random.default_rng(seed + 1).standard_normal(y.shape))   # dL/dy
    y0 = y.copy()                                   # L = sum((y - y0) * R): see above

    def loss():
        return float(((forward()[0] - y0) * R).sum())

    layer.zero_grad()
    dx = layer.backward(R, cache)
    pairs = {}                                      # name -> (analytic, numeric)
    if x.dtype.kind == "f":
        pairs["x"] = (dx, numerical_gradient(loss, x, h))
    for name, owner, key in layer.parameters():
        pairs[name] = (owner.grads[key].copy(), numerical_gradient(loss, owner.params[key], h))
    return compare(pairs)


def compare(pairs):
    """{name: (analytic, numeric)} -> {name: rel_error}, with one floor for all of them:
    1e-3 of max|a| + max|n| of the gradient where that sum is largest, x's or a
    parameter's (see rel_error)."""
    scale = max(float(np.abs(backend.to_host(a)).max(initial=0.0)) +
                float(np.abs(backend.to_host(n)).max(initial=0.0)) for a, n in pairs.values())
    return {name: rel_error(a, n, floor=1e-3 * scale) for name, (a, n) in pairs.items()}


def check_function(f_and_grad, x, h=1e-5):
    """Check a function returning (scalar, gradient w.r.t. x), e.g. a loss, at x (float64)."""
    _, analytic = f_and_grad(x)
    return rel_error(analytic, numerical_gradient(lambda: f_and_grad(x)[0], x, h))


# ----------------------------------------------------------------------------- second order
#
# The WGAN-GP penalty's gradient (minigan/penalty.py) runs three new methods per layer:
# backward_input, tangent and backward2. ``check_second_order`` proves one layer's (or a
# Sequential's); ``check_penalty`` proves a whole critic's dP/dtheta against differences
# of P itself.


def check_second_order(layer, x, train=True, h=1e-5, seed=0):
    """Check one layer's tangent and backward2 at input x, in float64.

    tangent: y_dot = J x_dot against the directional difference
             (f(x + h x_dot) - f(x - h x_dot)) / 2h, for a random x_dot.
    backward2: with random y_bar, delta and x_dot fixed, it must return the gradient of

        S(x, theta) = <y_bar, f(x)> + <delta, J(x, theta) x_dot>

    with respect to x (its return value) and theta (added into grads): see
    minigan/layers/base.py. The second term is computed as <J^T delta, x_dot>, J^T delta
    by backward_input (itself checked against backward in the tests), so the reference
    needs nothing but first-order passes.

    Returns {"tangent": err, "x": err, "<param>": err, ...}.
    """
    xp = backend.xp()
    layer.to_dtype(xp.float64)
    x = x.astype(xp.float64)

    def forward(at):
        backend.seed(seed)           # the same dropout mask on every evaluation
        return layer.forward(at, train)

    y, cache = forward(x)
    y0 = y.copy()                    # y may be x itself (Dropout in eval), which moves below
    rng = np.random.default_rng(seed + 1)
    x_dot = xp.asarray(rng.standard_normal(x.shape))
    y_bar, delta = xp.asarray(rng.standard_normal(y.shape)), xp.asarray(rng.standard_normal(y.shape))

    y_dot, tcache = layer.tangent(x_dot, cache)
    numeric = (forward(x + h * x_dot)[0] - forward(x - h * x_dot)[0]) / (2 * h)
    errors = {"tangent": rel_error(y_dot, numeric)}

    def S():
        y, c = forward(x)
        dx, _ = layer.backward_input(delta, c)
        return float(((y - y0) * y_bar).sum() + (dx * x_dot).sum())

    layer.zero_grad()
    _, record = layer.backward_input(delta, cache)
    pairs = {"x": (layer.backward2(y_bar, record, tcache, cache), extrapolated_gradient(S, x, h))}
    for name, owner, key in layer.parameters():
        pairs[name] = (owner.grads[key].copy(), extrapolated_gradient(S, owner.params[key], h))
    errors.update(compare(pairs))
    return errors


def _kink_sides(layer, cache):
    """Which side of its kink every ReLU / LeakyReLU input of a forward pass lies on."""
    from .layers import LeakyReLU, ReLU, Sequential
    if isinstance(layer, Sequential):
        return [side for child, c in zip(layer.layers, cache) for side in _kink_sides(child, c)]
    return [cache > 0] if isinstance(layer, (ReLU, LeakyReLU)) else []


def check_penalty(critic, x_hat, lam=10.0, train=True, h=1e-5, seed=0):
    """Check gradient_penalty's dP/dtheta for a whole critic against central differences
    of P, in float64. Returns {"<param>": err}; the critic's grads are left holding the
    analytic dP/dtheta.

    The reference P is computed with first-order passes only (forward, backward_input,
    the norm), so the check is independent of tangent and backward2. A step that moved a
    ReLU / LeakyReLU input across its kink would make the difference meaningless, not
    the analytic gradient wrong: every evaluation checks that no input changed side, and
    raises ValueError if one did (choose data further from the kinks).
    """
    from .penalty import gradient_penalty
    xp = backend.xp()
    critic.to_dtype(xp.float64)
    x_hat = x_hat.astype(xp.float64)

    def penalty():
        backend.seed(seed)
        out, caches = critic.forward(x_hat, train)
        g, _ = critic.backward_input(xp.ones_like(out), caches)
        norms = xp.sqrt((g.reshape(len(g), -1) ** 2).sum(axis=1))
        return float(lam * ((norms - 1) ** 2).mean()), _kink_sides(critic, caches)

    _, sides = penalty()

    def P():
        value, now = penalty()
        if not all(bool((a == b).all()) for a, b in zip(now, sides)):
            raise ValueError("check_penalty: a finite-difference step moved a ReLU/LeakyReLU "
                             "input across its kink; choose data further from the kinks")
        return value

    critic.zero_grad()
    backend.seed(seed)
    gradient_penalty(critic, x_hat, lam, train)
    pairs = {name: (owner.grads[key].copy(), None) for name, owner, key in critic.parameters()}
    for name, owner, key in critic.parameters():
        pairs[name] = (pairs[name][0], numerical_gradient(P, owner.params[key], h))
    return compare(pairs)
