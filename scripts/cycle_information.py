"""Does lesson 07's G hide the original digit in its translation? A dev script.

T (dilate, then invert) loses information: a thick stroke does not say exactly where the
thin one was. So no F can rebuild a from T(a) exactly, and the cycle loss |F(G(a)) - a|
rewards a G that leaves traces of a in G(a) that T(a) lacks (Chu et al. 2017, "CycleGAN,
a Master of Steganography"). This prints, on test digits, F's error from the true T(a)
and from G(a): if the second is much smaller, G(a) carries more about a than T(a) does.

    python scripts/cycle_information.py runs/07_cyclegan/checkpoint.npz [--n 1000]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from minigan.data import dilate_invert, load_mnist  # noqa: E402
from minigan.layers import Parts  # noqa: E402
from minigan.models import resnet_generator  # noqa: E402
from minigan.train import OneLineParser, load_checkpoint  # noqa: E402


def load_generators(path):
    """G (A -> B) and F (B -> A) of a lesson-07 checkpoint, at the sizes it was trained with."""
    try:
        arrays, meta = load_checkpoint(path)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    if meta.get("lesson") != "07_cyclegan":
        sys.exit(f"error: {path} was written by {meta.get('lesson')!r}, not 07_cyclegan")
    flags = meta["args"]
    nets = Parts(ab=resnet_generator(flags["channels"], flags["residual_blocks"]),
                 ba=resnet_generator(flags["channels"], flags["residual_blocks"]))
    nets.load_state_dict({k[len("model/G/"):]: v for k, v in arrays.items() if k.startswith("model/G/")})
    return nets.ab, nets.ba


def translate(net, images):
    """Images in [0, 1] -> images in [0, 1] (the generators work in [-1, 1])."""
    return (net.forward(2 * images - 1, train=False)[0] + 1) / 2


def main():
    ap = OneLineParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--n", type=int, default=1000, help="test digits (default: %(default)s)")
    args = ap.parse_args()
    G, F = load_generators(args.checkpoint)
    a = load_mnist("test")[0][:args.n]
    t_a = dilate_invert(a)                                   # the truth for a -> B
    g_a = translate(G, a)
    rows = {"A -> B: |G(a) - T(a)|": np.abs(g_a - t_a),
            "B -> A: |F(T(a)) - a|": np.abs(translate(F, t_a) - a),
            "cycle:  |F(G(a)) - a|": np.abs(translate(F, g_a) - a)}
    for name, err in rows.items():
        print(f"{name}  {err.mean():.4f}")


if __name__ == "__main__":
    main()
