"""Write docs/results.md: every lesson's metrics at its default settings.

    python scripts/results.py                  # train every lesson (defaults), then write the table
    python scripts/results.py --collect        # only collect runs/<lesson>/metrics.json
    python scripts/results.py --markdown       # only rewrite docs/results.md from docs/results.json
    python scripts/results.py --lessons 02_dcgan --device gpu

Each lesson runs as a new user would run it (`python lessons/<lesson>.py`, plus --device
and --out) and writes runs/<lesson>[-gpu]/metrics.json. Its numbers go into
docs/results.json, one row per run folder, and the table docs/results.md is written from
that file. Runs are not committed, so a row stays until a new run of the same folder
replaces it (or --drop removes it): a fresh checkout that re-runs one lesson keeps every
other lesson's row. CPU and GPU rows sit side by side.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "docs", "results.json")
FIELDS = ("lesson", "device", "epochs", "seconds_per_epoch", "frechet_distance", "inception_score",
          "min_class_share", "max_class_share", "label_accuracy", "parzen_ll", "parzen_se", "command",
          "within_class_spread", "within_class_spread_real", "within_class_diversity",
          "within_class_diversity_per_class", "spearman_w_fd", "w_heldout", "blas_env",
          "label_preservation", "a_to_b", "b_to_a", "labels", "supervised_only", "average", "test_error",
          "test_error_raw", "timing_note")
# lesson 08's read-outs that the table shows (every probe_*_mean/_std, walk_*, guided_*, arith_*)
READOUTS = ("probe_", "walk_", "arith_", "guided_")
# lesson -> extra flags of the rows the table records (its default run first)
LESSONS = {
    "01_gan": [[], ["--arch", "paper"], ["--arch", "paper", "--noise", "gaussian"]],
    "02_dcgan": [[], ["--arch", "small"]],
    "03_wgan": [[]],
    "04_cgan": [[], ["--arch", "paper"]],
    "05_acgan": [[]],
    "06_wgan_gp": [[], ["--arch", "mlp"]],
    "07_cyclegan": [[]],
    "08_latent_space": [[]],
    "09_semi_supervised": [[], ["--supervised-only"]] + [["--labels", n, "--epochs", "10", "--no-eval"]
                                                         for n in ("20", "50", "200", "1000")],
}


def out_dir(lesson, flags, device):
    tag = "-".join(f.lstrip("-") for f in flags)
    return os.path.join(ROOT, "runs", lesson + (f"-{tag}" if tag else "") + ("-gpu" if device == "gpu" else ""))


def run_lessons(lessons, device):
    for lesson in lessons:
        script = os.path.join(ROOT, "lessons", f"{lesson}.py")
        if not os.path.exists(script):
            print(f"skipping {lesson}: no lesson file yet")
            continue
        for flags in LESSONS[lesson]:
            cmd = [sys.executable, script, *flags, "--device", device, "--out", out_dir(lesson, flags, device)]
            print("$", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT)


def reference():
    """10,000 MNIST training images measured as if they were samples: the ceiling to compare
    with. (Not the validation images: Parzen's sigma is chosen on those, and samples equal to
    the validation set would pick the narrowest window.)"""
    sys.path.insert(0, ROOT)
    from minigan import metrics
    from minigan.data import load_mnist
    x, y = load_mnist("train")
    m = metrics.evaluate(x[:10000, 0], y[:10000])
    m.update(lesson="real MNIST (10k train images)", device="-", epochs="-", seconds_per_epoch=0,
             command="python scripts/results.py --collect")
    os.makedirs(os.path.join(ROOT, "runs", "zz-reference"), exist_ok=True)
    with open(os.path.join(ROOT, "runs", "zz-reference", "metrics.json"), "w") as f:
        json.dump(m, f, indent=2)


def minutes(m):
    """A row's training time, epochs x the median epoch, in whole minutes ("-" if unknown)."""
    return f"{m['epochs'] * m['seconds_per_epoch'] / 60:.0f}" if m["seconds_per_epoch"] else "-"


def pct(x):
    return f"{100 * x:.1f}" if x is not None else "-"


def is_readout(key, value):
    """Lesson 08's numbers that a row keeps: scalars of its sections, not per-subset lists."""
    return key.startswith(READOUTS) and isinstance(value, (int, float)) and not isinstance(value, bool)


