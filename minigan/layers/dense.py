"""Fully connected layers: Dense, Maxout, and Embedding (a Dense layer on one-hot input)."""
import numpy as np

from .. import backend, init
from .base import Layer, check_input


class Dense(Layer):
    """y = x W + b.   x (N, in), W (in, out), b (out,), y (N, out)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / np.sqrt(in_features)
        self.add_param("W", init.uniform((in_features, out_features), bound))
        if bias:
            self.add_param("b", init.uniform((out_features,), bound))

    def forward(self, x, train=True):
        check_input(self, x, 2, 1, self.in_features)
        y = x @ self.params["W"]                         # (N, out)
        if "b" in self.params:
            y += self.params["b"]
        return y, x

    def backward(self, dy, x):
        """With y_nj = sum_i x_ni W_ij + b_j:
            dL/dW_ij = sum_n x_ni dy_nj     -> dW = x^T dy    (in, out)
            dL/db_j  = sum_n dy_nj          -> db = dy summed over the batch
            dL/dx_ni = sum_j dy_nj W_ij     -> dx = dy W^T    (N, in)
        """
        self._add_param_grads(dy, x)
        return dy @ self.params["W"].T

    def backward_params(self, dy, x):
        """dW and db of backward, without dx."""
        self._add_param_grads(dy, x)

    def _add_param_grads(self, dy, x):
        if not self.frozen:
            self.grads["W"] += x.T @ dy
            if "b" in self.params:
                self.grads["b"] += dy.sum(axis=0)

    # --- the second-order pass (WGAN-GP; see minigan/penalty.py) --------------------------

    def backward_input(self, dy, cache):
        """backward without parameter gradients:

            dx = dy W^T                   (N, in),   dy (N, out)

        Records delta = dy, the signal at the output, for backward2."""
        return dy @ self.params["W"].T, dy

    def tangent(self, x_dot, cache):
        """J x_dot for J = dy/dx (y = x W + b; the bias is a constant, with no tangent):

            y_dot = x_dot W               (N, out),   x_dot (N, in)

        The tangent cache is x_dot itself, which backward2 needs again."""
        return x_dot @ self.params["W"], x_dot

    def backward2(self, y_bar, delta, tcache, cache):
        """With J x_dot = x_dot W, the second-order term <delta, x_dot W> does not depend
        on x and is linear in W:  d/dW <delta, x_dot W> = x_dot^T delta. So

            dW += x^T y_bar + x_dot^T delta      (in, out)
            db += y_bar summed over the batch
            x_bar = y_bar W^T                    (N, in)

        All but x_dot^T delta is backward(y_bar). y_bar = None (zero): only x_dot^T delta,
        and x_bar = None. The tangent cache is x_dot (N, in), the cache x (N, in); delta,
        y_bar (N, out).
        """
        x_dot = tcache                                   # (N, in)
        self.grads["W"] += x_dot.T @ delta               # (in, out)
        return None if y_bar is None else self.backward(y_bar, cache)

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}"


class Maxout(Layer):
    """Goodfellow et al. 2013: each of `units` outputs is the max of `pieces` linear maps.

        z = x W + b,  W (in, units*pieces) with column u*pieces + p for unit u, piece p
        y_nu = max_p z_n,u,p                                  y (N, units)

    No second-order pass (a WGAN-GP critic refuses it): none is written for it.
    """

    def __init__(self, in_features, units, pieces):
        super().__init__()
        self.in_features, self.units, self.pieces = in_features, units, pieces
        bound = 1 / np.sqrt(in_features)
        self.add_param("W", init.uniform((in_features, units * pieces), bound))
        self.add_param("b", init.uniform((units * pieces,), bound))

    def forward(self, x, train=True):
        check_input(self, x, 2, 1, self.in_features)
        xp = backend.get_array_module(x)
        z = (x @ self.params["W"] + self.params["b"]).reshape(len(x), self.units, self.pieces)
        winner = z.argmax(axis=2)                                           # (N, units)
        mask = winner[..., None] == xp.arange(self.pieces)                  # (N, units, pieces)
        return z.max(axis=2), (x, mask)

    def backward(self, dy, cache):
        """The max passes its gradient to the winning piece only (ties: the first):
            dL/dz_nup = dy_nu [p = argmax_q z_nuq];  then as Dense with dz (N, units*pieces).
        """
        dz = self._piece_grad(dy, cache)                                    # (N, units*pieces)
        self._add_param_grads(dz, cache[0])
        return dz @ self.params["W"].T

    def backward_params(self, dy, cache):
        """dW and db of backward, without dx."""
        self._add_param_grads(self._piece_grad(dy, cache), cache[0])

    @staticmethod
    def _piece_grad(dy, cache):
        x, mask = cache
        return (mask * dy[..., None]).reshape(len(x), -1).astype(dy.dtype)

    def _add_param_grads(self, dz, x):
        if not self.frozen:
            self.grads["W"] += x.T @ dz
            self.grads["b"] += dz.sum(axis=0)

    def extra_repr(self):
        return f"{self.in_features}, units={self.units}, pieces={self.pieces}"


class Embedding(Layer):
    """A lookup table: y_n = W[idx_n].   idx (N,) integers, W (num, dim), y (N, dim)."""

    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.add_param("W", init.normal((num_embeddings, embedding_dim), 1.0))

    def forward(self, idx, train=True):
        check_input(self, idx, 1)
        if idx.dtype.kind not in "iu":
            raise ValueError(f"{self!r} expects integer indices, got dtype {idx.dtype}")
        return self.params["W"][idx], idx

    def backward(self, dy, idx):
        """W[idx_n] is one-hot(idx_n) @ W, so dW = onehot^T dy: row k collects the
        gradients of every sample that looked up k. The indices get no gradient (None)."""
        xp = backend.get_array_module(dy)
        onehot = (idx[:, None] == xp.arange(self.num_embeddings)).astype(dy.dtype)  # (N, num)
        if not self.frozen:
            self.grads["W"] += onehot.T @ dy
        return None

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
