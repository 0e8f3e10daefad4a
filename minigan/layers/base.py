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
"""
from .. import backend


class Layer:
    """Base class: ``params`` and ``grads`` share keys; ``buffers`` hold non-learned state."""

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

    def __call__(self, x, train=True):
        return self.forward(x, train)

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

    def backward(self, dy, caches):
        """Chain rule, last layer first: dL/dx_i = backward_i(dL/dx_{i+1})."""
        for layer, cache in zip(reversed(self.layers), reversed(caches)):
            dy = layer.backward(dy, cache)
        return dy

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