def collect(drop=(), timing_note=None):
    """docs/results.json, updated with every runs/<name>/metrics.json that has metrics.
    timing_note: a sentence on how the collected runs were timed, kept in their rows when
    it was not the reference machine's way (see notes())."""
    rows = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            rows = json.load(f)
    for path in sorted(glob.glob(os.path.join(ROOT, "runs", "*", "metrics.json"))):
        with open(path) as f:
            m = json.load(f)
        if not any(k in m for k in ("inception_score", "label_preservation", "test_error")) and \
                not any(is_readout(k, v) for k, v in m.items()):
            continue                          # a run that measured nothing a row shows
        runs = os.path.realpath(os.path.join(ROOT, "runs"))             # runs/ may be a link
        m["command"] = m["command"].replace(runs + os.sep, "runs" + os.sep).replace(ROOT + os.sep, "")
        if timing_note and m.get("seconds_per_epoch"):                    # a timed run, not the ceiling
            m["timing_note"] = timing_note
        row = {k: m[k] for k in FIELDS if k in m}
        row.update({k: v for k, v in m.items() if is_readout(k, v)})
        rows[os.path.basename(os.path.dirname(path))] = row
    for name in drop:
        if rows.pop(name, None) is None:
            sys.exit(f"--drop {name}: no such row in {RESULTS} (rows: {', '.join(sorted(rows))})")
    with open(RESULTS, "w") as f:
        json.dump(rows, f, indent=2, sort_keys=True)
        f.write("\n")
    return rows


def table(rows, test_accuracy=None):
    lines = []
    for name in sorted(rows):
        m = rows[name]
        if "inception_score" not in m:                       # 07, 08, 09's control: their own tables
            continue
        lines.append("| {lesson} | {device} | {epochs} | {sec:.0f} | {mins} | {fd:.2f} | {is_:.2f} | {lo}-{hi} | {acc} | {pz} | `{cmd}` |".format(
            lesson=m["lesson"], device=m["device"], epochs=m["epochs"], sec=m["seconds_per_epoch"] or 0,
            mins=minutes(m),
            fd=m["frechet_distance"], is_=m["inception_score"], lo=pct(m["min_class_share"]),
            hi=pct(m["max_class_share"]), acc=pct(m.get("label_accuracy")),
            pz=(f"{m['parzen_ll']:.0f} ± {m['parzen_se']:.1f}" if "parzen_ll" in m else "-"), cmd=m["command"]))
    head = ("| lesson | device | epochs | s/epoch | min | Fréchet dist. ↓ | incep. score ↑ | class share % (min-max) "
            "| label acc. % | Parzen LL ↑ | command |\n|---|---|---|---|---|---|---|---|---|---|---|")
    return (head + "\n" + "\n".join(lines) + "\n" + notes(rows, test_accuracy) + translation_table(rows)
            + semi_supervised_table(rows) + readout_table(rows))


# The paper's MNIST results (Salimans et al. 2016, Table 1, feature matching, one model):
# test digits misread out of 10,000, mean +- spread over 10 seeds, by labelled digits
PAPER_TABLE_1 = {20: "1677 ± 452", 50: "221 ± 136", 100: "93 ± 6.5", 200: "90 ± 4.2"}


def semi_supervised_table(rows):
    """Lesson 09's rows: D's test error on the 10,000 MNIST test digits."""
    lines = []
    for name in sorted(rows, key=lambda n: (rows[n].get("labels", 0), n)):
        m = rows[name]
        if "test_error" not in m:
            continue
        raw = f"{100 * m['test_error_raw']:.2f}" if m.get("test_error_raw") is not None else "-"
        paper = PAPER_TABLE_1.get(m["labels"], "-") if not m.get("supervised_only") else "-"
        lines.append(f"| {name} | {m['labels']} | {'labels only' if m.get('supervised_only') else 'GAN'} | "
                     f"{m['epochs']} | {m['seconds_per_epoch'] or 0:.0f} | {minutes(m)} | "
                     f"{100 * m['test_error']:.2f} | {raw} | {paper} | `{m['command']}` |")
    if not lines:
        return ""
    return ("\n## Semi-supervised classification (lesson 09)\n\nD's test error on the 10,000 MNIST test "
            "digits, read by D_avg (the average of D's recent parameters) and by D itself; the paper's column "
            "is Table 1 of Salimans et al. 2016 (feature matching), test digits misread out of 10,000. G's "
            "samples of the GAN rows are measured in the first table.\n\n"
            "| run | labels | trained with | epochs | s/epoch | min | test error % ↓ | D itself % | paper (of "
            "10,000) | command |\n|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n")


