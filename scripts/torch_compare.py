"""Side-by-side speed check: the DCGAN-MNIST step of minigan.bench, built in PyTorch (CPU, or CUDA).

A dev script, not part of the package (minigan itself never imports torch). It builds the
identical networks (same layers, same DCGAN init, BCE on logits, Adam 2e-4 (0.5, 0.999))
and the identical step as ``minigan.bench.dcgan_step``: G forward once; D on a real and a
fake (detached) batch, one D step; the fake batch through the updated D with target 1,
backward into G with D frozen (no parameter gradients for D, as minigan's
``frozen(D)``), one G step.

    python scripts/torch_compare.py                  # torch only, one JSON line
    python scripts/torch_compare.py --minigan VENV_PYTHON
          # also runs `VENV_PYTHON -m minigan.bench --skip-layers` right after, same threads
    python scripts/torch_compare.py --train-steps 50  # a short run: ms/step and peak RSS
    python scripts/torch_compare.py --wgan-gp         # lesson 06's critic step, double backprop
    python scripts/torch_compare.py --network cgan --minigan VENV_PYTHON --pairs 5
          # 5 alternating timings of the same step (torch, then minigan.bench --only), ratio
    python scripts/torch_compare.py --device cuda --minigan python3 --pairs 5
          # the same on a GPU: PyTorch CUDA eager against minigan.bench --device gpu (CuPy)

Run it with the same thread count as minigan (both default to the machine's cores; set
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS to pin both).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from minigan import bench  # noqa: E402  (its timer and RSS reader; minigan never imports torch)

DEVICE = torch.device("cpu")     # --device cuda: every network and tensor on the GPU


def g_convs(c):
    """G's part after its dense layer(s): (c*7*7) -> ConvT c->c/2 (14x14) -> ConvT -> 1 (28x28), tanh."""
    return [nn.Unflatten(1, (c, 7, 7)),
            nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU(),
            nn.ConvTranspose2d(c // 2, 1, 4, 2, 1), nn.Tanh()]


def d_convs(d):
    """D's two stride-2 convolutions, 28 -> 14 -> 7, flattened to 2d*7*7 features."""
    return [nn.Conv2d(1, d, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(d, 2 * d, 4, 2, 1), nn.BatchNorm2d(2 * d), nn.LeakyReLU(0.2), nn.Flatten()]


def dcgan_mnist(z_dim=100, c=128, d=64):
    G = nn.Sequential(nn.Linear(z_dim, c * 7 * 7), nn.BatchNorm1d(c * 7 * 7), nn.ReLU(), *g_convs(c))
    D = nn.Sequential(*d_convs(d), nn.Linear(2 * d * 7 * 7, 1))
    return dcgan_init(G), dcgan_init(D)


def dcgan_init(net):
    """As minigan.init.dcgan_init: weights N(0, 0.02), BatchNorm gamma N(1, 0.02), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net


def dcgan_mnist_deep(z_dim=100):
    """minigan.models.dcgan_mnist_deep (lesson 02's --arch deep, minigan.bench's
    dcgan_large_step): the small G, D Conv 1->32 k4 s2 -> 32->64 k4 s2, BN -> 64->128 k3 s2,
    BN (LeakyReLU 0.2 after each) -> Dense 2048 -> 1; DCGAN init."""
    G, _ = dcgan_mnist(z_dim)
    D = nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 3, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 4 * 4, 1))
    return G, dcgan_init(D)


def dcgan_mnist_fc(z_dim=100, c=128, d=64, hidden=1024):
    """minigan.models.dcgan_mnist_fc (InfoGAN's MNIST nets, lesson 02's --arch fc): G Dense
    1024, BN, ReLU -> Dense 128*7*7, BN, ReLU -> ConvT 128->64 k4 s2, BN, ReLU -> ConvT
    64->1, tanh; D Conv 1->64 k4 s2, LeakyReLU -> 64->128, BN, LeakyReLU -> Dense 1024, BN,
    LeakyReLU -> 1; DCGAN init."""
    G = nn.Sequential(nn.Linear(z_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                      nn.Linear(hidden, c * 7 * 7), nn.BatchNorm1d(c * 7 * 7), nn.ReLU(), *g_convs(c))
    D = nn.Sequential(*d_convs(d), nn.Linear(2 * d * 7 * 7, hidden), nn.BatchNorm1d(hidden),
                      nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
    return dcgan_init(G), dcgan_init(D)


def dcgan_mnist_keras(z_dim=100):
    """minigan.models.dcgan_mnist_keras (lesson 02's --arch keras, lesson 05's nets without
    labels): G Dense 128*7*7, ReLU, BN -> ConvT 128->128 k4 s2, ReLU, BN -> ConvT 128->64,
    ReLU, BN -> Conv 64->1 k3, tanh; D four 3x3 convs 16-32-64-128 with LeakyReLU 0.2,
    Dropout 0.25 and BN -> Dense 2048 -> 1."""
    G = nn.Sequential(
        nn.Linear(z_dim, 128 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128, momentum=0.2),
        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.ReLU(), nn.BatchNorm2d(128, momentum=0.2),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(), nn.BatchNorm2d(64, momentum=0.2),
        nn.Conv2d(64, 1, 3, 1, 1), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1, 16, 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.25),
        nn.Conv2d(16, 32, 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.25), nn.BatchNorm2d(32, momentum=0.2),
        nn.Conv2d(32, 64, 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.25), nn.BatchNorm2d(64, momentum=0.2),
        nn.Conv2d(64, 128, 3, 1, 1), nn.LeakyReLU(0.2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(128 * 4 * 4, 1))
    return G, D


NETWORKS = {"small": dcgan_mnist, "deep": dcgan_mnist_deep, "keras": dcgan_mnist_keras,
            "fc": dcgan_mnist_fc}
# the name of minigan.bench's line for the same network and step (--pairs runs it)
BENCH_LINE = {"small": "dcgan_step", "deep": "dcgan_large_step", "fc": "dcgan_fc_step",
              "cgan": "cgan_step"}


class Conditional(nn.Module):
    """minigan.conditioning.Conditional: the layers, with the one-hot label y appended
    (as a vector, or as K constant maps after a conv) at every None in `layers`."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.ModuleList(nn.Identity() if m is None else m for m in layers)
        self.concat = [m is None for m in layers]

    def forward(self, h, y):
        for layer, concat in zip(self.layers, self.concat):
            if concat:
                maps = y if h.dim() == 2 else y[:, :, None, None].expand(-1, -1, *h.shape[2:])
                h = torch.cat([h, maps], 1)
            else:
                h = layer(h)
        return h


def cgan_dcgan(z_dim=100, K=10):
    """minigan.models.cgan_dcgan (lesson 04's default): carpedm20's conditional DCGAN, the
    label appended at every layer (None), 5x5 stride-2 (transposed) convs; DCGAN init."""
    G = Conditional(None, nn.Linear(z_dim + K, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
                    None, nn.Linear(1024 + K, 128 * 49), nn.BatchNorm1d(128 * 49), nn.ReLU(),
                    nn.Unflatten(1, (128, 7, 7)),
                    None, nn.ConvTranspose2d(128 + K, 128, 5, 2, 2, output_padding=1),
                    nn.BatchNorm2d(128), nn.ReLU(),
                    None, nn.ConvTranspose2d(128 + K, 1, 5, 2, 2, output_padding=1), nn.Sigmoid())
    D = Conditional(None, nn.Conv2d(1 + K, 1 + K, 5, 2, 2), nn.LeakyReLU(0.2),
                    None, nn.Conv2d(1 + 2 * K, 64 + K, 5, 2, 2), nn.BatchNorm2d(64 + K),
                    nn.LeakyReLU(0.2), nn.Flatten(),
                    None, nn.Linear((64 + K) * 49 + K, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),
                    None, nn.Linear(1024 + K, 1))
    return dcgan_init(G), dcgan_init(D)


def make_cgan_step(batch_size=64, z_dim=100, g_steps=2):
    """minigan.bench.cgan_step (lesson 04's default step): D on (x, y), (G(z|y), y) and
    (x, wrong y), the two fake terms at half weight; then two G steps on the same z, y."""
    torch.manual_seed(0)
    G, D = (net.to(DEVICE) for net in cgan_dcgan(z_dim))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch_size, 1, 28, 28, device=DEVICE)
    labels = torch.arange(batch_size, device=DEVICE) % 10
    y = nn.functional.one_hot(labels, 10).float()
    y_wrong = nn.functional.one_hot((labels + 1 + labels % 9) % 10, 10).float()
    ones, zeros = torch.ones(batch_size, 1, device=DEVICE), torch.zeros(batch_size, 1, device=DEVICE)

    def step():
        z = torch.rand(batch_size, z_dim, device=DEVICE) * 2 - 1
        fake = G(z, y)
        opt_D.zero_grad()
        loss_D = bce(D(real, y), ones) + (bce(D(fake.detach(), y), zeros) + bce(D(real, y_wrong), zeros)) / 2
        loss_D.backward()
        opt_D.step()
        for k in range(g_steps):
            if k > 0:
                fake = G(z, y)
            opt_G.zero_grad()
            D.requires_grad_(False)
            loss_G = bce(D(fake, y), ones)
            loss_G.backward()
            D.requires_grad_(True)
            opt_G.step()
        return loss_D.item(), loss_G.item()
    return step


def make_step(batch_size, z_dim=100, network="small"):
    if network == "cgan":
        return make_cgan_step()
    torch.manual_seed(0)
    G, D = (net.to(DEVICE) for net in NETWORKS[network](z_dim))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch_size, 1, 28, 28, device=DEVICE) * 2 - 1
    ones, zeros = torch.ones(batch_size, 1, device=DEVICE), torch.zeros(batch_size, 1, device=DEVICE)

    def step():
        z = torch.randn(batch_size, z_dim, device=DEVICE)
        fake = G(z)
        opt_D.zero_grad()
        loss_D = bce(D(real), ones)
        loss_D.backward()
        loss_fake = bce(D(fake.detach()), zeros)
        loss_fake.backward()
        opt_D.step()
        opt_G.zero_grad()
        D.requires_grad_(False)                      # as minigan's frozen(D): dL/dfake only
        loss_G = bce(D(fake), ones)
        loss_G.backward()
        D.requires_grad_(True)
        opt_G.step()
        return loss_D.item() + loss_fake.item(), loss_G.item()
    return step


def wgan_gp_critic(dim=32):
    """Lesson 06's critic (minigan.models.wgan_gp_mnist): three 5x5 stride-2 convs, LeakyReLU."""
    return nn.Sequential(
        nn.Conv2d(1, dim, 5, 2, 2), nn.LeakyReLU(0.2),
        nn.Conv2d(dim, 2 * dim, 5, 2, 2), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * dim, 4 * dim, 5, 2, 2), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * dim * 4 * 4, 1))


