"""Optimizers: SGD with momentum, Adam, RMSprop.

An optimizer is built on one model (or a list of models) and updates its parameters in
place from the gradients the backward passes accumulated:

    opt = Adam(D, lr=2e-4, betas=(0.5, 0.999))
    D.zero_grad(); ...backward passes...; opt.step()

``state_dict()`` returns host arrays (plus the step count) so a checkpoint can hold them.
"""
import math

import numpy as np

from . import backend


class Optimizer:
    slots = ()          # names of the per-parameter state arrays, e.g. ("m", "v") for Adam

    def __init__(self, models, lr):
        models = models if isinstance(models, (list, tuple)) else [models]
        self.lr = lr
        self.t = 0
        self.params = [(f"{i}:{name}", owner, key)
                       for i, model in enumerate(models) for name, owner, key in model.parameters()]
        for name, owner, key in self.params:
            if not (owner.params[key].flags.c_contiguous and owner.grads[key].flags.c_contiguous):
                raise ValueError(f"parameter {name} is not C-contiguous: step() updates flat views of it")
        xp = backend.xp()
        self.state = {slot: {name: xp.zeros_like(owner.params[key]) for name, owner, key in self.params}
                      for slot in self.slots}
        self._scratch = None

    def scratch(self, p):
        """A temporary array shaped like p, overwritten by the next call. One buffer (as
        large as the largest block, see ``step``) serves every update: a fresh temporary
        for a 6-million-entry weight costs more than its arithmetic (the memory is mapped
        and zeroed again on every step)."""
        if self._scratch is None or self._scratch.size < p.size or self._scratch.dtype != p.dtype:
            self._scratch = backend.get_array_module(p).empty(p.size, dtype=p.dtype)
        return self._scratch[:p.size].reshape(p.shape)

    def zero_grad(self):
        for _, owner, key in self.params:
            owner.grads[key][...] = 0

    #: Elements per block of a CPU update (see ``step``).
    block = 2 ** 17

    def step(self):
        """Update every parameter from its gradient: ``update(p, g, *state)`` on the
        parameter, its gradient and its state arrays (e.g. Adam's m and v), all flattened.

        On the CPU, the update runs a block of ``block`` entries at a time. Adam's update is
        a dozen passes over its arrays; on a whole 6.4-million-entry weight each pass
        streams 25 MB from memory, while the five blocks a pass touches (p, g, m, v and the
        scratch, 2.5 MB) stay in the processor's cache from one pass to the next (lesson
        02's 13.2 million parameters: 37 -> 26 ms a step for its two Adam updates).
        Elementwise arithmetic does not care how it is split: the numbers are the same to
        the last bit. On a GPU every pass is a kernel launch: there the whole array is one
        block.
        """
        self.t += 1
        for name, owner, key in self.params:
            arrays = [owner.params[key], owner.grads[key], *(self.state[s][name] for s in self.slots)]
            flat = [a.reshape(-1) for a in arrays]                  # views: all C-contiguous
            size = flat[0].size
            block = size if backend.get_array_module(flat[0]) is not np else self.block
            for start in range(0, size, block):
                self.update(*(a[start:start + block] for a in flat))

    def update(self, p, g, *state):
        """Update p in place from its gradient g and this optimizer's state arrays."""
        raise NotImplementedError

    def state_dict(self):
        return {"t": self.t, "lr": self.lr,
                **{f"{slot}/{name}": backend.to_host(a).copy()
                   for slot, arrays in self.state.items() for name, a in arrays.items()}}

    def load_state_dict(self, state):
        self.t, self.lr = int(state["t"]), float(state["lr"])
        for slot, arrays in self.state.items():
            for name, a in arrays.items():
                saved = state.get(f"{slot}/{name}")
                if saved is None or tuple(np.shape(saved)) != tuple(a.shape):
                    raise ValueError(f"optimizer state {slot}/{name} is missing or has another shape")
                a[...] = backend.asarray(saved, dtype=a.dtype)


def exponential_decay(lr0, step, factor, floor):
    """pylearn2's ExponentialDecay, as the GAN and CGAN papers use it: after `step` updates
    the rate is lr0 / factor^step, never below floor (GAN: 0.1, 1.000004, 1e-6)."""
    return max(lr0 / factor ** step, floor)


def linear_momentum(epoch, start, saturate, initial, final):
    """pylearn2's MomentumAdjustor: momentum `initial` until epoch `start`, then linear to
    `final` at epoch `saturate`, constant after (GAN: 0.5 -> 0.7 between epochs 1 and 250).
    Its counter starts at 1 in the first epoch, so epoch here counts from 1."""
    alpha = min(max((epoch - start) / (saturate - start), 0.0), 1.0)
    return initial + alpha * (final - initial)


class SGD(Optimizer):
    """v <- momentum v + g;  p <- p - lr v   (PyTorch's form; momentum 0 is plain SGD)."""
    slots = ("v",)

    def __init__(self, models, lr=0.01, momentum=0.0):
        super().__init__(models, lr)
        self.momentum = momentum

    def update(self, p, g, v):
        v *= self.momentum
        v += g
        tmp = self.scratch(p)
        backend.get_array_module(p).multiply(v, self.lr, out=tmp)
        p -= tmp


class Adam(Optimizer):
    """Kingma & Ba 2015, Algorithm 1:
        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
        p <- p - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
    """
    slots = ("m", "v")

    def __init__(self, models, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(models, lr)
        self.b1, self.b2 = betas
        self.eps = eps

    def update(self, p, g, m, v):
        xp = backend.get_array_module(p)
        tmp = self.scratch(p)
        # Every operation writes in place (out=): no array is allocated per step.
        m *= self.b1
        xp.multiply(g, 1 - self.b1, out=tmp)
        m += tmp                                               # m = b1 m + (1 - b1) g
        v *= self.b2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - self.b2
        v += tmp                                               # v = b2 v + (1 - b2) g^2
        xp.sqrt(v, out=tmp)
        tmp *= 1 / math.sqrt(1 - self.b2 ** self.t)            # sqrt(v_hat)
        tmp += self.eps
        xp.divide(m, tmp, out=tmp)
        tmp *= self.lr / (1 - self.b1 ** self.t)               # lr m_hat / (sqrt(v_hat) + eps)
        p -= tmp


class RMSprop(Optimizer):
    """Tieleman & Hinton 2012 (PyTorch's defaults): s <- a s + (1 - a) g^2;  p <- p - lr g / (sqrt(s) + eps)."""
    slots = ("s",)

    def __init__(self, models, lr=1e-2, alpha=0.99, eps=1e-8):
        super().__init__(models, lr)
        self.alpha, self.eps = alpha, eps

    def update(self, p, g, s):
        xp = backend.get_array_module(p)
        tmp = self.scratch(p)
        s *= self.alpha
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - self.alpha
        s += tmp                                               # s = a s + (1 - a) g^2
        xp.sqrt(s, out=tmp)
        tmp += self.eps
        xp.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp                                               # p -= lr g / (sqrt(s) + eps)
