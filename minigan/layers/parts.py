"""Parts: named sub-networks that a lesson wires together by hand.

Sequential covers a chain. A network with a branch (ACGAN's discriminator: one conv trunk,
two heads) or with a second input (ACGAN's generator: a label embedding that multiplies
the noise) is a few lines of forward and backward that the lesson writes out itself. Parts
only keeps those pieces in one place, so an optimizer, a checkpoint or a dtype cast treats
them as one model:

    D = Parts(trunk=Sequential(...), source=Dense(f, 1), classes=Dense(f, 10))
    feats, cache = D.trunk.forward(x)
    opt = Adam(D)                     # every parameter of every part
"""
from .base import Layer


class Parts(Layer):
    """Named sub-layers, reachable as attributes; parameters named "<part>.<param>"."""

    def __init__(self, **parts):
        super().__init__()
        self.parts = dict(parts)
        for name, layer in parts.items():
            setattr(self, name, layer)

    def forward(self, x, train=True):
        raise TypeError("Parts has no forward of its own: call its parts, e.g. D.trunk.forward(x)")

    def parameters(self):
        return [(f"{p}.{n}", o, k) for p, layer in self.parts.items() for n, o, k in layer.parameters()]

    def named_buffers(self):
        return [(f"{p}.{n}", o, k) for p, layer in self.parts.items() for n, o, k in layer.named_buffers()]

    def to_dtype(self, dtype):
        for layer in self.parts.values():
            layer.to_dtype(dtype)
        return self

    def __repr__(self):
        body = "\n".join(f"  ({p}) " + repr(layer).replace("\n", "\n  ") for p, layer in self.parts.items())
        return f"{type(self).__name__}(\n{body}\n)"
