"""Draw the pictures of the README and the docs pages from the lessons' own runs.

    python scripts/figures.py runs                     # writes docs/images/
    python scripts/figures.py runs --out /tmp/images
    python scripts/figures.py runs --readme README.md   # and the README's gallery section

RUNS_DIR is the folder the lessons wrote into (`python lessons/02_dcgan.py` writes
runs/02_dcgan/); each run folder is named like its row of docs/results.json. For every
finished run (one with a metrics.json) it writes, into OUT:

  <row>.png          the lesson's picture: the first 100 of its 10,000 final samples
                     (samples.npz) as a 10 x 10 grid, one row per digit for the conditional
                     lessons (04, 05); lesson 03: the critic's W estimate on held-out digits
                     against the Frechet distance, one point per checkpoint; lesson 06: the
                     histogram of ||grad D(x_hat)|| at a few epochs; lesson 07: ten test
                     digits per direction, rows input / translation / cycled back / truth
  <row>_samples.png  lessons 03 and 06: their sample grid
  <row>_<name>.png   the curves a run records: every measurement kept in its checkpoint
                     (lesson 03's W and FD per checkpoint, the validation Parzen of the
                     --arch paper runs of 01 and 04, lesson 07's label preservation and
                     pixel errors per step) and a few training histories (03 and 06: the W
                     estimate per G step; 05: the class head's accuracy)
  <row>_scores.png   FD, score (label accuracy, held-out W) of the run's checkpoints against
                     the epoch, where the run folder holds the scores.json that
                     `scripts/score_checkpoints.py ... --json RUN/scores.json` writes
  <name>.png         an ablation as curves (COMPARISONS): the same measurement of a few runs
                     that differ in one setting, one line each, against the epoch; drawn
                     when all its runs are there
  08_latent_space_<name>.png  lesson 08's own pictures (walks, saliency, arithmetic grids)
  02_dcgan_epochs.gif  lesson 02's fixed-z grid at the end of every epoch (epoch_*.png)
  gallery.md         the README's "What each lesson draws" section (paths relative to OUT)

and prints that section with paths relative to the repository root, for README.md. The
numbers under each picture are the run's own (its metrics.json), each tagged with its
docs/results.json row and key as the docs quote them (tests/test_quoted_figures.py); a
run whose numbers differ from its row gets a note on stderr. A missing or unfinished run
is skipped with one line that gives the command that makes it, and its picture, if OUT
holds one from an earlier run, stays in the gallery with the numbers of its docs/results.json
row (runs are not committed, so the gallery can be rebuilt a lesson at a time); an unreadable file stops
the script with one line and exit status 1. Pictures are kept small (PNG <= 150 KB, the
GIF <= 1 MB) so they can be committed.
"""
import argparse
import glob
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from minigan import plot  # noqa: E402  (chooses matplotlib's Agg backend)
from minigan.train import OneLineParser, load_checkpoint  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import PillowWriter  # noqa: E402
from PIL import Image  # noqa: E402  (Pillow comes with matplotlib)

PNG_LIMIT = 150_000              # bytes
GIF_LIMIT = 1_000_000
RESULTS = os.path.join(ROOT, "docs", "results.json")

# row (run folder) -> the lesson, its flags, the README's name, the paper, the picture
ROWS = {
    "01_gan": ("01_gan", [], "01 GAN", "Goodfellow et al. 2014", "samples"),
    "01_gan-arch-paper": ("01_gan", ["--arch", "paper"], "01 GAN, the paper's nets", "Goodfellow et al. 2014",
                          "samples"),
    # 25 more epochs at the schedule of epoch ~1,500 (lr 0.005, momentum 0.7)
    "01_gan-arch-paper-continued": ("01_gan", ["--arch", "paper", "--epochs", "175", "--schedule-shift", "1350",
                                               "--resume", "runs/01_gan-arch-paper/checkpoint.npz"],
                                    "01 GAN, the paper's nets, continued", "Goodfellow et al. 2014", "samples"),
    "02_dcgan": ("02_dcgan", [], "02 DCGAN", "Radford et al. 2015", "samples"),
    "03_wgan": ("03_wgan", [], "03 WGAN", "Arjovsky et al. 2017", "w_vs_fd"),
    "04_cgan": ("04_cgan", [], "04 Conditional GAN", "Mirza & Osindero 2014", "by_label"),
    "04_cgan-arch-paper": ("04_cgan", ["--arch", "paper"], "04 Conditional GAN, the paper's MLP",
                           "Mirza & Osindero 2014", "by_label"),
    "05_acgan": ("05_acgan", [], "05 AC-GAN", "Odena et al. 2017", "by_label"),
    "06_wgan_gp": ("06_wgan_gp", [], "06 WGAN-GP", "Gulrajani et al. 2017", "grad_norms"),
    "07_cyclegan": ("07_cyclegan", [], "07 CycleGAN", "Zhu et al. 2017", "translations"),
    "08_latent_space": ("08_latent_space", [], "08 What a DCGAN learned", "Radford et al. 2015", "walks"),
    "09_semi_supervised": ("09_semi_supervised", [], "09 Semi-supervised GAN", "Salimans et al. 2016",
                           "samples"),
}
# the gallery's rows, one a lesson; a row's picture may come from the run of another row of
# the same command (ALTERNATIVES) where the default folder has none: <row>-threads-1, the
# default command on one BLAS thread (the results row of that name says so)
ALTERNATIVES = {row: [f"{row}-threads-1"] for row in ("01_gan", "02_dcgan", "03_wgan", "04_cgan", "05_acgan",
                                                      "06_wgan_gp", "07_cyclegan")}