def readout_table(rows):
    """Lesson 08's rows: the probe's test errors, the walks and the arithmetic."""
    out = []
    for name in sorted(rows):
        m = rows[name]
        if not any(k.startswith(READOUTS) for k in m):
            continue
        out.append(f"\n## What a DCGAN learned (lesson 08): `{m['command']}`\n")
        probes = [(f, n) for f in ("trained", "init", "pixels", "supervised") for n in (100, 1000)
                  if f"probe_{f}_{n}_mean" in m]
        if probes:
            out.append("Probe: a logistic regression on the features, test error % (mean ± spread over the "
                       "labelled subsets).\n\n| features | 100 labels | 1,000 labels |\n|---|---|---|")
            for f in dict.fromkeys(f for f, _ in probes):
                cells = [f"{m[f'probe_{f}_{n}_mean']:.2f} ± {m[f'probe_{f}_{n}_std']:.2f}"
                         if f"probe_{f}_{n}_mean" in m else "-" for n in (100, 1000)]
                out.append(f"| {f} | " + " | ".join(cells) + " |")
        walks = [k for k in ("linear", "slerp") if f"walk_{k}_label_changes" in m]
        if walks:
            out.append("\nWalks: label changes a path, frames read with confidence >= 0.9, the largest step "
                       "between frames / the mean step.\n\n| path | label changes | confident % | largest / "
                       "mean step |\n|---|---|---|---|")
            for k in walks:
                out.append(f"| {k} | {m[f'walk_{k}_label_changes']:.1f} | {100 * m[f'walk_{k}_confident']:.0f} "
                           f"| {m[f'walk_{k}_max_step_ratio']:.2f} |")
        arith = sorted({k.rsplit("_k", 1)[0] for k in m if k.startswith("arith_") and k.endswith("_moved")},
                       key=lambda a: (a.split("_")[1], a.split("_")[2], ("z", "pixel", "matched").index(a.split("_")[3])))
        if arith:
            out.append("\nArithmetic: the share (%) of 1,000 new samples whose attribute moved the intended "
                       "way / whose digit was kept, by exemplars K, the mean over independent draws of "
                       "exemplars and samples (± the kept share's spread); \"matched\": the pixel vector "
                       "scaled to move the attribute as far as the z vector did.\n\n| generator, attribute, "
                       "space | K = 1 | K = 3 | K = 10 |\n|---|---|---|---|")
            for a in arith:
                cells = [f"{100 * m[f'{a}_k{k}_moved']:.0f} / {100 * m[f'{a}_k{k}_kept']:.0f}"
                         + (f" ± {100 * m[f'{a}_k{k}_kept_sd']:.0f}" if f"{a}_k{k}_kept_sd" in m else "")
                         if f"{a}_k{k}_moved" in m else "-" for k in (1, 3, 10)]
                out.append(f"| {a[len('arith_'):].replace('_', ', ')} | " + " | ".join(cells) + " |")
        if "guided_stroke_share_trained" in m:
            out.append(f"\nGuided backpropagation: share of saliency on the digit's strokes, trained D "
                       f"{100 * m['guided_stroke_share_trained']:.1f}%, D at initialisation "
                       f"{100 * m['guided_stroke_share_init']:.1f}%.")
    return "\n".join(out) + "\n" if out else ""