def make_critic_step(batch_size, penalty, dim=32, lam=10.0):
    """minigan.bench's wgan_gp_critic_line in PyTorch: mean D(fake) - mean D(real), plus
    lam * mean (||grad D(x_hat)|| - 1)^2 by double backprop (create_graph=True)."""
    torch.manual_seed(0)
    D = wgan_gp_critic(dim).to(DEVICE)
    opt = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
    real, fake = (torch.rand(batch_size, 1, 28, 28, device=DEVICE) for _ in range(2))

    def step():
        opt.zero_grad()
        loss = D(fake).mean() - D(real).mean()
        if penalty:
            eps = torch.rand(batch_size, 1, 1, 1, device=DEVICE)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            g, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            loss = loss + lam * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
        loss.backward()
        opt.step()
    return step


def minigan_device():
    """minigan.bench's --device for the torch device in use."""
    return "gpu" if DEVICE.type == "cuda" else "cpu"


def synchronize():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def median_ms(fn, repeats):
    """minigan.bench's timer (median of `repeats` after 3 warm-ups), with PyTorch's sync."""
    return bench.median_ms(fn, repeats, warmup=3, sync=synchronize)


def alternate(args, threads):
    """--pairs: torch's step, then minigan's (a fresh `python -m minigan.bench --only` each
    time, same threads), N times; one line per pair and one with both medians."""
    step = make_step(args.batch_size, network=args.network)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    cmd = [args.minigan, "-m", "minigan.bench", "--only", BENCH_LINE[args.network],
           "--repeats", str(args.repeats), "--batch-size", str(args.batch_size),
           "--device", minigan_device()]
    pairs = []
    for i in range(args.pairs):
        torch_ms = median_ms(step, args.repeats)
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        minigan_ms = json.loads(out.strip().splitlines()[-1])["ms"]
        pairs.append((torch_ms, minigan_ms))
        print(json.dumps({"name": "pair", "network": args.network, "device": DEVICE.type,
                          "torch_ms": round(torch_ms, 2), "minigan_ms": minigan_ms}), flush=True)
    t, m = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    print(json.dumps({"name": "pairs_median", "network": args.network, "device": DEVICE.type,
                      "pairs": len(pairs),
                      "torch_ms": round(t, 2), "minigan_ms": round(m, 2), "ratio": round(m / t, 3),
                      "threads": threads, "torch": torch.__version__,
                      "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                                       if k in os.environ}}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--train-steps", type=int, default=0,
                    help="just run this many steps (for peak-memory measurement) and exit")
    ap.add_argument("--minigan", metavar="PYTHON",
                    help="afterwards run PYTHON -m minigan.bench --skip-layers with the same threads")
    ap.add_argument("--network", choices=(*NETWORKS, "cgan"), default="small",
                    help="small: minigan.bench's dcgan_step network; deep: lesson 02's --arch deep "
                         "(dcgan_large_step); keras: lesson 02's --arch keras; fc: lesson 02's "
                         "default (dcgan_fc_step); cgan: lesson 04's default (cgan_step, batch 64)")
    ap.add_argument("--pairs", type=int, default=0, metavar="N",
                    help="with --minigan: N alternating timings, torch then minigan.bench --only "
                         "(same network), and the medians and their ratio")
    ap.add_argument("--wgan-gp", action="store_true",
                    help="time lesson 06's critic step (batch 50) with and without the penalty")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: PyTorch CUDA eager, and --minigan runs minigan.bench --device gpu")
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    threads = torch.get_num_threads()

    if args.wgan_gp:
        ms = {p: median_ms(make_critic_step(50, p), args.repeats) for p in (True, False)}
        print(json.dumps({"name": "torch_wgan_gp_critic_step", "batch_size": 50, "dim": 32,
                          "ms": round(ms[True], 2), "ms_without_penalty": round(ms[False], 2),
                          "penalty_cost": round(ms[True] / ms[False], 2), "threads": threads,
                          "torch": torch.__version__}))
        return

    if args.train_steps:
        step = make_step(args.batch_size)
        before = bench.rss_mb("VmRSS")
        t0 = time.perf_counter()
        for _ in range(args.train_steps):
            step()
        print(json.dumps({"name": "torch_dcgan_train", "steps": args.train_steps,
                          "batch_size": args.batch_size, "threads": threads,
                          "ms_per_step": round((time.perf_counter() - t0) * 1e3 / args.train_steps, 2),
                          "rss_before_mb": before, "peak_rss_mb": bench.rss_mb("VmHWM")}))
        return

    if args.pairs:
        if not args.minigan:
            ap.error("--pairs needs --minigan PYTHON")
        alternate(args, threads)
        return

    sizes = (32, 64, 128, 256) if args.scaling else (args.batch_size,)
    for bs in sizes:
        ms = median_ms(make_step(bs, network=args.network), args.repeats)
        print(json.dumps({"name": "torch_dcgan_step", "network": args.network, "batch_size": bs,
                          "device": DEVICE.type,
                          "ms": round(ms, 2),
                          "threads": threads, "torch": torch.__version__}), flush=True)
    if args.minigan:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        cmd = [args.minigan, "-m", "minigan.bench", "--skip-layers", "--repeats", str(args.repeats),
               "--batch-size", str(args.batch_size), "--device", minigan_device()
               ] + (["--scaling"] if args.scaling else [])
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
