"""Score a run's saved checkpoints: Frechet distance, inception-style score, class shares
and (conditional lessons) label accuracy and within-class spread, on N samples each.

    python scripts/score_checkpoints.py 02_dcgan runs/02_dcgan/ckpt_epoch*.npz [--n 5000]
    python scripts/score_checkpoints.py 06_wgan_gp ckpts/*.npz --n 2000 --json runs/06_wgan_gp/scores.json

--heldout-w (lessons 03 and 06) also reads each checkpoint's critic on the first N test
digits and the same N samples: W_heldout = mean D(x_test) - mean D(G(z)), lesson 03's
held-out estimate, and prints Spearman's rho between W_heldout and the Frechet distance over
the checkpoints (does the critic rank them as a measure of the samples does?).

--json writes the scores as a curve (one point per checkpoint: its epoch, a fraction for a
mid-epoch checkpoint, its training minutes, FD, score and, conditional lessons, label
accuracy), which `python scripts/figures.py runs` draws as <row>_scores.png.

Two questions about the samples rather than the training (lesson 02's docs use both):

    --batch-stats   G samples with BatchNorm in training mode (batch-of-500 statistics)
                    instead of its running averages
    --average       one score for G with the mean weights of all the given checkpoints
                    (a crude form of weight averaging, Yazici et al. 2019)

The lessons keep only their latest checkpoint; copy it aside after each epoch to keep the
others (a loop over `cp runs/X/checkpoint.npz runs/X/ckpt_epochN.npz` is enough). G is
rebuilt from the checkpoint's own arguments and sampled in eval mode, as the lessons sample.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from minigan import backend, metrics, models  # noqa: E402
from minigan.conditioning import one_hot  # noqa: E402
from minigan.data import load_mnist  # noqa: E402
from minigan.train import OneLineParser, load_checkpoint  # noqa: E402


def generator(lesson, args, batch_stats=False):
    """G of the lesson and arch that wrote the checkpoint, and a sampler labels/n -> [0, 1]."""
    z_dim = args["latent_dim"]
    if lesson == "02_dcgan":
        G, _ = {"small": models.dcgan_mnist, "keras": models.dcgan_mnist_keras,
                "fc": models.dcgan_mnist_fc}.get(
            args.get("arch"), models.dcgan_mnist_deep)(z_dim)
        return G, lambda n: (G.forward(backend.randn(n, z_dim), train=batch_stats)[0] + 1) / 2
    if lesson == "04_cgan" and args.get("arch", "dcgan") == "dcgan":
        G, _ = models.cgan_dcgan(z_dim)
        return G, lambda y: G.forward(backend.rand(len(y), z_dim, low=-1.0, high=1.0),
                                      one_hot(y, 10), train=False)[0]
    if lesson == "04_cgan":                      # --arch paper: the MLPs, sampled as the
        G, _ = models.cgan_mlp(z_dim)            # lesson samples them (--sample-dropout)
        return G, lambda y: G.forward(backend.rand(len(y), z_dim), one_hot(y, 10),
                                      train=bool(args.get("sample_dropout")))[0]
    if lesson == "05_acgan":
        G, _ = models.acgan_mnist(z_dim)

        def sample(y):
            e, _ = G.embed.forward(y)
            return (G.net.forward(backend.randn(len(y), z_dim) * e, False)[0] + 1) / 2
        return G, sample
    if lesson == "06_wgan_gp" and args.get("arch") == "dcgan":
        G, _ = models.wgan_gp_mnist(z_dim=z_dim, dim=args["dim"], g_batchnorm=args["g_norm"] == "batch")
        return G, lambda n: G.forward(backend.randn(n, z_dim), train=False)[0]
    if lesson == "03_wgan" and args.get("arch", "mlp") != "mlp":
        raise SystemExit("error: no scorer for 03_wgan --arch dcgan")
    if lesson in ("03_wgan", "06_wgan_gp"):     # the MLPs, tanh: [-1, 1]
        G, _ = models.mlp_gan(z_dim=z_dim)
        return G, lambda n: (G.forward(backend.randn(n, z_dim), train=False)[0] + 1) / 2
    raise SystemExit(f"error: no scorer for {lesson} {args.get('arch')}")


def critic(lesson, args):
    """The critic of lesson 03 or 06 and the map from images in [0, 1] to its input: lesson
    06's conv critic reads [0, 1] (its G ends in a sigmoid), the MLP critics read [-1, 1]."""
    if lesson == "06_wgan_gp" and args.get("arch") == "dcgan":
        _, D = models.wgan_gp_mnist(z_dim=args["latent_dim"], dim=args["dim"],
                                    g_batchnorm=args["g_norm"] == "batch")
        return D, lambda x: x
    if lesson in ("03_wgan", "06_wgan_gp") and args.get("arch", "mlp") == "mlp":
        _, D = models.mlp_gan(z_dim=args["latent_dim"])
        return D, lambda x: 2 * x - 1
    raise SystemExit(f"error: --heldout-w is for lessons 03 and 06 (--arch mlp, and 06 --arch dcgan), "
                     f"not {lesson} --arch {args.get('arch')}")