STAND_INS = {r for rows in ALTERNATIVES.values() for r in rows}
FOLLOW_UPS = {"01_gan-arch-paper-continued"}     # runs that continue another row's run
DEFAULT_ROW = {stand_in: row for row, stand_ins in ALTERNATIVES.items() for stand_in in stand_ins}
ROWS.update({stand_in: ROWS[row] for stand_in, row in DEFAULT_ROW.items()})


def runs_of(row):
    """The rows whose run can draw `row`'s gallery picture, the default first."""
    return [row, *ALTERNATIVES.get(row, [])]
# ablations drawn as curves: picture name -> (title, [(row, its line's label), ...]); each
# run's curves come from its scores.json (score_checkpoints.py --json) and its checkpoint's
# measurements, the keys all its runs have
COMPARISONS = {
    "02_dcgan_g_lr": ("02 DCGAN: G's Adam rate (D's stays 2e-4)",
                      [("02_dcgan-g-lr-1e-3", "1e-3 (default)"), ("02_dcgan-g-lr-2e-4", "2e-4 (D's)"),
                       ("02_dcgan-g-lr-2e-4-g-steps-2-epochs-10", "2e-4, two G steps per D step")]),
    "03_wgan_learning_rate": ("03 WGAN: RMSprop's rate, 30 epochs",
                              [("03_wgan-epochs-30", "5e-5 (default)"), ("03_wgan-lr-2e-4-epochs-30", "2e-4")]),
    "05_acgan_class_loss": ("05 ACGAN: D's class loss on the real digits, or on real and fake",
                            [("05_acgan-threads-1", "real (default)"),
                             ("05_acgan-class-loss-on-both-epochs-9", "both (the paper's L_C)")]),
    "06_wgan_gp_learning_rate": ("06 WGAN-GP: Adam's rate",
                                 [("06_wgan_gp-threads-1", "6e-4, decayed over the second half (default)"),
                                  ("06_wgan_gp-lr-1e-4-decay-from-1-epochs-12", "1e-4, constant (the authors')")]),
    "07_cyclegan_patch": ("07 CycleGAN: the side of the patch each discriminator score judges",
                          [("07_cyclegan-threads-1", "26 (default)"), ("07_cyclegan-patch-12", "12")]),
}
GALLERY = ["01_gan", "02_dcgan", "03_wgan", "04_cgan", "05_acgan", "06_wgan_gp", "07_cyclegan",
           "08_latent_space", "09_semi_supervised"]
WHAT = {   # what the gallery picture shows
    "samples": "100 samples of the final G",
    "by_label": "100 samples of the final G, row k asked for digit k",
    "w_vs_fd": "the critic's W estimate on held-out digits against the Fréchet distance, one point per "
               "checkpoint",
    "grad_norms": "the critic's gradient norm on the interpolates at a few epochs (the penalty pulls it to 1)",
    "walks": "lesson 02's G along ten great circles (slerp) between two random z, one walk a row",
    "translations": "ten test digits per direction; rows: input, translation, cycled back, truth (A → B, then "
                    "B → A)",
}
# lesson 08's own pictures, copied for its docs page
LESSON_PICTURES = ["walk_linear", "walk_slerp", "saliency", "arith_dcgan_ink", "arith_dcgan_slant",
                   "arith_cgan_ink", "arith_cgan_slant"]
HISTORIES = {"02_dcgan": ["d_loss", "g_loss"], "03_wgan": ["w_estimate"], "05_acgan": ["acc_real", "acc_fake"], "06_wgan_gp": ["w_estimate"]}
# a recorded value's panel title, and its line's name where several share a panel
LABELS = {"fd": ("Fréchet distance", None), "score": ("inception-style score", None),
          "label_accuracy": ("label accuracy (%)", None), "w_heldout": ("W estimate on held-out digits", None),
          "valid_parzen": ("validation Parzen log-likelihood", None),
          "label_preservation": ("label preservation B → A (%)", None),
          "ratio_ab": ("error / best per-pixel map", "A → B"),
          "ratio_ba": ("error / best per-pixel map", "B → A"),
          "w_estimate": ("W estimate on the training batch", None),
          "acc_real": ("class head accuracy on the batch", "real"),
          "acc_fake": ("class head accuracy on the batch", "fake"),
          "d_loss": ("loss on the batch", "D"), "g_loss": ("loss on the batch", "G"),
          "test_error": ("test error on the 10,000 test digits (%)", "D_avg"),
          "test_error_raw": ("test error on the 10,000 test digits (%)", "D itself")}
