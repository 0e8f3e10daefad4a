"""WGAN-GP's gradient penalty and its exact gradient, written out by hand.

Gulrajani et al. 2017 ("Improved Training of Wasserstein GANs") replace WGAN's weight
clipping by a penalty on the critic's input gradient at points x_hat_i = eps_i x_i +
(1 - eps_i) x_tilde_i between real and generated samples:

    P = lam * mean_i (||g_i||_2 - 1)^2,      g_i = dD(x_hat_i) / dx_hat_i      (B samples)

The critic's update needs dP/dtheta for every parameter theta: the derivative of a
derivative. Autodiff frameworks get it by "double backprop", differentiating through the
graph of the backward pass. Here it takes five steps, four of them passes over the critic's
layers (1, 2, 4 and 5: forward, backward, tangent, second-order backward), each an
explicit-cache method of every layer (minigan/layers/base.py); step 3 is arithmetic on g.
Write layer k as x_k = f_k(x_{k-1}; theta_k), with Jacobian J_k = df_k/dx_{k-1};
x_0 = x_hat, x_L = D(x_hat).

1. Forward on x_hat, keeping every layer's cache.

2. First-order backward from dy = 1 for every sample, i.e. the backward pass of
   sum_i D(x_hat_i). No layer mixes samples (that is why BatchNorm is refused), so at the
   input it gives exactly g_i = dD(x_hat_i)/dx_hat_i for every i. On the way it passes
   delta_k = the signal arriving at layer k's output, and delta_{k-1} = J_k^T delta_k, down
   to g = delta_0. ``backward_input`` runs this chain, records the deltas, and adds no
   parameter gradients (those would be d sum D / dtheta, which is not part of P).
   Now g depends on theta through every J_k: J_k depends on theta_k and on the layer's
   input x_{k-1}, which depends on theta_1 .. theta_{k-1} through the forward pass.

3. v = dP/dg:  v_i = 2 lam / B * (||g_i|| - 1) * g_i / ||g_i||.

4. Tangent pass (forward mode). Differentiate P backwards through the chain of step 2:
   delta_{k-1} = J_k^T delta_k is linear in delta_k, so dP/d delta_k = J_k (dP/d delta_{k-1}).
   Starting from dP/d delta_0 = v, that is x_dot_0 = v, x_dot_k = J_k x_dot_{k-1}: a
   Jacobian-vector product through the critic at x_hat, computed forward, layer by layer
   (``tangent``). Where layer k's J_k appears in P, it appears as
   <x_dot_{k-1}, J_k^T delta_k> = <delta_k, J_k x_dot_{k-1}>.

5. Second-order backward (``backward2``), last layer first, carrying
   y_bar_k = dP/dx_k. Layer k's parameters and input reach P in two ways: through its
   output x_k (as in any backward pass) and through J_k in the pairing of step 4. So

       dP/dtheta_k  = (df_k/dtheta_k)^T y_bar_k + d/dtheta_k <delta_k, J_k x_dot_{k-1}>
       y_bar_{k-1}  = J_k^T y_bar_k             + d/dx_{k-1} <delta_k, J_k x_dot_{k-1}>

   with delta_k and x_dot_{k-1} held fixed, starting from y_bar_L = 0 (P depends on the
   critic's slope, not on its value; passed as None, an exact zero that linear and
   piecewise-linear layers pass on without multiplying it). The first terms are the
   layer's ordinary backward applied to y_bar_k; the second are its second derivatives,
   contracted with delta_k and x_dot_{k-1}. Dense (J x_dot = x_dot W) adds x_dot^T delta
   to dW; a convolution the same through im2col; tanh adds f''(x) x_dot delta to
   y_bar_{k-1}; ReLU and LeakyReLU add nothing (f'' = 0); LayerNorm, whose J depends on x,
   both (see its docstring).

Check it on one Dense layer, D(x) = x w (w a column): g_i = w for every sample, and
P = lam (||w|| - 1)^2, so dP/dw = 2 lam (||w|| - 1) w / ||w||. The passes give delta_1 = 1,
v_i = 2 lam / B (||w|| - 1) w / ||w||, and with y_bar = 0, dW += x_dot^T delta = sum_i v_i:
the same. Every layer's formulas are proven against finite differences in
tests/test_second_order.py, and whole critics' dP/dtheta against finite differences of P.
"""
from . import backend


def gradient_penalty(critic, x_hat, lam=10.0, train=True):
    """The WGAN-GP penalty at the interpolates x_hat (B, ...) and its exact gradient.

    ``critic``: a layer or Sequential with one output per sample, every layer of which has
    a second-order pass (a TypeError names the first one that has not, e.g. BatchNorm2d).
    Returns (P as a Python float, norms: the B values ||g_i|| on the device) and ADDS
    dP/dtheta into the critic's grads, as backward adds.
    """
    critic.check_second_order()
    xp = backend.get_array_module(x_hat)
    B = len(x_hat)
    out, caches = critic.forward(x_hat, train)                        # 1. forward
    if out.size != B:
        raise ValueError(f"gradient_penalty needs one critic output per sample, got shape "
                         f"{tuple(out.shape)} for {B} samples")
    g, deltas = critic.backward_input(xp.ones_like(out), caches)      # 2. g (B, ...), deltas
    g_flat = g.reshape(B, -1)
    norms = xp.sqrt((g_flat * g_flat).sum(axis=1))                    # ||g_i||  (B,)
    # Gulrajani et al. 2017, eq. 3 (Algorithm 1, line 7), the batch mean of
    #     lam * (||grad_x_hat D(x_hat)||_2 - 1)^2
    P = lam * ((norms - 1) ** 2).mean()
    # 3. v_i = 2 lam / B (||g_i|| - 1) g_i / ||g_i||. Where g_i = 0, ||g|| has no derivative
    # and g_i / ||g_i|| is 0 / 0: divide by 1 there instead, which gives v_i = 0 (no NaN).
    safe = xp.where(norms > 0, norms, xp.ones_like(norms))
    scale = (2 * lam / B) * (norms - 1) / safe                        # (B,)
    v = g * scale.reshape((B,) + (1,) * (g.ndim - 1))                 # (B, ...) like x_hat
    _, tcaches = critic.tangent(v, caches)                            # 4. J v, layer by layer
    critic.backward2(None, deltas, tcaches, caches)                   # 5. adds dP/dtheta
    return float(P), norms
