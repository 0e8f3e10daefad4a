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
