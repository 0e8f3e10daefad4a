"""scripts/results.py keeps one row per run folder in docs/results.json: a new run replaces
its own row and leaves the others, so a fresh checkout that re-runs one lesson keeps the rest."""
import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def results(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("results", os.path.join(ROOT, "scripts", "results.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", str(tmp_path))
    monkeypatch.setattr(module, "RESULTS", str(tmp_path / "results.json"))
    return module


def metrics(lesson, score, out):
    return {"lesson": lesson, "device": "cpu", "epochs": 3, "seconds_per_epoch": 1.5,
            "frechet_distance": 10.0, "inception_score": score, "min_class_share": 0.09,
            "max_class_share": 0.11, "class_shares": [0.1] * 10,
            "command": f"python lessons/{lesson}.py --out {out}"}


def write_run(root, name, m):
    os.makedirs(root / "runs" / name)
    (root / "runs" / name / "metrics.json").write_text(json.dumps(m))


def test_collect_replaces_its_own_row_and_keeps_the_others(results, tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({
        "01_gan": metrics("01_gan", 8.5, "runs/01_gan"), "02_dcgan": metrics("02_dcgan", 6.0, "runs/02_dcgan")}))
    write_run(tmp_path, "02_dcgan", metrics("02_dcgan", 9.1, str(tmp_path / "runs/02_dcgan")))
    rows = results.collect()
    assert sorted(rows) == ["01_gan", "02_dcgan"]
    assert rows["02_dcgan"]["inception_score"] == 9.1 and rows["01_gan"]["inception_score"] == 8.5
    assert rows["02_dcgan"]["command"] == "python lessons/02_dcgan.py --out runs/02_dcgan"   # no local path
    assert "class_shares" not in rows["02_dcgan"]                                            # only the table's fields
    assert json.loads((tmp_path / "results.json").read_text()) == rows
    table = results.table(rows)
    assert table.count("\n| 0") == 2 and "| 9.10 |" in table and "| 8.50 |" in table


def test_drop_removes_a_row_and_rejects_an_unknown_one(results, tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"01_gan": metrics("01_gan", 8.5, "runs/01_gan")}))
    assert results.collect(drop=["01_gan"]) == {}
    with pytest.raises(SystemExit, match="no such row"):
        results.collect(drop=["01_gan"])


def test_translation_rows_go_to_their_own_table(results, tmp_path):
    """Lesson 07 writes no sample metrics; its row is kept and shown in the translation table."""
    errors = lambda r: {"pixel_error": 0.05, "ratio_to_identity": 0.1, "ratio_to_best_pixel_map": r}
    write_run(tmp_path, "07_cyclegan", {
        "lesson": "07_cyclegan", "device": "cpu", "epochs": 1, "seconds_per_epoch": 1800.0,
        "label_preservation": 0.985, "a_to_b": errors(0.31), "b_to_a": errors(0.37),
        "command": "python lessons/07_cyclegan.py"})
    write_run(tmp_path, "02_dcgan", metrics("02_dcgan", 9.1, "runs/02_dcgan"))
    rows = results.collect()
    assert sorted(rows) == ["02_dcgan", "07_cyclegan"]
    table = results.table(rows)
    assert table.count("\n| 0") == 2                       # one row in each table
    assert "| 0.31 |" in table and "| 0.37 |" in table and "| 98.5 |" in table
    assert table.index("| 02_dcgan") < table.index("## Translation") < table.index("| 07_cyclegan")


def test_semi_supervised_rows_and_the_timing_note(results, tmp_path):
    """Lesson 09's runs go to their own table, the control too (it has no sample metrics),
    with the paper's Table 1 beside the label counts it has; a timing note is kept and shown."""
    gan = {**metrics("09_semi_supervised", 5.0, "runs/09"), "labels": 100, "supervised_only": False,
           "test_error": 0.0149, "test_error_raw": 0.0161}
    control = {"lesson": "09_semi_supervised", "device": "cpu", "epochs": 3, "seconds_per_epoch": 2.0,
               "labels": 100, "supervised_only": True, "test_error": 0.2512, "test_error_raw": 0.2533,
               "command": "python lessons/09_semi_supervised.py --supervised-only"}
    write_run(tmp_path, "09_semi_supervised", gan)
    write_run(tmp_path, "09_semi_supervised-supervised-only", control)
    rows = results.collect(timing_note="timed on one thread.")
    assert rows["09_semi_supervised-supervised-only"]["test_error"] == 0.2512
    assert all(r["timing_note"] == "timed on one thread." for r in rows.values())
    table = results.table(rows)
    semi = table[table.index("## Semi-supervised"):]
    assert "| 1.49 | 1.61 | 93 ± 6.5 |" in semi and "| 25.12 | 25.33 | - |" in semi
    assert table.count("`09_semi_supervised`: timed on one thread.") == 1
    assert table[:table.index("## Semi")].count("\n| 09_semi") == 1       # only the GAN has samples


def test_lesson_08_rows_keep_its_scalar_read_outs(results, tmp_path):
    m = {"lesson": "08_latent_space", "device": "cpu", "command": "python lessons/08_latent_space.py",
         "probe_trained_100_mean": 12.1, "probe_trained_100_std": 1.15, "probe_trained_1000_mean": 3.66,
         "probe_trained_1000_std": 0.15, "probe_trained_100_errors": [12.0, 12.2],
         "walk_slerp_label_changes": 1.4, "walk_slerp_confident": 0.8, "walk_slerp_max_step_ratio": 2.5,
         "arith_cgan_ink_z_k3_moved": 0.97, "arith_cgan_ink_z_k3_kept": 0.8}
    write_run(tmp_path, "08_latent_space", m)
    rows = results.collect()
    assert "probe_trained_100_errors" not in rows["08_latent_space"]        # lists stay in metrics.json
    text = results.readout_table(rows)
    assert "| trained | 12.10 ± 1.15 | 3.66 ± 0.15 |" in text
    assert "| slerp | 1.4 | 80 | 2.50 |" in text and "| cgan, ink, z | - | 97 / 80 | - |" in text
