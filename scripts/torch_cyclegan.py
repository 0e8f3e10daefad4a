"""Lesson 07's CycleGAN built in PyTorch: a dev script to check minigan's step against
PyTorch's autograd on identical weights, and to train the same setup in PyTorch.
minigan itself never imports torch; run this with a Python that has torch (and numpy).

    python scripts/torch_cyclegan.py --check        # one G and one D step, both libraries,
                                                    # float64, same weights and batch: the
                                                    # largest relative gradient difference
    python scripts/torch_cyclegan.py --train 1875   # the lesson's run in PyTorch, measured
                                                    # every 100 steps as the lesson does

The networks mirror minigan.models.resnet_generator and patch_discriminator layer for
layer (the same parameter order), so minigan's initial weights can be copied in.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from minigan import backend, metrics  # noqa: E402
from minigan.data import dilate_invert, load_mnist, unpaired_mnist  # noqa: E402
from minigan.layers import Parts  # noqa: E402
from minigan.losses import l1, mse  # noqa: E402
from minigan.models import patch_discriminator, resnet_generator  # noqa: E402


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


def torch_generator(c, blocks):
    return nn.Sequential(
        nn.ReflectionPad2d(3), nn.Conv2d(1, c, 7), nn.InstanceNorm2d(c), nn.ReLU(),
        nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c), nn.ReLU(),
        nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.InstanceNorm2d(4 * c), nn.ReLU(),
        *[Residual(4 * c) for _ in range(blocks)],
        nn.ConvTranspose2d(4 * c, 2 * c, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU(),
        nn.ConvTranspose2d(2 * c, c, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(c), nn.ReLU(),
        nn.ReflectionPad2d(3), nn.Conv2d(c, 1, 7), nn.Tanh())


def torch_discriminator(c, patch):
    layers = [nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2)]
    if patch == 12:
        layers += [nn.Conv2d(c, 2 * c, 3, 1, 1), nn.InstanceNorm2d(2 * c), nn.LeakyReLU(0.2),
                   nn.Conv2d(2 * c, 1, 3, 1, 1)]
    else:
        layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.InstanceNorm2d(2 * c), nn.LeakyReLU(0.2),
                   nn.Conv2d(2 * c, 4 * c, 3, 1, 1), nn.InstanceNorm2d(4 * c), nn.LeakyReLU(0.2),
                   nn.Conv2d(4 * c, 1, 3, 1, 1)]
    return nn.Sequential(*layers)


def copy_weights(ours, theirs):
    """minigan's parameters, in order, into the torch module's (same order and layout)."""
    mine = [owner.params[key] for _, owner, key in ours.parameters()]
    params = list(theirs.parameters())
    assert len(mine) == len(params), (len(mine), len(params))
    with torch.no_grad():
        for a, p in zip(mine, params):
            assert tuple(a.shape) == tuple(p.shape), (a.shape, p.shape)
            p.copy_(torch.from_numpy(np.asarray(a, np.float64)).to(p.dtype))


def minigan_step(G, D, a, b, lam, lam_idt):
    """lesson 07's step without the history pool: G and F's gradients, then D's."""
    for m in (G, D):
        for _, owner, key in m.parameters():
            owner.grads[key][...] = 0
    fake_b, fbc = G.ab.forward(a)
    fake_a, fac = G.ba.forward(b)
    s, sc = D.b.forward(fake_b)
    dfake_b = D.b.backward(mse(s, 1.0)[1], sc)
    s, sc = D.a.forward(fake_a)
    dfake_a = D.a.backward(mse(s, 1.0)[1], sc)
    r, rc = G.ba.forward(fake_b)
    dfake_b += G.ba.backward(lam * l1(r, a)[1], rc)
    r, rc = G.ab.forward(fake_a)
    dfake_a += G.ab.backward(lam * l1(r, b)[1], rc)
    r, rc = G.ab.forward(b)
    G.ab.backward(lam_idt * l1(r, b)[1], rc)
    r, rc = G.ba.forward(a)
    G.ba.backward(lam_idt * l1(r, a)[1], rc)
    G.ab.backward(dfake_b, fbc)
    G.ba.backward(dfake_a, fac)
    g_grads = [owner.grads[key].copy() for _, owner, key in G.parameters()]
    for _, owner, key in D.parameters():
        owner.grads[key][...] = 0
    for net, real, fake in ((D.a, a, fake_a), (D.b, b, fake_b)):
        s, c = net.forward(real)
        net.backward(mse(s, 1.0)[1] / 2, c)
        s, c = net.forward(fake)
        net.backward(mse(s, 0.0)[1] / 2, c)
    return g_grads, [owner.grads[key].copy() for _, owner, key in D.parameters()]