PERCENT = {"label_preservation", "test_error", "test_error_raw", "label_accuracy"}
SKIPPED_KEYS = {"epoch", "step", "sigma"}


class Unreadable(Exception):
    """A file of a run that cannot be read: the script stops with one line."""


def command(row, runs):
    lesson, flags, *_ = ROWS[row]
    return " ".join(["python", f"lessons/{lesson}.py", *flags, "--out", os.path.join(runs, row)])


# ------------------------------------------------------------------------ reading a run


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise Unreadable(f"{path} is not readable JSON ({type(exc).__name__})") from None


def read_npz(path, required, optional=()):
    """The arrays `required` (all of them) and `optional` (those there) of an .npz file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in required if k not in f.files]
            arrays = {k: f[k] for k in (*required, *optional) if k in f.files}
    except FileNotFoundError:
        raise Unreadable(f"{path} is missing") from None
    except Exception as exc:
        raise Unreadable(f"{path} is not a readable .npz file ({type(exc).__name__})") from None
    if missing:
        raise Unreadable(f"{path} has no {', '.join(missing)}")
    return arrays


def read_checkpoint(run_dir):
    """(arrays, meta) of the run's checkpoint, or None where it has none."""
    path = os.path.join(run_dir, "checkpoint.npz")
    if not os.path.exists(path):
        return None
    try:
        return load_checkpoint(path)
    except ValueError as exc:
        raise Unreadable(str(exc)) from None


def read_png(path):
    try:
        return plt.imread(path)
    except Exception as exc:
        raise Unreadable(f"{path} is not a readable PNG ({type(exc).__name__})") from None


# ----------------------------------------------------------------------- writing images


def save_grid(images, path, nrow=10):
    """minigan.plot's grid (black borders, dark strokes on white, as in the lessons' own
    epoch_*.png), one grid pixel as 2 x 2 screen pixels, grayscale; 1 x 1 if 2 x 2 is over
    the size limit."""
    grid = plot.image_grid(np.clip(images, 0, 1), nrow)
    pixels = np.round(255 * (1 - grid)).astype(np.uint8)
    for scale in (2, 1):
        Image.fromarray(np.kron(pixels, np.ones((scale, scale), np.uint8)), "L").save(path, optimize=True)
        if os.path.getsize(path) <= PNG_LIMIT:
            break
    return path


def save_figure(fig, path):
    """fig at 150 dpi, or at a lower one where the PNG would be over the size limit."""
    for dpi in (150, 110, 80, 60):
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        if os.path.getsize(path) <= PNG_LIMIT:
            break
    plt.close(fig)
    return path


def by_label(images, labels, per_row=10, classes=10):
    """The first `per_row` samples of each label, label k in row k (blank where a label has
    fewer samples)."""
    rows = []
    for k in range(classes):
        picked = images[np.flatnonzero(labels == k)[:per_row]]
        blank = np.zeros((per_row - len(picked), *images.shape[1:]), images.dtype)
        rows.append(np.concatenate([picked, blank]))
    return np.concatenate(rows)