def translation_table(rows):
    """Lesson 07's rows: per direction the pixel error against the truth as a ratio to doing
    nothing and to the best per-pixel colour map (minigan.metrics.translation_errors)."""
    lines = []
    for name in sorted(rows):
        m = rows[name]
        if "label_preservation" not in m:
            continue
        ab, ba = m["a_to_b"], m["b_to_a"]
        lines.append("| {lesson} | {device} | {epochs} | {sec:.0f} | {mins} | {ab1:.2f} | {ab2:.2f} | {ba1:.2f} | "
                     "{ba2:.2f} | {lp} | `{cmd}` |".format(
                         lesson=m["lesson"], device=m["device"], epochs=m["epochs"], sec=m["seconds_per_epoch"] or 0,
                         mins=minutes(m),
                         ab1=ab["ratio_to_identity"], ab2=ab["ratio_to_best_pixel_map"],
                         ba1=ba["ratio_to_identity"], ba2=ba["ratio_to_best_pixel_map"],
                         lp=pct(m["label_preservation"]), cmd=m["command"]))
    if not lines:
        return ""
    return ("\n## Translation (lesson 07)\n\nMean absolute pixel error against the known truth, as a ratio to "
            "doing nothing (the input itself) and to the best per-pixel colour map (for each of 64 input "
            "intensities, the median target value on the test pairs); label preservation: minigan's "
            "classifier reads the B -> A translation as its source digit.\n\n"
            "| lesson | device | epochs | s/epoch | min | A→B / nothing | A→B / best map ↓ | B→A / nothing "
            "| B→A / best map ↓ | label preserv. % ↑ | command |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(lines) + "\n")


def notes(rows, test_accuracy=None):
    """What some lessons measure beyond the columns: z's effect within a class (conditional
    lessons), lesson 03's rank correlation between its critic's estimate and FD, and what the
    real-MNIST row's label accuracy is measured on (test_accuracy: the classifier's accuracy
    on the test split, quoted next to it when given)."""
    out = []
    for name in sorted(rows):
        m = rows[name]
        if m.get("timing_note"):
            out.append(f"- `{name}`: {m['timing_note']}")
        if name == "zz-reference" and "label_accuracy" in m:
            test = f" ({pct(test_accuracy)}%)" if test_accuracy is not None else ""
            out.append(f"- `{name}`: its label accuracy, {pct(m['label_accuracy'])}%, is the classifier's accuracy on "
                       "these 10,000 images (the first 10,000 of the 50,000-image training split); the >= 99% that "
                       f"minigan/metrics.py states is on the 10,000 test images{test}: other images, the same classifier.")
        if "within_class_spread" in m:
            out.append(f"- `{name}`: within-class spread {m['within_class_spread']:.3f} (real test digits "
                       f"{m['within_class_spread_real']:.3f}; 0 would be one image per digit).")
        if "within_class_diversity" in m:
            per_class = m["within_class_diversity_per_class"]
            out.append(f"- `{name}`: within-class diversity {m['within_class_diversity']:.3f} of real digits' "
                       f"(classes {min(per_class):.3f}-{max(per_class):.3f}; mean pairwise distance "
                       "in the classifier's features, 1 = as varied as the test digits).")
        if "spearman_w_fd" in m:
            out.append(f"- `{name}`: Spearman ρ between the critic's held-out W estimate and the Fréchet "
                       f"distance over {len(m['w_heldout'])} checkpoints: {m['spearman_w_fd']:.3f}.")
        if m.get("blas_env") == "unrecorded":
            out.append(f"- `{name}`: timed without a record of whether OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE "
                       "were set (they slow NumPy's GEMM by about a third).")
        elif m.get("blas_env"):
            out.append(f"- `{name}`: timed with {m['blas_env']} set (NumPy's GEMM about a third slower than on a user's machine).")
    return "\n" + "\n".join(out) + "\n" if out else ""


def classifier_test_accuracy():
    """The shipped classifier's accuracy on the MNIST test split (a few seconds; no runs)."""
    sys.path.insert(0, ROOT)
    from minigan import metrics
    return metrics.accuracy(*metrics.load_classifier(), "test")


def write_markdown(rows, test_accuracy=None):
    """docs/results.md from the rows alone (the contents of docs/results.json)."""
    with open(os.path.join(ROOT, "docs", "results.md"), "w") as f:
        f.write("# Results\n\nWritten by `python scripts/results.py` from each run's `metrics.json`: every lesson at "
                "its default settings, measured with minigan's MNIST classifier (`minigan/metrics.py`; each "
                "metric is defined in [metrics.md](metrics.md)). "
                "Seconds per epoch are the median epoch's wall-clock time on the machine named in the device column "
                "(cpu: the project's 2-core reference machine, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset "
                "as on a user's machine, unless a note says otherwise; gpu: one NVIDIA H200 with CuPy 14.2 for "
                "CUDA 13); min is the training time at that rate "
                "(epochs x s/epoch, without the final evaluation).\n\n"
                "The last row is the ceiling: 10,000 real training images measured as if they were "
                "samples. Rows are kept in docs/results.json, one per run folder.\n\n")
        f.write(table(rows, test_accuracy) + "\n")


def main():
    sys.path.insert(0, ROOT)
    from minigan.train import OneLineParser                 # one-line errors, as the lessons give
    p = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--collect", action="store_true", help="do not train; only rebuild the table")
    p.add_argument("--markdown", action="store_true",
                   help="only rewrite docs/results.md from docs/results.json (no runs, no new rows)")
    p.add_argument("--lessons", nargs="+", choices=list(LESSONS), default=list(LESSONS))
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--timing-note", metavar="TEXT",
                   help="how the runs collected now were timed, when not on the reference machine "
                        "alone (kept in their rows and shown as a note)")
    p.add_argument("--drop", nargs="+", default=[], metavar="NAME",
                   help="remove these rows (run folder names) from docs/results.json")
    args = p.parse_args()
    if args.markdown:
        with open(RESULTS) as f:
            rows = json.load(f)
    else:
        if not args.collect:
            run_lessons(args.lessons, args.device)
        reference()
        rows = collect(args.drop, args.timing_note)
    write_markdown(rows, classifier_test_accuracy())
    print(open(os.path.join(ROOT, "docs", "results.md")).read())


if __name__ == "__main__":
    main()