def generator_loss(Gab, Gba, Da, Db, a, b, lam, lam_idt):
    """L_GAN(G, D_B) + L_GAN(F, D_A) + lam L_cyc + lam_idt L_idt, as the lesson writes it."""
    fake_b, fake_a = Gab(a), Gba(b)
    loss = ((Db(fake_b) - 1) ** 2).mean() + ((Da(fake_a) - 1) ** 2).mean()
    loss = loss + lam * ((Gba(fake_b) - a).abs().mean() + (Gab(fake_a) - b).abs().mean())
    loss = loss + lam_idt * ((Gab(b) - b).abs().mean() + (Gba(a) - a).abs().mean())
    return loss, fake_a, fake_b


def discriminator_loss(D, real, fake):
    return (((D(real) - 1) ** 2).mean() + (D(fake.detach()) ** 2).mean()) / 2


def check(args):
    """Both libraries' gradients of one G step and one D step, float64, same weights."""
    backend.seed(0)
    c, dc = args.channels, args.d_channels
    G = Parts(ab=resnet_generator(c, args.residual_blocks), ba=resnet_generator(c, args.residual_blocks))
    D = Parts(a=patch_discriminator(dc, args.patch), b=patch_discriminator(dc, args.patch))
    for m in (G, D):
        m.to_dtype(np.float64)
    x_a, _, x_b, _ = unpaired_mnist(20_000, 64)
    a, b = 2 * x_a[:args.batch_size].astype(np.float64) - 1, 2 * x_b[:args.batch_size].astype(np.float64) - 1
    lam, lam_idt = 10.0, 5.0
    ours_g, ours_d = minigan_step(G, D, a, b, lam, lam_idt)

    tG = {k: torch_generator(c, args.residual_blocks).double() for k in ("ab", "ba")}
    tD = {k: torch_discriminator(dc, args.patch).double() for k in ("a", "b")}
    for k in tG:
        copy_weights(getattr(G, k), tG[k])
    for k in tD:
        copy_weights(getattr(D, k), tD[k])
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    loss, fake_a, fake_b = generator_loss(tG["ab"], tG["ba"], tD["a"], tD["b"], ta, tb, lam, lam_idt)
    loss.backward()
    theirs_g = [p.grad.numpy().copy() for k in ("ab", "ba") for p in tG[k].parameters()]
    for k in tD:
        tD[k].zero_grad()
    (discriminator_loss(tD["a"], ta, fake_a) + discriminator_loss(tD["b"], tb, fake_b)).backward()
    theirs_d = [p.grad.numpy() for k in ("a", "b") for p in tD[k].parameters()]

    def worst(ours, theirs, names):
        """The largest difference, relative to the largest gradient of the whole network
        (the bias of a conv before InstanceNorm has an analytic gradient of 0: a difference
        relative to it would read rounding noise)."""
        scale = max(float(np.abs(t).max()) for t in theirs)
        return max((float(np.abs(o - t).max()) / scale, n) for n, o, t in zip(names, ours, theirs))

    result = {"g_worst_rel_diff": worst(ours_g, theirs_g, [n for n, _, _ in G.parameters()]),
              "d_worst_rel_diff": worst(ours_d, theirs_d, [n for n, _, _ in D.parameters()])}
    print(json.dumps(result))