def running_mean(values, k):
    k = max(1, min(k, len(values) // 5 or 1))
    return np.convolve(values, np.ones(k) / k, mode="valid"), k


# ---------------------------------------------------------------------- the pictures


def w_vs_fd_plot(row, points, path):
    """Lesson 03: W on held-out digits (x) against FD (y), one point per checkpoint."""
    epochs = np.array([p[0] for p in points["w_heldout"]])
    w = np.array([p[1] for p in points["w_heldout"]])
    fd = np.array([p[1] for p in points["fd"]])
    fig, ax = plt.subplots(figsize=(4.2, 3.2), layout="constrained")
    ax.plot(w, fd, color="0.7", linewidth=0.8, zorder=1)
    dots = ax.scatter(w, fd, c=epochs, cmap="viridis", s=16, zorder=2)
    bar = fig.colorbar(dots, ax=ax)
    bar.set_label("epoch", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if fd.min() > 0 and fd.max() > 10 * fd.min():
        ax.set_yscale("log")
    if w.min() > 0 and w.max() > 10 * w.min():        # the first checkpoint's W dwarfs the rest
        ax.set_xscale("log")
    ax.set_xlabel("W estimate on held-out test digits", fontsize=8)
    ax.set_ylabel("Fréchet distance to the test set", fontsize=8)
    rho = points.get("rho")
    ax.set_title(f"{ROWS[row][2]}" + ("" if rho is None else f": Spearman ρ(W, FD) = {rho:.2f}"), fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, which="both")
    return save_figure(fig, path)


def grad_norms_plot(row, points, path):
    """Lesson 06: histograms of ||grad D(x_hat)|| at up to four epochs, evenly spread."""
    shown = sorted({int(round(i)) for i in np.linspace(0, len(points) - 1, min(4, len(points)))})
    values = np.concatenate([np.asarray(points[i]["norms"], float) for i in shown])
    bins = np.linspace(min(values.min(), 0.9), max(values.max(), 1.1), 31)
    fig, ax = plt.subplots(figsize=(4.2, 3.2), layout="constrained")
    for i in shown:
        ax.hist(points[i]["norms"], bins=bins, alpha=0.5, label=f"epoch {points[i]['epoch']}")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel(r"$\|\nabla_{\hat x} D(\hat x)\|$, one per interpolate of a batch", fontsize=8)
    ax.set_ylabel("interpolates", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title(f"{ROWS[row][2]}: the critic's gradient norm", fontsize=9)
    return save_figure(fig, path)


def curve_plot(row, name, series, xlabel, path, smooth=False, best=None):
    """series {key: [(x, y), ...]}: one panel per LABELS title, side by side, the keys that
    share a title as named lines in one panel. smooth: a running mean over 50 points on top
    of the raw values (grey). best: the key whose highest point is marked (the kept G)."""
    panels = {}
    for key, points in series.items():
        title, line = LABELS.get(key, (key, None))
        panels.setdefault(title, []).append((key, line, points))
    return panels_plot(panels, xlabel, f"{ROWS[row][2]}: {name}", path, smooth, best)


def panels_plot(panels, xlabel, suptitle, path, smooth=False, best=None):
    """panels {title: [(key, line label or None, [(x, y), ...]), ...]}, side by side."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 2.8), layout="constrained",
                             squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels.items()):
        values = np.concatenate([np.asarray([p[1] for p in points], float) for _, _, points in lines])
        if not smooth and values.min() > 0 and values.max() > 30 * values.min():
            ax.set_yscale("log")                          # e.g. lesson 03's W: 9.6, then ~0.05
        smoothed = False
        for key, line, points in lines:
            x, y = (np.asarray(v, float) for v in zip(*sorted(points)))
            if key in PERCENT:
                y = 100 * y
            if smooth and len(y) > 10:
                ax.plot(x, y, color="0.85", linewidth=0.5, zorder=1)     # under every line
                y, k = running_mean(y, 50)
                x, smoothed = x[k - 1:], True
            ax.plot(x, y, marker="o" if len(x) <= 40 else None, markersize=3, linewidth=1, label=line, zorder=2)
            if key == best:
                i = int(np.argmax(y))
                ax.plot(x[i], y[i], "*", color="tab:red", markersize=9, label="kept G")
        if any(line for _, line, _ in lines) or best in {key for key, _, _ in lines}:
            ax.legend(fontsize=7)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_title(title + (" (running mean)" if smoothed else ""), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(suptitle, fontsize=9)
    return save_figure(fig, path)


def translations_grid(run_dir, checkpoint, path, n=10):
    """Lesson 07: the first n test digits of each direction from translations.npz; the
    cycled-back rows from the checkpoint's generators (the lesson's own grid shows the same
    four rows). Without a checkpoint, three rows per direction."""
    keys = ["a", "a_to_b", "a_to_b_truth", "b", "b_to_a", "b_to_a_truth"]
    t = read_npz(os.path.join(run_dir, "translations.npz"), keys)
    cycles = {"a": None, "b": None}
    if checkpoint is not None:
        from minigan.layers import Parts
        from minigan.models import resnet_generator
        arrays, meta = checkpoint
        args = meta["args"]
        G = Parts(ab=resnet_generator(args["channels"], args["residual_blocks"]),
                  ba=resnet_generator(args["channels"], args["residual_blocks"]))
        try:
            G.load_state_dict({k[len("model/G/"):]: v for k, v in arrays.items() if k.startswith("model/G/")})
        except ValueError as exc:
            raise Unreadable(f"{os.path.join(run_dir, 'checkpoint.npz')}: {exc}") from None
        for side, back in (("a", G.ba), ("b", G.ab)):
            there = t[f"{side}_to_{'b' if side == 'a' else 'a'}"][:n, None].astype(np.float32)
            cycles[side] = (back.forward(2 * there - 1, train=False)[0][:, 0] + 1) / 2
    rows = []
    for side, other in (("a", "b"), ("b", "a")):
        rows += [t[side][:n], t[f"{side}_to_{other}"][:n]]
        if cycles[side] is not None:
            rows.append(cycles[side])
        rows.append(t[f"{side}_to_{other}_truth"][:n])
    return save_grid(np.concatenate(rows), path, nrow=n)


def lesson_pictures(row, run_dir, out, names):
    """The pictures a lesson drew itself (its own titles on them), as <row>_<name>.png in
    OUT: copied, or shrunk by halves where one is over the size limit."""
    written = []
    for name in names:
        source = os.path.join(run_dir, f"{name}.png")
        if not os.path.exists(source):
            continue
        path = os.path.join(out, f"{row}_{name}.png")
        try:
            with Image.open(source) as opened:
                image = opened.convert("L")
        except Exception as exc:                                  # unreadable: one line, exit 1
            raise Unreadable(f"{source} is not a readable PNG ({type(exc).__name__})") from None
        while True:
            image.save(path, optimize=True)
            if os.path.getsize(path) <= PNG_LIMIT or min(image.size) < 64:
                break
            image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
        written.append(path)
    return written


def walks_grid(run_dir, path):
    """Lesson 08's slerp walks (walks.npz): one walk a row, its frames left to right."""
    walks = read_npz(os.path.join(run_dir, "walks.npz"), ["slerp"])["slerp"]
    if walks.ndim != 4 or walks.shape[2:] != (28, 28):
        raise Unreadable(f"{os.path.join(run_dir, 'walks.npz')}: walks of shape {walks.shape}, "
                         "not (walks, frames, 28, 28)")
    return save_grid(walks.reshape(-1, 28, 28), path, nrow=walks.shape[1])


def epochs_gif(run_dir, path, fps=2):
    """Lesson 02's fixed-z grid after each epoch (the lesson's epoch_*.png, titled with the
    epoch), one frame each, in 32 grey levels (the grids are grey; few levels keep the GIF
    small), at the frames' own size or smaller where the GIF would be over 1 MB."""
    files = sorted(glob.glob(os.path.join(run_dir, "epoch_*.png")))
    if not files:
        return None
    frames = [np.round(31 * read_png(f)[..., :3].mean(axis=2)) / 31 for f in files]
    h, w = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
    frames = [np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1])), constant_values=1) for f in frames]
    for scale in (1.0, 0.8, 0.6, 0.45):
        dpi = 100 * scale
        fig = plt.figure(figsize=(w / 100, h / 100))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.axis("off")
        shown = ax.imshow(frames[0], cmap="gray", vmin=0, vmax=1,
                          interpolation="antialiased" if scale < 1 else "nearest")
        writer = PillowWriter(fps=fps)
        with writer.saving(fig, path, dpi):
            for frame in frames:
                shown.set_data(frame)
                writer.grab_frame()
        plt.close(fig)
        if os.path.getsize(path) <= GIF_LIMIT:
            break
    return path