def heldout_w(D, to_input, state, real, fake):
    """mean D(real) - mean D(fake), images (N, 28, 28) in [0, 1], the critic in eval mode."""
    D.load_state_dict(state)
    score = lambda x: np.concatenate([backend.to_host(D.forward(backend.asarray(
        to_input(x[i:i + 500, None].astype(np.float32))), train=False)[0]) for i in range(0, len(x), 500)])
    return float(score(real).mean() - score(fake).mean())


def main():
    ap = OneLineParser(description=__doc__.split("\n")[0])
    ap.add_argument("lesson")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--batch-stats", action="store_true", help="lesson 02: BatchNorm in training mode")
    ap.add_argument("--average", action="store_true", help="score the mean of the checkpoints' G")
    ap.add_argument("--heldout-w", action="store_true",
                    help="lessons 03, 06: the critic's W on N test digits and the N samples, and its rank "
                         "agreement with the Frechet distance")
    ap.add_argument("--json", metavar="PATH", help="also write the scores to PATH (a curve for figures.py)")
    a = ap.parse_args()
    if a.batch_stats and a.lesson != "02_dcgan":
        raise SystemExit("error: --batch-stats is for 02_dcgan")
    backend.use("cpu")
    states = []                                          # (name, G's arrays, where in the run)
    for path in a.checkpoints:
        try:
            arrays, meta = load_checkpoint(path)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: {path}: {exc}")
        if meta.get("lesson") != a.lesson:
            raise SystemExit(f"error: {path} is a checkpoint of {meta.get('lesson')!r}, not {a.lesson!r}")
        # a mid-epoch checkpoint holds `position` steps of the next epoch
        epoch = meta["epoch"] + meta.get("position", 0) / meta.get("steps_per_epoch", 1)
        name = f"epoch {meta['epoch']:3d}" + (f" step {meta['position']}" if meta.get("position") else "")
        part = lambda net: {k[len(f"model/{net}/"):]: v for k, v in arrays.items() if k.startswith(f"model/{net}/")}
        states.append((name, part("G"),
                       {"epoch": round(epoch, 3), "minutes": round(meta.get("training_seconds", 0) / 60, 2)},
                       part("D") if a.heldout_w else None))     # the critic only where it is read
    states.sort(key=lambda s: s[2]["epoch"])
    if a.average and a.heldout_w:
        raise SystemExit("error: --average and --heldout-w do not go together (the mean G has no critic)")
    if a.average:
        mean = {k: sum(s[k] for _, s, _, _ in states) / len(states) for k in states[0][1]}
        states = [(f"mean of {len(states)} checkpoints", mean, {}, None)]
    if a.heldout_w:
        D, to_input = critic(a.lesson, meta["args"])
        real = load_mnist("test")[0][:a.n].reshape(-1, 28, 28)
        if len(real) < a.n:
            raise SystemExit(f"error: --heldout-w needs --n <= {len(real)} (the test digits)")
    points = []
    for name, state, where, critic_state in states:
        G, sample = generator(a.lesson, meta["args"], a.batch_stats)
        G.load_state_dict(state)
        backend.seed(123)
        conditional = a.lesson in ("04_cgan", "05_acgan")
        labels = np.arange(a.n) % 10 if conditional else None
        images = np.concatenate([sample(labels[i:i + 500]) if conditional else sample(min(500, a.n - i))
                                 for i in range(0, a.n, 500)]).reshape(-1, 28, 28).clip(0, 1)
        m = metrics.evaluate(images, labels, parzen_window=False)
        if a.heldout_w:
            where = {**where, "w_heldout": heldout_w(D, to_input, critic_state, real, images)}
        line = (f"{name}  IS {m['inception_score']:.2f}  FD {m['frechet_distance']:.1f}  "
                f"shares {100 * m['min_class_share']:.1f}-{100 * m['max_class_share']:.1f}%")
        if conditional:
            line += (f"  label acc {100 * m['label_accuracy']:.2f}%  spread {m['within_class_spread']:.3f}"
                     f"  diversity {m['within_class_diversity']:.3f}")
        if a.heldout_w:
            line += f"  W_heldout {where['w_heldout']:.4f}"
        print(line, flush=True)
        points.append({**where, "fd": m["frechet_distance"], "score": m["inception_score"],
                       **({"label_accuracy": m["label_accuracy"]} if conditional else {})})
    if a.heldout_w and len(points) >= 2:
        rho = metrics.spearman([p["w_heldout"] for p in points], [p["fd"] for p in points])
        print(f"Spearman rho(W_heldout, FD) over {len(points)} checkpoints: {rho:.3f}")
    if a.json:
        try:
            with open(a.json, "w") as f:
                json.dump({"lesson": a.lesson, "n": a.n, "points": points}, f, indent=1)
        except OSError as exc:
            raise SystemExit(f"error: cannot write {a.json} ({exc.strerror})")


if __name__ == "__main__":
    main()
