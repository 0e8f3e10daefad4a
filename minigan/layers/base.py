"""The layer convention every minigan layer follows, and the Sequential container.

    y, cache = layer.forward(x, train=True)   # nothing about this call is kept on self
    dx = layer.backward(dy, cache)            # returns dL/dx, ADDS dL/dparams to layer.grads

Why explicit caches: a GAN runs its discriminator on a real batch and on a fake batch
before any backward pass (lesson 01: D.forward(x), then D.forward(fake)). A layer that kept
its last input on ``self`` would silently backpropagate the fake batch's activations
through the real batch's loss. Returning the cache makes that bug impossible to write.

Why gradients are *added*: D's loss is a sum of a real-batch term and a fake-batch term,
so both backward passes accumulate into the same ``grads`` before one optimizer step.
Call ``zero_grad()`` before the next step.

Why a model can be frozen: a generator's step needs D's *input* gradient, dL/dG(z), and
nothing else of D; D's parameter gradients would be computed only to be zeroed before D's
own step. Inside ``with frozen(D):`` every layer of D skips them (for a conv or dense layer,
one of its three matrix products), as CycleGAN's code does with
``set_requires_grad(netD, False)`` and PyTorch with ``requires_grad_(False)``.

Why a backward can stop early: in D's own step the opposite holds. D's input is data (a
real batch, or a fake one G is not learning from), so dL/dx is thrown away.
``D.backward(dy, cache, input_grad=False)`` stops at D's first layer with parameters and
asks it for its parameter gradients only (``backward_params``: for a conv layer, no
W^T dy product and no col2im), as PyTorch skips the gradient of an input that does not
require one.

The second-order pass (WGAN-GP's gradient penalty, minigan/penalty.py) adds three methods,
with explicit caches like the first two:

    dx, delta = layer.backward_input(dy, cache)           # backward, NO parameter gradients;
                                                           #   delta: what backward2 needs of it
    y_dot, tcache = layer.tangent(x_dot, cache)           # y_dot = J x_dot, J = dy/dx at the cache
    x_bar = layer.backward2(y_bar, delta, tcache, cache)  # ADDS parameter gradients

For a layer y = f(x; theta) with Jacobian J = df/dx, where delta is the first-order
backward signal at its output (so backward_input returns J^T delta), x_dot the tangent of
its input and y_bar the gradient of the penalty with respect to its output,

    x_bar       = J^T y_bar + d/dx     <delta, J(x, theta) x_dot>
    theta grads += (df/dtheta)^T y_bar + d/dtheta <delta, J(x, theta) x_dot>

(derivation: minigan/penalty.py). The first terms are the layer's ordinary backward
applied to y_bar; the second are what double backprop adds. A layer without these methods
(BatchNorm, Maxout, ...) refuses: the base class raises a TypeError naming it.

y_bar = None stands for an exact zero. The penalty starts from it (P depends on the
critic's slope, not on its value), and linear and piecewise-linear layers pass it on as
None: for them x_bar = J^T y_bar = 0. So in a critic of convolutions and LeakyReLUs (the
WGAN-GP authors') every y_bar is zero, and each layer skips its products with zero and
only adds the second-order term, e.g. x_dot^T delta into a Dense layer's dW.
"""
from contextlib import contextmanager

from .. import backend


@contextmanager
def frozen(*models):
    """Within the block, backward through these models returns input gradients only and
    adds nothing to their ``grads`` (each layer that has parameters checks ``self.frozen``)."""
    owners = [owner for model in models for _, owner, _ in model.parameters()]
    for owner in owners:
        owner.frozen = True
    try:
        yield
    finally:
        for owner in owners:
            owner.frozen = False