# ---------------------------------------------------------------- the numbers, tagged


def quotes(m):
    """[(label, text, key), ...]: the run's headline numbers as the docs write them, each
    with its docs/results.json key (tests/test_quoted_figures.py)."""
    out = []
    if "frechet_distance" in m:
        out.append(("FD", f"{m['frechet_distance']:.2f}", "fd"))
    if "inception_score" in m:
        out.append(("score", f"{m['inception_score']:.2f}", "score"))
    if "label_accuracy" in m:
        out.append(("label accuracy", f"{100 * m['label_accuracy']:.1f}", "acc", "%"))
    elif "min_class_share" in m:
        shares = f"{100 * m['min_class_share']:.1f}-{100 * m['max_class_share']:.1f}"
        out.append(("classes", shares, "classes", "%"))
    if "within_class_diversity" in m:
        out.append(("diversity", f"{m['within_class_diversity']:.2f}", "diversity"))
    if m.get("spearman_w_fd") is not None:
        out.append(("Spearman ρ(W, FD)", f"{m['spearman_w_fd']:.2f}", "rho"))
    if "parzen_ll" in m:
        out.append(("Parzen", f"{m['parzen_ll']:.0f} ± {m['parzen_se']:.1f}", "parzen"))
    for n in (1000, 100):
        if f"probe_trained_{n}_mean" in m:
            out.append((f"D's features, {n:,} labels: test error", f"{m[f'probe_trained_{n}_mean']:.2f}",
                        f"probe_trained_{n}_mean", "%"))
    if "walk_slerp_label_changes" in m:
        out.append(("label changes a walk", f"{m['walk_slerp_label_changes']:.1f}", "walk_slerp_label_changes"))
    if "test_error" in m:
        out.append(("test error", f"{100 * m['test_error']:.2f}", "error", "%"))
    if "label_preservation" in m:
        out.append(("label preservation", f"{100 * m['label_preservation']:.1f}", "preservation", "%"))
    for direction, key in (("a_to_b", "ab_map"), ("b_to_a", "ba_map")):
        if isinstance(m.get(direction), dict) and "ratio_to_best_pixel_map" in m[direction]:
            name = direction.replace("_to_", " → ").upper()
            out.append((f"{name} error", f"{m[direction]['ratio_to_best_pixel_map']:.2f}", key,
                        " × the best pixel map"))
    if isinstance(m.get("epochs"), int):
        out.append(("", str(m["epochs"]), "epochs", " epochs"))
        if m.get("seconds_per_epoch"):
            device = "the CPU" if m.get("device") == "cpu" else "a GPU"
            minutes = m["epochs"] * m["seconds_per_epoch"] / 60
            shared = " (timed on one thread: see the results' notes)" if m.get("timing_note") else ""
            out.append(("", f"{minutes:.0f}", "minutes", f" min on {device}{shared}"))
    return [q if len(q) == 4 else (*q, "") for q in out]