def train(args):
    """The lesson's run (batch, lr schedule, history pool, measurements) in PyTorch float32."""
    torch.manual_seed(args.seed)
    backend.seed(args.seed)
    c, dc = args.channels, args.d_channels
    G = Parts(ab=resnet_generator(c, args.residual_blocks), ba=resnet_generator(c, args.residual_blocks))
    D = Parts(a=patch_discriminator(dc, args.patch), b=patch_discriminator(dc, args.patch))
    Gab, Gba = torch_generator(c, args.residual_blocks), torch_generator(c, args.residual_blocks)
    Da, Db = torch_discriminator(dc, args.patch), torch_discriminator(dc, args.patch)
    for ours, theirs in ((G.ab, Gab), (G.ba, Gba), (D.a, Da), (D.b, Db)):
        copy_weights(ours, theirs)                      # minigan's init, seed for seed
    opt_G = torch.optim.Adam(list(Gab.parameters()) + list(Gba.parameters()), args.lr, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(list(Da.parameters()) + list(Db.parameters()), args.lr, betas=(0.5, 0.999))
    x_a, _, x_b, _ = unpaired_mnist(args.seed + 20_000)
    x_a, x_b = torch.from_numpy(2 * x_a - 1), torch.from_numpy(2 * x_b - 1)
    x_test, y_test = load_mnist("test")
    n = args.eval_images
    test_a, truth_a = x_test[:n], dilate_invert(x_test[:n])
    test_b, truth_b, labels_b = dilate_invert(x_test[2000:2000 + n]), x_test[2000:2000 + n], y_test[2000:2000 + n]
    rng = np.random.default_rng(args.seed)
    pools = {"a": [], "b": []}

    def query(pool, batch):
        out = []
        for im in batch:
            if len(pool) < 50:
                pool.append(im.clone())
                out.append(im)
            elif rng.random() < 0.5:
                i = int(rng.integers(50))
                out.append(pool[i])
                pool[i] = im.clone()
            else:
                out.append(im)
        return torch.stack(out)

    def translate(net, images):
        with torch.no_grad():
            return (net(torch.from_numpy(2 * images - 1)).numpy() + 1) / 2

    bs, t0, curve = args.batch_size, time.perf_counter(), []
    order_a, order_b = rng.permutation(len(x_a)), rng.permutation(len(x_b))
    for step in range(1, args.train + 1):
        lr = args.lr * min(1.0, (args.train - step + 1) / (args.train * (1 - args.decay_from)))
        for opt in (opt_G, opt_D):
            for group in opt.param_groups:
                group["lr"] = lr
        i = (step - 1) * bs % (len(x_a) - bs)
        a, b = x_a[order_a[i:i + bs]], x_b[order_b[i:i + bs]]
        opt_G.zero_grad()
        loss, fake_a, fake_b = generator_loss(Gab, Gba, Da, Db, a, b, 10.0, 5.0)
        loss.backward()
        opt_G.step()
        opt_D.zero_grad()
        d_loss = (discriminator_loss(Da, a, query(pools["a"], fake_a.detach()))
                  + discriminator_loss(Db, b, query(pools["b"], fake_b.detach())))
        d_loss.backward()
        opt_D.step()
        if step % 100 == 0:
            t1 = time.perf_counter()
            ab, ba = translate(Gab, test_a), translate(Gba, test_b)
            _, probs = metrics.features_and_probs(ba.astype(np.float32))
            point = {"step": step, "seconds": round(t1 - t0, 1),
                     "label_preservation": float((probs.argmax(1) == labels_b).mean()),
                     "ratio_ab": metrics.translation_errors(test_a, ab, truth_a)["ratio_to_best_pixel_map"],
                     "ratio_ba": metrics.translation_errors(test_b, ba, truth_b)["ratio_to_best_pixel_map"]}
            curve.append(point)
            print(json.dumps(point), flush=True)
            t0 += time.perf_counter() - t1
    seconds = time.perf_counter() - t0
    print(json.dumps({"steps": args.train, "batch_size": bs, "threads": torch.get_num_threads(),
                      "ms_per_step": round(1000 * seconds / args.train, 1)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--train", type=int, default=0, metavar="STEPS")
    ap.add_argument("--batch-size", type=int, default=32)         # lesson 07's defaults
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--d-channels", type=int, default=64)
    ap.add_argument("--residual-blocks", type=int, default=3)
    ap.add_argument("--patch", type=int, choices=(12, 26), default=26)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--decay-from", type=float, default=0.5)
    ap.add_argument("--eval-images", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.check:
        check(args)
    if args.train:
        train(args)


if __name__ == "__main__":
    main()