class Layer:
    """Base class: ``params`` and ``grads`` share keys; ``buffers`` hold non-learned state."""

    frozen = False          #: True inside ``with frozen(...)``: backward adds no grads

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}

    def add_param(self, name, value):
        self.params[name] = value
        self.grads[name] = backend.xp().zeros_like(value)

    def forward(self, x, train=True):
        raise NotImplementedError

    def backward(self, dy, cache):
        raise NotImplementedError

    def backward_params(self, dy, cache):
        """backward for a layer whose input gradient nobody needs (a discriminator's first
        layer in D's own step reads data): add the parameter gradients, return nothing.
        Here plain backward with dL/dx thrown away; Dense, Maxout and Conv2d skip the
        product that would compute it (see Sequential.backward's ``input_grad``)."""
        self.backward(dy, cache)

    def __call__(self, x, train=True):
        return self.forward(x, train)

    # --- the second-order pass; see the module docstring and minigan/penalty.py ------------

    #: appended to the refusal of a layer without a second-order pass (e.g. "use LayerNorm")
    second_order_hint = ""

    def _no_second_order(self):
        hint = f" ({self.second_order_hint})" if self.second_order_hint else ""
        return TypeError(f"{type(self).__name__} has no exact second-order pass: "
                         f"a WGAN-GP critic cannot use it{hint}")

    def check_second_order(self):
        """Raise the TypeError above unless this layer (every layer in it, for a container)
        has an exact second-order pass: tangent and backward2 written for it."""
        if type(self).backward2 is Layer.backward2 or type(self).tangent is Layer.tangent:
            raise self._no_second_order()

    def backward_input(self, dy, cache):
        """dx = J^T dy (like x), as backward returns it, adding NO parameter gradients.
        Returns (dx, delta): delta, what backward2 will need of this pass (the signal dy
        at the output, or None for a layer whose second-order term does not use it)."""
        raise self._no_second_order()

    def tangent(self, x_dot, cache):
        """y_dot = J x_dot (like the output) at the forward's point, J = dy/dx. Returns
        (y_dot, tcache): tcache, what backward2 will need of x_dot (or None)."""
        raise self._no_second_order()

    def backward2(self, y_bar, delta, tcache, cache):
        """x_bar = J^T y_bar + d/dx <delta, J x_dot> (like x); ADDS to the parameter grads
        (df/dtheta)^T y_bar + d/dtheta <delta, J x_dot>. y_bar = None: zero (see the module
        docstring); returns None where x_bar is zero too."""
        raise self._no_second_order()

    # --- bookkeeping shared by every layer --------------------------------------------

    def parameters(self):
        """[(name, owner_layer, key)]: ``owner.params[key]`` and ``owner.grads[key]``."""
        return [(k, self, k) for k in self.params]

    def named_buffers(self):
        return [(k, self, k) for k in self.buffers]

    def zero_grad(self):
        for _, owner, key in self.parameters():
            owner.grads[key][...] = 0

    def to_dtype(self, dtype):
        """Cast parameters, gradients and buffers (float64 for gradient checks)."""
        for store in (self.params, self.grads, self.buffers):
            for k in store:
                store[k] = store[k].astype(dtype)
        return self

    def state_dict(self):
        """Host copies of every parameter and buffer, keyed by dotted name."""
        arrays = [(n, o.params, k) for n, o, k in self.parameters()]
        arrays += [(n, o.buffers, k) for n, o, k in self.named_buffers()]
        return {name: backend.to_host(store[key]).copy() for name, store, key in arrays}

    def load_state_dict(self, state):
        """Copy arrays in place; a missing key or a shape mismatch raises ValueError."""
        arrays = [(n, o.params, k) for n, o, k in self.parameters()]
        arrays += [(n, o.buffers, k) for n, o, k in self.named_buffers()]
        for name, store, key in arrays:
            if name not in state:
                raise ValueError(f"checkpoint has no entry {name!r} for {type(self).__name__}")
            if tuple(state[name].shape) != tuple(store[key].shape):
                raise ValueError(f"checkpoint entry {name!r} has shape {tuple(state[name].shape)}, "
                                 f"the model expects {tuple(store[key].shape)}")
            store[key][...] = backend.asarray(state[name], dtype=store[key].dtype)

    def num_params(self):
        return sum(int(o.params[k].size) for _, o, k in self.parameters())

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