def two_thread_row(row, results):
    """The default row a one-thread stand-in's caption takes its time from: the same command
    timed alone on the machine's two cores, as a student runs it (None if there is none)."""
    default, mine = results.get(DEFAULT_ROW.get(row), {}), results.get(row, {})
    if default.get("seconds_per_epoch") and not default.get("timing_note") and \
            default.get("device") == mine.get("device") and default.get("epochs") == mine.get("epochs"):
        return DEFAULT_ROW[row]
    return None


def caption(row, m, results_md, results=None):
    """The run's quoted numbers, each tagged; a stand-in's time is its default row's."""
    timed = two_thread_row(row, results or {})
    parts = []
    for label, text, key, unit in quotes(m):
        tag = f'[{text}]({results_md} "{row} {key}"){unit}'
        if key == "minutes" and timed:
            d = results[timed]
            minutes = d["epochs"] * d["seconds_per_epoch"] / 60
            tag = f'[{minutes:.0f}]({results_md} "{timed} minutes") min on the CPU (two threads)'
        parts.append(f"{label} {tag}" if label else tag)
    return " · ".join(parts) if parts else "(no metrics in metrics.json)"


def differences(row, m, results):
    """The quoted numbers of this run that its docs/results.json row would write otherwise."""
    if row not in results:
        return [f"no row {row} in docs/results.json"]
    theirs = {key: text for _, text, key, _ in quotes(results[row])}
    return [f"{key} {text} (results: {theirs.get(key, 'none')})"
            for _, text, key, _ in quotes(m) if theirs.get(key) != text]


