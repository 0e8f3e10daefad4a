"""scripts/figures.py on tiny runs: the pictures it writes, their sizes, the GIF's frames,
the skipped and the unreadable runs, and the tags of the Markdown it prints.

Lessons 02, 06 and 07 are trained for a few steps (their files are what the script reads);
the other run folders are built by hand with the files those lessons write."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from minigan import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "figures.py")
SCORER = os.path.join(ROOT, "scripts", "score_checkpoints.py")
with open(os.path.join(ROOT, "docs", "results.json")) as f:
    RESULTS = json.load(f)
TINY = ["--subset", "128", "--batch-size", "64", "--n-samples", "100", "--no-eval"]
QUICK07 = ["--subset", "48", "--batch-size", "8", "--channels", "2", "--d-channels", "2",
           "--residual-blocks", "1", "--eval-every", "3", "--eval-images", "20", "--pool-size", "4"]
TAG = re.compile(r'\[([^\]]+)\]\(([^)\s]+) "([^"\s]+) ([^"\s]+)"\)')


def run(*argv, **kw):
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, **kw)


def lesson(name, out, *argv):
    proc = run(os.path.join(ROOT, "lessons", f"{name}.py"), *argv, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]


def fake_run(folder, row, labels=False, extra=None, history=None, metrics=None):
    """A finished run as the lesson leaves it: samples.npz (label k's images all (k + 1) / 11,
    so the grid's rows can be read back), metrics.json (the row's own numbers), a checkpoint."""
    os.makedirs(folder)
    n = 200
    y = np.arange(n) % 10
    images = np.repeat(((y + 1) / 11)[:, None, None], 28, 1).repeat(28, 2).astype(np.float32)
    np.savez_compressed(os.path.join(folder, "samples.npz"), images=images,
                        **({"labels": y} if labels else {}))
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(metrics or RESULTS[row], f)
    train.save_checkpoint(os.path.join(folder, "checkpoint.npz"), {},
                          {"lesson": row, "epoch": 3, "args": {}, "extra": extra or {},
                           "history": history or {}})


# lesson 09's row where docs/results.json has one, else numbers of its kind
M09 = RESULTS.get("09_semi_supervised") or {**RESULTS["02_dcgan"], "lesson": "09_semi_supervised",
                                            "labels": 100, "test_error": 0.0149}


M08 = RESULTS.get("08_latent_space") or {"lesson": "08_latent_space", "probe_trained_100_mean": 12.1,
                                         "probe_trained_1000_mean": 3.66, "walk_slerp_label_changes": 1.4}
UNRECORDED = {row for row in ("08_latent_space", "09_semi_supervised") if row not in RESULTS}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    runs, out = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("images")
    # the smaller --arch of 02 and 06 (the same files, in less time); 06 with a G step per batch
    lesson("02_dcgan", runs / "02_dcgan", *TINY, "--epochs", "2", "--arch", "small")
    lesson("06_wgan_gp", runs / "06_wgan_gp", *TINY, "--epochs", "2", "--arch", "mlp", "--n-critic", "1")
    lesson("07_cyclegan", runs / "07_cyclegan", *QUICK07, "--epochs", "1")
    scored = run(SCORER, "06_wgan_gp", str(runs / "06_wgan_gp" / "checkpoint.npz"), "--n", "200",
                 "--heldout-w", "--json", str(runs / "06_wgan_gp" / "scores.json"))
    assert scored.returncode == 0, scored.stderr[-2000:]
    fake_run(runs / "01_gan", "01_gan", extra={"selection": {"points": []}})
    m03 = RESULTS["03_wgan"]
    fd_curve = [[e, 100 + 500 / e] for e, _ in m03["w_heldout"]]
    fake_run(runs / "03_wgan", "03_wgan", metrics={**m03, "fd_curve": fd_curve},
             extra={"measured": {"points": [{"epoch": e, "step": 10 * e, "w_heldout": w, "fd": 100 + 500 / e}
                                            for e, w in m03["w_heldout"]]}},
             history={"w_estimate": [[s, 1 / s] for s in range(1, 300)], "g_loss": [[1, 0.5]]})
    for row, rate in (("03_wgan-epochs-30", 1), ("03_wgan-lr-2e-4-epochs-30", 2)):   # an ablation's two runs
        fake_run(runs / row, "03_wgan", metrics=m03,
                 extra={"measured": {"points": [{"epoch": e, "w_heldout": 1 / e, "fd": 300 / (rate * e)}
                                                for e in (1, 5, 10)]}})
        (runs / row / "scores.json").write_text(json.dumps(
            {"n": 100, "points": [{"epoch": e, "fd": 290 / (rate * e), "score": rate + e / 10} for e in range(1, 11)]}))
    fake_run(runs / "04_cgan", "04_cgan", labels=True)
    fake_run(runs / "04_cgan-arch-paper", "04_cgan-arch-paper", labels=True,
             extra={"selection": {"points": [{"epoch": e, "valid_parzen": 100 + e, "sigma": 0.2}
                                             for e in (5, 10, 15)]}})
    fake_run(runs / "05_acgan", "05_acgan", labels=True,
             history={"acc_real": [[s, 0.9] for s in range(1, 100)],
                      "acc_fake": [[s, 0.5] for s in range(1, 100)]})
    fake_run(runs / "09_semi_supervised", "09_semi_supervised", metrics=M09)
    os.makedirs(runs / "08_latent_space")             # lesson 08: walks.npz and metrics.json
    frames = np.linspace(0, 1, 10)[None, :, None, None] * np.ones((10, 10, 28, 28), np.float32)
    np.savez_compressed(runs / "08_latent_space" / "walks.npz", linear=frames, slerp=frames)
    (runs / "08_latent_space" / "metrics.json").write_text(json.dumps(M08))
    noise = np.random.default_rng(0).integers(0, 256, (700, 700), dtype=np.uint8)   # over 150 KB as PNG
    Image.fromarray(noise, "L").save(runs / "08_latent_space" / "walk_linear.png")
    os.makedirs(runs / "01_gan-arch-paper")           # started, not finished: no metrics.json
    proc = run(SCRIPT, str(runs), "--out", str(out), env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return runs, out, proc


def test_writes_every_picture_within_its_size_limit(made):
    runs, out, _ = made
    expected = ["01_gan.png", "02_dcgan.png", "02_dcgan_epochs.gif", "02_dcgan_history.png", "03_wgan.png", "03_wgan_samples.png",
                "03_wgan_measured.png", "03_wgan_history.png", "03_wgan_learning_rate.png", "04_cgan.png", "04_cgan-arch-paper.png",
                "04_cgan-arch-paper_selection.png", "05_acgan.png", "05_acgan_history.png",
                "06_wgan_gp.png", "06_wgan_gp_samples.png", "06_wgan_gp_history.png", "06_wgan_gp_scores.png",
                "07_cyclegan.png", "07_cyclegan_measured.png", "08_latent_space.png", "08_latent_space_walk_linear.png", "09_semi_supervised.png",
                "gallery.md"]
    assert sorted(os.listdir(out)) == sorted(expected)
    for name in expected:
        size = os.path.getsize(out / name)
        assert 0 < size <= (1_000_000 if name.endswith(".gif") else 150_000), (name, size)


def test_scored_checkpoints_are_a_curve_against_the_epoch(made, tmp_path):
    runs, _, _ = made
    scores = json.loads((runs / "06_wgan_gp" / "scores.json").read_text())
    assert scores["lesson"] == "06_wgan_gp" and scores["n"] == 200
    [point] = scores["points"]                          # the one checkpoint, after epoch 2 of 2
    assert point["epoch"] == 2 and np.isfinite(point["fd"]) and point["fd"] > 0 and point["score"] >= 1
    assert np.isfinite(point["w_heldout"])
    other = run(SCORER, "02_dcgan", str(runs / "06_wgan_gp" / "checkpoint.npz"), "--n", "200")
    assert other.returncode != 0 and "not '02_dcgan'" in other.stderr and "Traceback" not in other.stderr


def test_the_gif_has_one_frame_per_epoch(made):
    runs, out, _ = made
    with Image.open(out / "02_dcgan_epochs.gif") as gif:
        assert gif.n_frames == len(list((runs / "02_dcgan").glob("epoch_*.png"))) == 2


def test_grids_are_10_by_10_one_row_per_digit_and_07_has_four_rows_a_direction(made):
    _, out, _ = made
    grid = np.asarray(Image.open(out / "04_cgan.png").convert("L"), float)
    cell = grid.shape[0] // 10                          # minigan.plot: 30 px a digit, times the scale
    assert grid.shape == (10 * cell, 10 * cell) and cell % 30 == 0
    for k in range(10):                                 # fake digit k is all (k + 1) / 11
        row = grid[k * cell + cell // 2, cell // 2::cell]
        np.testing.assert_allclose(row, 255 * (1 - (k + 1) / 11), atol=1)
    assert Image.open(out / "01_gan.png").size == (10 * cell, 10 * cell)
    assert Image.open(out / "07_cyclegan.png").size == (10 * cell, 8 * cell)
    walks = np.asarray(Image.open(out / "08_latent_space.png").convert("L"), float)
    assert walks.shape == (10 * cell, 10 * cell)        # one walk a row; fake frame t is all t / 9
    np.testing.assert_allclose(walks[cell // 2, cell // 2::cell], 255 * (1 - np.linspace(0, 1, 10)), atol=1)


def test_a_missing_or_unfinished_run_is_one_line_with_its_command(made):
    runs, _, proc = made
    lines = [line for line in proc.stderr.splitlines() if line.startswith("skipped")]
    assert len(lines) == 1 and "01_gan-arch-paper" in lines[0]
    assert f"python lessons/01_gan.py --arch paper --out {runs / '01_gan-arch-paper'}" in lines[0]
    notes = [line for line in proc.stderr.splitlines() if line.startswith("note")]
    assert {line.split("'")[0][len("note: "):] for line in notes} == \
        {"02_dcgan", "06_wgan_gp", "07_cyclegan"} | UNRECORDED


def rounds_to(text, value):
    decimals = len(text.split(".")[1]) if "." in text else 0
    return float(text) == round(value, decimals)


def check_value(written, key, m):
    if key == "classes":
        lo, hi = re.fullmatch(r"(\d+\.\d)-(\d+\.\d)", written).groups()
        return rounds_to(lo, 100 * m["min_class_share"]) and rounds_to(hi, 100 * m["max_class_share"])
    if key == "parzen":
        ll, se = re.fullmatch(r"(-?\d+) ± (\d+\.\d)", written).groups()
        return rounds_to(ll, m["parzen_ll"]) and rounds_to(se, m["parzen_se"])
    value = {"fd": lambda: m["frechet_distance"], "score": lambda: m["inception_score"],
             "acc": lambda: 100 * m["label_accuracy"], "diversity": lambda: m["within_class_diversity"],
             "rho": lambda: m["spearman_w_fd"], "preservation": lambda: 100 * m["label_preservation"],
             "ab_map": lambda: m["a_to_b"]["ratio_to_best_pixel_map"],
             "ba_map": lambda: m["b_to_a"]["ratio_to_best_pixel_map"],
             "epochs": lambda: m["epochs"], "error": lambda: 100 * m["test_error"],
             **{k: (lambda k=k: m[k]) for k in m if k.startswith(("probe_", "walk_"))},
             "minutes": lambda: m["epochs"] * m["seconds_per_epoch"] / 60}[key]()
    return rounds_to(written, value)


def test_the_snippet_quotes_each_runs_numbers_in_well_formed_tags(made):
    runs, out, proc = made
    snippet = proc.stdout
    gallery = (out / "gallery.md").read_text()
    assert snippet.startswith("## What each lesson draws") and gallery.startswith("## What each lesson draws")
    from_out = os.path.relpath(os.path.join(ROOT, "docs", "results.md"), out)
    for text, base, link in [(snippet, ROOT, "docs/results.md"), (gallery, str(out), from_out)]:
        tags = TAG.findall(text)
        assert {row for *_, row, _ in tags} == {"01_gan", "02_dcgan", "03_wgan", "04_cgan", "05_acgan",
                                                "06_wgan_gp", "07_cyclegan", "08_latent_space", "09_semi_supervised"}
        for written, path, row, key in tags:
            assert path == link and row in {**RESULTS, "08_latent_space": M08, "09_semi_supervised": M09}, (path, row)
            with open(runs / row / "metrics.json") as f:
                assert check_value(written, key, json.load(f)), (row, key, written)
        images = re.findall(r'<img src="([^"]+)"', text)
        assert len(images) == 10 and images[0].endswith("02_dcgan_epochs.gif")   # the GIF, 9 lessons
        for image in images:
            assert os.path.exists(os.path.join(base, image)), image
    by_row = {row: {key for *_, r, key in TAG.findall(snippet) if r == row} for row in [*RESULTS, *UNRECORDED]}
    assert {"fd", "score", "classes", "parzen", "epochs", "minutes"} <= by_row["01_gan"]
    assert {"acc", "diversity"} <= by_row["04_cgan"] and "rho" in by_row["03_wgan"]
    assert {"preservation", "ab_map", "ba_map"} <= by_row["07_cyclegan"]
    assert "error" in by_row["09_semi_supervised"]
    assert {"probe_trained_100_mean", "probe_trained_1000_mean"} <= by_row["08_latent_space"]


@pytest.mark.parametrize("name,content", [("samples.npz", b"PK\x03\x04 not a zip"),
                                          ("metrics.json", b"{not json")])
def test_an_unreadable_file_is_one_line_and_a_non_zero_exit(tmp_path, name, content):
    fake_run(tmp_path / "runs" / "01_gan", "01_gan")
    (tmp_path / "runs" / "01_gan" / name).write_bytes(content)
    proc = run(SCRIPT, str(tmp_path / "runs"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and name in errors[0] and "Traceback" not in proc.stderr


def test_a_picture_of_an_earlier_run_stays_with_its_rows_numbers(made, tmp_path):
    """Runs are not committed: rebuilding the gallery from one new run keeps the pictures that
    OUT already holds, captioned from docs/results.json."""
    runs, out, _ = made
    only = tmp_path / "runs"
    os.makedirs(only)
    os.symlink(runs / "04_cgan", only / "04_cgan")
    kept = tmp_path / "images"
    os.makedirs(kept)
    Image.open(out / "01_gan.png").save(kept / "01_gan.png")
    proc = run(SCRIPT, str(only), "--out", str(kept), env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any(line.startswith("kept") and "01_gan.png" in line for line in proc.stderr.splitlines())
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| **")]
    assert [r.split("**")[1] for r in rows] == ["01 GAN", "04 Conditional GAN"]
    fd = f"{RESULTS['01_gan']['frechet_distance']:.2f}"
    assert f'[{fd}](docs/results.md "01_gan fd")' in rows[0]


def test_readme_section_is_replaced_in_place_and_the_rest_kept(made, tmp_path):
    runs, out, _ = made
    readme = tmp_path / "README.md"
    readme.write_text("# t\n\n## What each lesson draws\n\nold text\n\n**Measured results**: here\n\n## Layout\n")
    proc = run(SCRIPT, str(runs), "--out", str(out), "--readme", str(readme),
               env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = readme.read_text()
    assert "old text" not in text and text.startswith("# t\n\n## What each lesson draws\n")
    assert text.count("## What each lesson draws") == 1 and text.endswith("**Measured results**: here\n\n## Layout\n")
    assert proc.stdout in text
    readme.write_text("# no such section\n")
    proc = run(SCRIPT, str(runs), "--out", str(out), "--readme", str(readme))
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith("error:")


def test_a_stand_in_run_of_the_same_command_fills_its_lessons_row(made, tmp_path):
    """runs/02_dcgan-threads-1 (the default command on one thread) draws lesson 02's row
    when runs/02_dcgan is absent; the lessons without a picture are named under the table."""
    runs, _, _ = made
    only = tmp_path / "runs"
    os.makedirs(only)
    os.symlink(runs / "02_dcgan", only / "02_dcgan-threads-1")
    out = tmp_path / "images"
    proc = run(SCRIPT, str(only), "--out", str(out), env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| **")]
    assert len(rows) == 1 and rows[0].startswith("| **02 DCGAN**") and "02_dcgan-threads-1.png" in rows[0]
    assert "02_dcgan_epochs.gif" in proc.stdout
    assert "Lessons 01, 03, 04, 05, 06, 07, 08, 09: run the lesson" in proc.stdout
    assert not any("02_dcgan-threads-1" in line for line in proc.stderr.splitlines() if line.startswith("skipped"))


def test_heldout_w_is_the_critics_mean_on_real_minus_its_mean_on_fake(made):
    """scripts/score_checkpoints.heldout_w against the critic's outputs computed here, on
    lesson 06's --arch mlp critic (it reads [-1, 1]): W(x, x) = 0, and W(real, fake) is the
    difference of the two means."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("score_checkpoints", SCORER)
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    runs, _, _ = made
    arrays, meta = train.load_checkpoint(str(runs / "06_wgan_gp" / "checkpoint.npz"))
    state = {k[len("model/D/"):]: v for k, v in arrays.items() if k.startswith("model/D/")}
    D, to_input = scorer.critic("06_wgan_gp", meta["args"])
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(0, 1, (2, 600, 28, 28)).astype(np.float32)
    assert scorer.heldout_w(D, to_input, state, real, real) == 0.0
    D.load_state_dict(state)
    mean = lambda x: float(D.forward(2 * x[:, None] - 1, train=False)[0].mean())
    np.testing.assert_allclose(scorer.heldout_w(D, to_input, state, real, fake), mean(real) - mean(fake),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(SystemExit, match="--heldout-w is for lessons 03 and 06"):
        scorer.critic("02_dcgan", {"arch": "fc"})


def test_a_comparison_of_runs_measured_by_step_is_drawn_against_the_step(made, tmp_path):
    """Lesson 07's runs measure label preservation and the error ratios every N steps: a
    comparison of two of them has a panel for each, against the step; with a run that shares
    no measurement with them there is nothing to draw."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("figures", SCRIPT)
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    runs, _, _ = made
    series, along = figures.run_curves(str(runs / "07_cyclegan"))
    assert along == "step" and {"label_preservation", "ratio_ab", "ratio_ba"} <= set(series)
    _, meta = train.load_checkpoint(str(runs / "07_cyclegan" / "checkpoint.npz"))
    points = meta["extra"]["measured"]["points"]
    assert series["label_preservation"] == [(p["step"], p["label_preservation"]) for p in points]
    path = figures.comparison_plot("c", "07", [("07_cyclegan", "a"), ("07_cyclegan", "b")], str(runs), str(tmp_path))
    assert path and os.path.getsize(path) > 0
    assert figures.comparison_plot("d", "mixed", [("07_cyclegan", "a"), ("03_wgan-epochs-30", "b")],
                                   str(runs), str(tmp_path)) is None


def test_a_one_thread_stand_in_is_captioned_with_its_default_rows_two_thread_time():
    """The gallery's time is what `python lessons/X.py` takes: a one-thread stand-in (timed
    beside another training) quotes its default row's minutes when that row timed the same
    command alone, and its own otherwise."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("figures", SCRIPT)
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    run = {"device": "cpu", "epochs": 7, "seconds_per_epoch": 543.0, "timing_note": "timed on one thread"}
    default = {"device": "cpu", "epochs": 7, "seconds_per_epoch": 374.0}
    text = figures.caption("04_cgan-threads-1", run, "results.md",
                           {"04_cgan-threads-1": run, "04_cgan": default})
    assert '[44](results.md "04_cgan minutes") min on the CPU (two threads)' in text
    assert "04_cgan-threads-1 minutes" not in text and '[7](results.md "04_cgan-threads-1 epochs")' in text
    for other in ({**default, "epochs": 8}, {**default, "timing_note": "shared"}):   # not the same run
        text = figures.caption("04_cgan-threads-1", run, "results.md",
                               {"04_cgan-threads-1": run, "04_cgan": other})
        assert '[63](results.md "04_cgan-threads-1 minutes") min on the CPU (timed on one thread' in text