def check_input(layer, x, ndim, axis=None, size=None):
    """Raise one clear ValueError if x has the wrong rank or feature size."""
    if x.ndim != ndim or (axis is not None and x.shape[axis] != size):
        want = f"{ndim}-d input" + (f" with size {size} on axis {axis}" if axis is not None else "")
        raise ValueError(f"{layer!r} expects a {want}, got shape {tuple(x.shape)}")


class Sequential(Layer):
    """Layers applied in order; the cache is the list of the children's caches."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x, train=True):
        caches = []
        for layer in self.layers:
            x, cache = layer.forward(x, train)
            caches.append(cache)
        return x, caches

    def backward(self, dy, caches, input_grad=True):
        """Chain rule, last layer first: dL/dx_i = backward_i(dL/dx_{i+1}).

        input_grad=False when nothing will use dL/dx, as in D's own step, where D's input is
        a real batch or a fake one G is not learning from: the backward stops at the first
        layer that has parameters, which only adds its parameter gradients
        (``backward_params``), and the layers below it are not run at all. (PyTorch does
        the same for an input that does not require a gradient.) Returns None then.
        """
        bottom = 0
        if not input_grad:
            bottom = next((i for i, layer in enumerate(self.layers) if layer.parameters()), None)
            if bottom is None:                      # nothing here learns: nothing to do
                return None
        for i in reversed(range(bottom, len(self.layers))):
            if i == bottom and not input_grad:
                self.layers[i].backward_params(dy, caches[i])
                return None
            dy = self.layers[i].backward(dy, caches[i])
        return dy

    def backward_params(self, dy, caches):
        self.backward(dy, caches, input_grad=False)

    # --- the second-order pass (minigan/penalty.py): the same chain, with per-layer records

    def check_second_order(self):
        for layer in self.layers:
            layer.check_second_order()

    def backward_input(self, dy, caches):
        """``backward`` without parameter gradients, recording each layer's backward signal:
        dx = J_1^T ... J_L^T dy, last layer first. Returns (dx, deltas), deltas[i] = what
        layer i's backward_input recorded (for a leaf layer, the signal dL/dy_i arriving at
        its output, or None). The lists (deltas, tcaches, caches) hold one entry per layer,
        first layer first."""
        deltas = []
        for layer, cache in zip(reversed(self.layers), reversed(caches)):
            dy, delta = layer.backward_input(dy, cache)
            deltas.append(delta)
        return dy, deltas[::-1]

    def tangent(self, x_dot, caches):
        """Forward mode, first layer first: y_dot_i = J_i y_dot_{i-1}, y_dot_0 = x_dot, so
        y_dot = J_L ... J_1 x_dot. Returns (y_dot, tcaches), tcaches[i] = layer i's tangent
        cache (its input tangent, or what its backward2 needs of it)."""
        tcaches = []
        for layer, cache in zip(self.layers, caches):
            x_dot, tcache = layer.tangent(x_dot, cache)
            tcaches.append(tcache)
        return x_dot, tcaches

    def backward2(self, y_bar, deltas, tcaches, caches):
        """The second-order backward, last layer first: each layer's backward2 turns the
        y_bar at its output into the one at its input (and adds its parameter gradients),
        with its own delta, tangent cache and cache. Returns x_bar at the first layer's
        input (None: zero, see the module docstring)."""
        for i in reversed(range(len(self.layers))):
            y_bar = self.layers[i].backward2(y_bar, deltas[i], tcaches[i], caches[i])
        return y_bar

    def parameters(self):
        return [(f"{i}.{n}", o, k) for i, l in enumerate(self.layers) for n, o, k in l.parameters()]

    def named_buffers(self):
        return [(f"{i}.{n}", o, k) for i, l in enumerate(self.layers) for n, o, k in l.named_buffers()]

    def to_dtype(self, dtype):
        for layer in self.layers:
            layer.to_dtype(dtype)
        return self

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        body = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{body}\n)"