def gallery_markdown(made, metrics, out, base, results=None):
    """The README section, with paths relative to the folder `base` (the repository root
    for README.md, OUT for gallery.md)."""
    results_md = os.path.relpath(os.path.join(ROOT, "docs", "results.md"), base)
    lines = ["## What each lesson draws", "",
             "Each picture comes from a run of the lesson's default command (where its row says so, run on "
             "one BLAS thread: its `-threads-1` row, the same recipe rounded differently); "
             "`python scripts/figures.py runs` draws them all from the runs' own files. Under it, that run's "
             f"numbers as in [the results]({results_md}), and the time the default command takes on two "
             "threads where that was measured (what each number measures: "
             f"[the metrics page]({os.path.relpath(os.path.join(ROOT, 'docs', 'metrics.md'), base)})).", ""]
    gif = os.path.join(out, "02_dcgan_epochs.gif")
    if any(row in made for row in runs_of("02_dcgan")) and os.path.exists(gif):
        lines += [f'<img src="{os.path.relpath(gif, base)}" width="300" alt="lesson 02: the same 100 z '
                  'after each epoch"><br>How a GAN learns: lesson 02\'s generator on the same 100 noise '
                  "vectors at the end of each epoch.", ""]
    drawn = {row: [r for r in runs_of(row) if r in made] for row in GALLERY}
    rows = [found[0] for found in drawn.values() if found]
    lines += ["| lesson | what it draws, and what it measured |", "|---|---|"] if rows else \
        ["(No finished run to show.)"]
    undrawn = [ROWS[row][2].split()[0] for row, found in drawn.items() if not found]
    for row in rows:
        lesson, flags, name, paper, kind = ROWS[row]
        image = os.path.relpath(made[row], base)
        lines.append(f"| **{name}**<br>{paper}<br>`python lessons/{lesson}.py` "
                     f'| <img src="{image}" width="300" alt="{name}: {WHAT[kind]}"><br>'
                     f"{WHAT[kind][0].upper() + WHAT[kind][1:]}.<br>"
                     f"{caption(row, metrics[row], results_md, results)} |")
    if rows and undrawn:
        lines += ["", f"Lessons {', '.join(undrawn)}: run the lesson (its command is in the lessons table "
                      "above), then `python scripts/figures.py runs` adds its picture here."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- a run


def measured_curves(row, meta, out):
    """Every Measurements of the checkpoint (points with scalar values): one picture each,
    against the epoch (or the step where the points have no epoch)."""
    made = []
    for name, state in sorted(meta.get("extra", {}).items()):
        points = state.get("points") if isinstance(state, dict) else None
        if not points:
            continue
        x = "epoch" if all("epoch" in p for p in points) else "step"
        keys = [k for k, v in points[0].items()
                if k not in SKIPPED_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not keys or not all(x in p for p in points):
            continue
        series = {k: [(p[x], p[k]) for p in points] for k in keys}
        made.append(curve_plot(row, "measured during training", series, x,
                               os.path.join(out, f"{row}_{name}.png"),
                               best="valid_parzen" if name == "selection" else None))
    return made


def scored_curves(row, run_dir, out):
    """The run's scores.json (scripts/score_checkpoints.py --json): FD, score, label
    accuracy and the held-out W (those it holds) of its checkpoints against the epoch."""
    path = os.path.join(run_dir, "scores.json")
    if not os.path.exists(path):
        return []
    scores = read_json(path)
    points = scores.get("points") if isinstance(scores, dict) else None
    if not points or not all(isinstance(p, dict) and "epoch" in p for p in points):
        raise Unreadable(f"{path} has no points with an epoch")
    keys = [k for k in ("fd", "score", "label_accuracy", "w_heldout") if all(k in p for p in points)]
    series = {k: [(p["epoch"], p[k]) for p in points] for k in keys}
    return [curve_plot(row, f"its checkpoints, {scores.get('n', '?'):,} samples each", series, "epoch",
                       os.path.join(out, f"{row}_scores.png"))]


def run_curves(run_dir):
    """({key: [(x, value), ...]}, x) of a finished run, x "epoch" or "step": its scores.json's
    FD, score and label accuracy against the epoch, and its checkpoint's measurements
    (lesson 03's held-out W and FD against the epoch, lesson 07's label preservation and
    error ratios against the step) where scores.json has none of them."""
    series, x = {}, "epoch"
    path = os.path.join(run_dir, "scores.json")
    if os.path.exists(path):
        for p in read_json(path).get("points", []):
            for key in ("fd", "score", "label_accuracy"):
                if key in p:
                    series.setdefault(key, []).append((p["epoch"], p[key]))
    checkpoint = read_checkpoint(run_dir)
    for state in (checkpoint[1].get("extra", {}) if checkpoint else {}).values():
        points = (state.get("points") or []) if isinstance(state, dict) else []
        along = "epoch" if all("epoch" in p for p in points) else "step"
        if not points or not all(along in p for p in points) or (series and along != x):
            continue
        x = along
        for p in points:
            for key in LABELS:
                if key in p and key not in SKIPPED_KEYS and not (key == "fd" and os.path.exists(path)):
                    series.setdefault(key, []).append((p[x], p[key]))
    return series, x


def comparison_plot(name, title, lines, runs, out):
    """One panel per measurement all the runs have, one line per run; None if they share none."""
    read = [(label, *run_curves(os.path.join(runs, row))) for row, label in lines]
    along = {x for _, _, x in read}
    keys = [k for k in LABELS if all(k in c for _, c, _ in read)]
    if not keys or len(along) > 1:
        return None
    panels = {}
    for k in keys:              # ratio_ab and ratio_ba share a title: a panel each, named by direction
        panel = LABELS[k][0] + (f", {LABELS[k][1]}" if LABELS[k][1] else "")
        panels[panel] = [(k, label, c[k]) for label, c, _ in read]
    return panels_plot(panels, along.pop(), title, os.path.join(out, f"{name}.png"))


def history_curves(row, meta, out):
    history = meta.get("history", {})
    series = {k: history[k] for k in HISTORIES.get(DEFAULT_ROW.get(row, row), []) if history.get(k)}
    if not series:
        return []
    g_steps = "w_estimate" in series                  # lessons 03 and 06 count G steps
    return [curve_plot(row, "per G step" if g_steps else "per step", series, "G step" if g_steps else "step",
                       os.path.join(out, f"{row}_history.png"), smooth=True)]


def make_row(row, run_dir, out):
    """Every picture of one finished run; (gallery picture, all written files, metrics)."""
    m = read_json(os.path.join(run_dir, "metrics.json"))
    checkpoint = read_checkpoint(run_dir)
    meta = checkpoint[1] if checkpoint else {}
    kind = ROWS[row][4]
    written = []
    if kind not in ("translations", "walks"):
        s = read_npz(os.path.join(run_dir, "samples.npz"),
                     ["images"] + (["labels"] if kind == "by_label" else []))
        images = s["images"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise Unreadable(f"{os.path.join(run_dir, 'samples.npz')}: images of shape {images.shape}, "
                             "not (N, 28, 28)")
        grid = by_label(images, s["labels"]) if kind == "by_label" else images[:100]
        name = f"{row}.png" if kind in ("samples", "by_label") else f"{row}_samples.png"
        written.append(save_grid(grid, os.path.join(out, name)))
    picture = os.path.join(out, f"{row}.png")
    if kind == "w_vs_fd":
        if "w_heldout" in m and "fd_curve" in m:
            points = {"w_heldout": m["w_heldout"], "fd": m["fd_curve"], "rho": m.get("spearman_w_fd")}
        else:
            measured = meta.get("extra", {}).get("measured", {}).get("points", [])
            points = {"w_heldout": [(p["epoch"], p["w_heldout"]) for p in measured],
                      "fd": [(p["epoch"], p["fd"]) for p in measured], "rho": None}
        picture = w_vs_fd_plot(row, points, picture) if points["w_heldout"] else None
    elif kind == "grad_norms":
        norms = meta.get("extra", {}).get("norms", {}).get("points", [])
        picture = grad_norms_plot(row, norms, picture) if norms else None
    elif kind == "translations":
        picture = translations_grid(run_dir, checkpoint, picture)
    elif kind == "walks":
        picture = walks_grid(run_dir, picture)
        written += lesson_pictures(row, run_dir, out, LESSON_PICTURES)
    if picture and picture not in written:
        written.append(picture)
    written += scored_curves(row, run_dir, out)
    if meta:
        written += measured_curves(row, meta, out)
        written += history_curves(row, meta, out)
    if row in runs_of("02_dcgan"):
        gif = epochs_gif(run_dir, os.path.join(out, "02_dcgan_epochs.gif"))
        if gif:
            written.append(gif)
    return picture, written, m


def main(argv=None):
    p = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", metavar="RUNS_DIR", help="the folder of the run folders (e.g. runs)")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "images"),
                   help="where the pictures go (default: docs/images)")
    p.add_argument("--readme", metavar="PATH",
                   help="also write the section into this README (e.g. README.md), in place of its "
                        "section that starts with the same heading, up to the next 'Measured results' "
                        "line or '## ' heading")
    args = p.parse_args(argv)
    if not os.path.isdir(args.runs):
        print(f"error: no folder {args.runs}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    results = read_json(RESULTS) if os.path.exists(RESULTS) else {}
    made, metrics = {}, {}
    try:
        for row in ROWS:
            run_dir = os.path.join(args.runs, row)
            if not os.path.isdir(run_dir) and row in STAND_INS | FOLLOW_UPS:
                continue                                  # optional: a stand-in or a follow-up
            if not os.path.isdir(run_dir):
                print(f"skipped {row}: no {run_dir}; `{command(row, args.runs)}` makes it", file=sys.stderr)
                continue
            if not os.path.exists(os.path.join(run_dir, "metrics.json")):
                print(f"skipped {row}: {run_dir} has no metrics.json (the run has not finished); "
                      f"`{command(row, args.runs)}` makes it", file=sys.stderr)
                continue
            picture, written, m = make_row(row, run_dir, args.out)
            if results.get(row, {}).get("timing_note"):      # how its row says the run was timed
                m = {**m, "timing_note": results[row]["timing_note"]}
            if picture:
                made[row], metrics[row] = picture, m
            for path in written:
                print(f"wrote {path} ({os.path.getsize(path) / 1000:.0f} KB)", file=sys.stderr)
            diff = differences(row, m, results)
            if diff:
                print(f"note: {row}'s numbers are not docs/results.json's: {'; '.join(diff)} "
                      "(python scripts/results.py --collect records them)", file=sys.stderr)
        for name, (title, lines) in COMPARISONS.items():
            if all(os.path.exists(os.path.join(args.runs, row, "metrics.json")) for row, _ in lines):
                path = comparison_plot(name, title, lines, args.runs, args.out)
                if path:
                    print(f"wrote {path} ({os.path.getsize(path) / 1000:.0f} KB)", file=sys.stderr)
    except Unreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for row in GALLERY + sorted(STAND_INS):                 # drawn from an earlier run:
        earlier = os.path.join(args.out, f"{row}.png")                  # kept, with its row's numbers
        if row not in made and row in results and os.path.exists(earlier):
            made[row], metrics[row] = earlier, results[row]
            print(f"kept {earlier} (drawn from an earlier run; numbers from docs/results.json)", file=sys.stderr)
    with open(os.path.join(args.out, "gallery.md"), "w") as f:
        f.write(gallery_markdown(made, metrics, args.out, args.out, results))
    section = gallery_markdown(made, metrics, args.out, ROOT, results)
    print(section, end="")
    if args.readme:
        return write_readme(args.readme, section)
    return 0


def write_readme(path, section):
    """Replace the README's gallery section (its heading up to the next 'Measured results'
    paragraph or '## ' heading) with `section`; 1 with one line where it has none."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        print(f"error: cannot read {path} ({exc.strerror})", file=sys.stderr)
        return 1
    heading = section.splitlines()[0] + "\n"
    if heading not in text:
        print(f"error: {path} has no line {heading.strip()!r} to replace", file=sys.stderr)
        return 1
    start = text.index(heading)
    ends = [i for i in (text.find("\n**Measured results**", start), text.find("\n## ", start + 1)) if i >= 0]
    end = min(ends) + 1 if ends else len(text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:start] + section + "\n" + text[end:])
    print(f"wrote the section into {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
