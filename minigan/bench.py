"""Benchmark: how fast is each DCGAN layer, and one whole DCGAN training step?

    python -m minigan.bench [--device cpu|gpu] [--batch-size 128] [--repeats 10] [--scaling]

Prints one JSON line per item:

* ``sgemm``: this machine's own float32 GEMM speed, measured in the same run on the GEMM
  shapes DCGAN-MNIST actually multiplies (the best one is the yardstick ``peak_gflops``);
* one line per layer of G and D: forward + backward at the DCGAN-MNIST shapes;
* ``dcgan_step``: one full training step (see ``dcgan_step`` below) of the small network
  (lesson 02's ``--arch small``; the name stays, other tools read it);
* ``dcgan_large_step``: the same step for lesson 02's ``--arch deep`` (the name stays,
  other tools read it);
* ``dcgan_fc_step``: the same step for lesson 02's default network (``--arch fc``);
* ``cgan_step``: lesson 04's default step (``cgan_step`` below), batch 64 as the lesson;
* ``wgan_gp_critic_step``: one critic step of lesson 06 (real and fake batches, and the
  gradient penalty's four passes, minigan.penalty), with the same step without the
  penalty and the ratio of the two;
* with ``--scaling``: ``dcgan_step`` at batch 32, 64, 128 and 256.

``gflops`` counts only the matrix products, 2*M*N*K per GEMM, forward + backward (the
backward of a layer with weights is two GEMMs of the forward's size: one for the weight
gradient, one for the input gradient). ``share_of_sgemm`` = gflops / peak_gflops: the
fraction of the machine's GEMM speed the layer reaches, i.e. a lower bound on the share of
its time spent inside GEMM (an elementwise layer has no GEMM and shows null). Times are
medians over ``--repeats`` after warm-up runs.

Other views of the same step:

    python -m minigan.bench --breakdown      # ms per step in every layer's forward/backward
    python -m minigan.bench --breakdown dcgan_fc_step   # the same for lesson 02's network
    python -m minigan.bench --train-steps 50 # a short run: ms per step and peak memory
    python -m minigan.bench --only cgan_step # just one step line

``scripts/gemm_share.sh`` measures the share of the step spent inside BLAS with perf, and
``scripts/torch_compare.py`` times the identical network and step in PyTorch.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from . import backend
from .conditioning import one_hot
from .layers import Conv2d, ConvTranspose2d, Dense, Sequential, frozen
from .losses import bce_with_logits
from .losses import mean
from .models import cgan_dcgan, dcgan_mnist, dcgan_mnist_deep, dcgan_mnist_fc, wgan_gp_mnist
from .optim import Adam
from .penalty import gradient_penalty

Z_DIM = 100


# ----------------------------------------------------------------------------- the step


def dcgan_step(G, D, opt_G, opt_D, real, z):
    """One DCGAN update (Goodfellow et al.'s algorithm with the non-saturating G loss).

    D step: D sees a real batch (target 1) and a fake batch G(z) (target 0); both backward
    passes add into D's grads, then one Adam step.  G step: the fake batch goes through the
    *updated* D with target 1; the gradient flows back through D into G, then one Adam
    step on G (the D gradients this leaves behind are zeroed before D's next step).
    Returns (loss_D, loss_G).
    """
    fake, g_cache = G.forward(z)

    opt_D.zero_grad()
    logits, cache = D.forward(real)
    loss_real, dlogits = bce_with_logits(logits, 1.0)
    D.backward(dlogits, cache, input_grad=False)      # D's parameter gradients only
    logits, cache = D.forward(fake)
    loss_fake, dlogits = bce_with_logits(logits, 0.0)
    D.backward(dlogits, cache, input_grad=False)
    opt_D.step()

    opt_G.zero_grad()
    logits, cache = D.forward(fake)
    loss_G, dlogits = bce_with_logits(logits, 1.0)
    with frozen(D):                       # D's input gradient only
        dfake = D.backward(dlogits, cache)
    G.backward(dfake, g_cache)
    opt_G.step()
    return loss_real + loss_fake, loss_G


def cgan_step(G, D, opt_G, opt_D, real, y, y_wrong, z, g_steps=2):
    """One step of lesson 04 at its defaults (carpedm20's conditional DCGAN): D on a real
    batch with its labels (target 1), on G(z | y) (target 0) and on the real batch with
    wrong labels y_wrong (target 0; the two "fake" terms at half weight), one Adam step;
    then g_steps G steps on the same z and y, the first on the fake batch D just saw, the
    next on a fresh G forward. Returns (loss_D, loss_G)."""
    fake, g_cache = G.forward(z, y)
    opt_D.zero_grad()
    loss_D = 0.0
    for x, labels, target, weight in ((real, y, 1.0, 1.0), (fake, y, 0.0, 0.5), (real, y_wrong, 0.0, 0.5)):
        logits, cache = D.forward(x, labels)
        loss, dlogits = bce_with_logits(logits, target)
        D.backward(weight * dlogits, cache, input_grad=False)
        loss_D += weight * loss
    opt_D.step()
    for k in range(g_steps):
        if k > 0:
            fake, g_cache = G.forward(z, y)
        opt_G.zero_grad()
        logits, cache = D.forward(fake, y)
        loss_G, dlogits = bce_with_logits(logits, 1.0)
        with frozen(D):
            G.backward(D.backward(dlogits, cache), g_cache)
        opt_G.step()
    return loss_D, loss_G


def make_cgan(batch_size=64, seed=0):
    """Lesson 04's networks (minigan.models.cgan_dcgan) and Adam (2e-4, (0.5, 0.999)); the
    step closure draws fresh z ~ U[-1, 1] and trains on a fixed stand-in batch in [0, 1]
    with fixed labels and wrong labels."""
    backend.seed(seed)
    G, D = cgan_dcgan(z_dim=Z_DIM)
    opt_G = Adam(G, lr=2e-4, betas=(0.5, 0.999))
    opt_D = Adam(D, lr=2e-4, betas=(0.5, 0.999))
    real = backend.rand(batch_size, 1, 28, 28)
    labels = backend.xp().arange(batch_size) % 10
    y, y_wrong = one_hot(labels), one_hot((labels + 1 + labels % 9) % 10)

    def step():
        z = backend.rand(batch_size, Z_DIM, low=-1.0, high=1.0)
        return cgan_step(G, D, opt_G, opt_D, real, y, y_wrong, z)
    return G, D, step


def make_dcgan(batch_size, seed=0, network=None):
    """G, D, their Adam optimizers (2e-4, betas (0.5, 0.999)), and a step closure that
    draws fresh noise each call and trains on a fixed stand-in "real" batch in [-1, 1]
    (the speed of a step does not depend on the pixel values)."""
    backend.seed(seed)
    G, D = (network or dcgan_mnist)(z_dim=Z_DIM)
    opt_G = Adam(G, lr=2e-4, betas=(0.5, 0.999))
    opt_D = Adam(D, lr=2e-4, betas=(0.5, 0.999))
    real = backend.rand(batch_size, 1, 28, 28, low=-1.0, high=1.0)

    def step():
        z = backend.randn(batch_size, Z_DIM)
        return dcgan_step(G, D, opt_G, opt_D, real, z)
    return G, D, step


# ----------------------------------------------------------------------------- counting


def layer_gemm_flops(layer, x_shape):
    """FLOPs of one forward + backward of `layer` at input shape x_shape, GEMMs only."""
    N = x_shape[0]
    if isinstance(layer, Dense):
        fwd = 2 * N * layer.in_features * layer.out_features
    elif isinstance(layer, Conv2d):
        Ho, Wo = layer.out_hw(*x_shape[2:])
        fwd = 2 * layer.out_channels * layer.in_channels * layer.k ** 2 * N * Ho * Wo
    elif isinstance(layer, ConvTranspose2d):
        H, W = x_shape[2:]
        fwd = 2 * layer.out_channels * layer.k ** 2 * layer.in_channels * N * H * W
    else:
        return 0
    return 3 * fwd          # forward, and two GEMMs of the same size backward (dW and dx)


def step_gemm_flops(G, D, batch_size):
    """A step runs G forward and backward once, D forward and backward three times, the
    third frozen (no dW): 3 + 3 + 2 of D's forward-sized GEMMs."""
    def net(model, shape):
        total = 0
        for layer in model:
            total += layer_gemm_flops(layer, shape)
            shape = layer.forward(backend.xp().zeros(shape, dtype=np.float32), train=True)[0].shape
        return total
    return net(G, (batch_size, Z_DIM)) + 8 * net(D, (batch_size, 1, 28, 28)) // 3


# ----------------------------------------------------------------------------- timing


def synchronize():
    """Wait for the GPU to finish queued work (a no-op on the CPU)."""
    if backend.device() == "gpu":
        backend.xp().cuda.Device().synchronize()


def median_ms(fn, repeats, warmup=2, sync=synchronize):
    """Median wall time of fn() in milliseconds, after `warmup` untimed calls; `sync` waits
    for queued device work before and after each call (scripts/torch_compare.py passes
    PyTorch's)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def sgemm_gflops(repeats, batch_size=128):
    """Float32 GEMM speed on DCGAN-MNIST's big products (M x K @ K x N): D's second conv
    forward, G's first transposed conv forward, and the weight gradient of D's second conv."""
    xp = backend.xp()
    rng = np.random.default_rng(0)
    P = batch_size * 49                                  # N * 7 * 7 output pixels
    shapes = [(128, 1024, P), (1024, 128, P), (128, P, 1024)]
    results = []
    for M, K, N in shapes:
        a = xp.asarray(rng.standard_normal((M, K), dtype=np.float32))
        b = xp.asarray(rng.standard_normal((K, N), dtype=np.float32))
        ms = median_ms(lambda: a @ b, repeats)
        results.append({"shape": f"{M}x{K}@{K}x{N}", "ms": round(ms, 3),
                         "gflops": round(2 * M * N * K / ms / 1e6, 1)})
    return results


def layer_lines(model, prefix, x, repeats, peak):
    """Time forward + backward of every layer of `model` at the input it really gets."""
    xp = backend.xp()
    lines = []
    for i, layer in enumerate(model):
        y, cache = layer.forward(x, train=True)
        dy = xp.empty_like(y)                       # laid out in memory like y, as in training
        dy[...] = xp.asarray(np.random.default_rng(i).standard_normal(y.shape, dtype=np.float32))
        fwd = median_ms(lambda: layer.forward(x, train=True), repeats)
        bwd = median_ms(lambda: layer.backward(dy, cache), repeats)
        flops = layer_gemm_flops(layer, x.shape)
        ms = fwd + bwd
        gflops = flops / ms / 1e6 if flops else None
        lines.append({"name": f"{prefix}[{i}] {layer!r}", "ms": round(ms, 3),
                      "fwd_ms": round(fwd, 3), "bwd_ms": round(bwd, 3),
                      "gflops": round(gflops, 1) if gflops else None,
                      "share_of_sgemm": round(gflops / peak, 3) if gflops else None,
                      "in_shape": list(x.shape)})
        layer.zero_grad()
        x = y
    return lines


def step_line(batch_size, repeats, peak, name="dcgan_step", network=None):
    G, D, step = make_dcgan(batch_size, network=network)
    ms = median_ms(step, repeats, warmup=3)
    flops = step_gemm_flops(G, D, batch_size)
    gflops = flops / ms / 1e6
    return {"name": name, "batch_size": batch_size, "ms": round(ms, 2),
            "gflops": round(gflops, 1), "share_of_sgemm": round(gflops / peak, 3) if peak else None,
            "gemm_gflop_per_step": round(flops / 1e9, 3)}


def cgan_step_line(repeats, batch_size=64):
    """Lesson 04's step (its batch: 64). No GEMM count: the line is for comparison with
    scripts/torch_compare.py --network cgan."""
    _, _, step = make_cgan(batch_size)
    return {"name": "cgan_step", "batch_size": batch_size, "ms": round(median_ms(step, repeats, warmup=3), 2)}


def wgan_gp_critic_line(batch_size, repeats, dim=32):
    """Lesson 06's critic step (default --dim) with and without the gradient penalty."""
    backend.seed(0)
    _, D = wgan_gp_mnist(dim=dim)
    opt = Adam(D, lr=1e-4, betas=(0.5, 0.9))
    real = backend.rand(batch_size, 1, 28, 28)
    fake = backend.rand(batch_size, 1, 28, 28)

    def step(penalty):
        opt.zero_grad()
        for x, sign in ((real, -1.0), (fake, 1.0)):
            score, cache = D.forward(x)
            _, dscore = mean(score)
            D.backward(sign * dscore, cache, input_grad=False)
        if penalty:
            eps = backend.rand(batch_size, 1, 1, 1)
            gradient_penalty(D, eps * real + (1 - eps) * fake, 10.0)
        opt.step()

    ms = median_ms(lambda: step(True), repeats, warmup=2)
    plain = median_ms(lambda: step(False), repeats, warmup=2)
    return {"name": "wgan_gp_critic_step", "batch_size": batch_size, "dim": dim,
            "ms": round(ms, 2), "ms_without_penalty": round(plain, 2),
            "penalty_cost": round(ms / plain, 2)}


def step_breakdown(batch_size, steps, line="dcgan_step"):
    """Where a step's time goes: wall time of every layer's forward and backward (and of
    the optimizer steps) inside real steps of the bench line ``line``'s network (cgan_step:
    batch 64, as its line), in ms per step. Timers are attached to the layer *instances* of
    this one model; nothing in minigan is changed."""
    G, D, step = BREAKDOWN[line](batch_size)
    totals, running = {}, set()

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            if name in running:          # backward_params falling back on backward: count once
                return fn(*args, **kwargs)
            running.add(name)
            synchronize()
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            synchronize()
            totals[name] = totals.get(name, 0.0) + (time.perf_counter() - t0) * 1e3
            running.discard(name)
            return out
        return wrapper

    for prefix, model in (("G", G), ("D", D)):
        for i, layer in enumerate(model):
            name = f"{prefix}[{i}] {type(layer).__name__}"
            layer.forward = timed(name + " fwd", layer.forward)
            layer.backward = timed(name + " bwd", layer.backward)
            layer.backward_params = timed(name + " bwd", layer.backward_params)
    for _ in range(3):
        step()
    totals.clear()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    total = (time.perf_counter() - t0) * 1e3 / steps
    lines = [{"name": k, "ms_per_step": round(v / steps, 2)} for k, v in totals.items()]
    layers = sum(v for v in totals.values()) / steps
    lines.append({"name": "rest (losses, optimizers, noise)", "ms_per_step": round(total - layers, 2)})
    lines.append({"name": f"{line} total", "ms_per_step": round(total, 2)})
    return lines


def rss_mb(field):
    """This process's resident memory (VmRSS) or its peak so far (VmHWM), in MiB (Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


# The networks --breakdown can take apart, by the name of their step line.
BREAKDOWN = {
    "dcgan_step": lambda b: make_dcgan(b),
    "dcgan_large_step": lambda b: make_dcgan(b, network=dcgan_mnist_deep),
    "dcgan_fc_step": lambda b: make_dcgan(b, network=dcgan_mnist_fc),
    "cgan_step": lambda b: make_cgan(64),
}

# The step lines --only can print alone (share_of_sgemm needs the sgemm line: left out).
ONLY = {
    "dcgan_step": lambda a: step_line(a.batch_size, a.repeats, None),
    "dcgan_large_step": lambda a: step_line(a.batch_size, a.repeats, None, "dcgan_large_step",
                                            dcgan_mnist_deep),
    "dcgan_fc_step": lambda a: step_line(a.batch_size, a.repeats, None, "dcgan_fc_step", dcgan_mnist_fc),
    "cgan_step": lambda a: cgan_step_line(a.repeats),
}


def main(argv=None):
    from .train import OneLineParser       # one-line errors, as the lessons give
    ap = OneLineParser(prog="python -m minigan.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=backend.DEVICES, default="cpu")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=10, help="timed runs per item (median reported)")
    ap.add_argument("--scaling", action="store_true", help="also time the step at batch 32..256")
    ap.add_argument("--skip-layers", action="store_true", help="only the sgemm and step lines")
    ap.add_argument("--train-steps", type=int, default=0, metavar="N",
                    help="instead: run N DCGAN steps and print the memory they took (peak RSS)")
    ap.add_argument("--breakdown", nargs="?", const="dcgan_step", choices=tuple(BREAKDOWN),
                    help="instead: time every layer's forward/backward inside real steps "
                         "of this line's network (default dcgan_step)")
    ap.add_argument("--only", choices=tuple(ONLY),
                    help="instead: just this one step line (scripts/torch_compare.py --pairs uses it)")
    args = ap.parse_args(argv)
    try:
        backend.use(args.device)
    except backend.DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def emit(obj):
        print(json.dumps(obj), flush=True)

    if args.only:
        emit(ONLY[args.only](args))
        return 0

    if args.breakdown:
        for line in step_breakdown(args.batch_size, args.repeats, args.breakdown):
            emit(line)
        return 0

    if args.train_steps:
        _, _, step = make_dcgan(args.batch_size)
        before = rss_mb("VmRSS")
        t0 = time.perf_counter()
        for _ in range(args.train_steps):
            step()
        synchronize()
        line = {"name": "dcgan_train", "steps": args.train_steps, "batch_size": args.batch_size,
                "ms_per_step": round((time.perf_counter() - t0) * 1e3 / args.train_steps, 2),
                "rss_before_mb": before, "peak_rss_mb": rss_mb("VmHWM")}
        if args.device == "gpu":
            pool = backend.xp().get_default_memory_pool()
            line["gpu_pool_mb"] = round(pool.total_bytes() / 2 ** 20, 1)
        emit(line)
        return 0

    gemms = sgemm_gflops(args.repeats, args.batch_size)
    peak = max(g["gflops"] for g in gemms)
    blas_env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    if blas_env:
        print(f"warning: {' and '.join(blas_env)} set: NumPy's GEMM runs about a third slower "
              "than on a user's machine; these numbers do not compare with ones taken without "
              "them (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m minigan.bench)",
              file=sys.stderr, flush=True)
    emit({"name": "sgemm", "ms": None, "gflops": peak, "peak_gflops": peak, "shapes": gemms,
          "device": args.device, "cpu_count": os.cpu_count(),
          "threads_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                    "MKL_NUM_THREADS") if k in os.environ},
          "openblas_env": blas_env})

    if not args.skip_layers:
        backend.seed(0)
        G, D = dcgan_mnist(z_dim=Z_DIM)
        z = backend.randn(args.batch_size, Z_DIM)
        fake, _ = G.forward(z)
        for line in layer_lines(G, "G", z, args.repeats, peak) + \
                layer_lines(D, "D", fake, args.repeats, peak):
            emit(line)

    emit(step_line(args.batch_size, args.repeats, peak))
    # lesson 02's other networks (the line above times the small one, --arch small):
    # --arch deep (its line named dcgan_large_step) and the default, --arch fc
    emit(step_line(args.batch_size, args.repeats, peak, name="dcgan_large_step",
                   network=dcgan_mnist_deep))
    emit(step_line(args.batch_size, args.repeats, peak, name="dcgan_fc_step",
                   network=dcgan_mnist_fc))
    emit(cgan_step_line(args.repeats))
    emit(wgan_gp_critic_line(args.batch_size, args.repeats))
    if args.scaling:
        for bs in (32, 64, 128, 256):
            emit(step_line(bs, args.repeats, peak, name="dcgan_step_scaling"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
