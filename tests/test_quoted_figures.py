"""Every measured figure a text quotes from docs/results.json carries a tag, checked here.

How to quote a figure (ROW: a top-level key of docs/results.json, e.g. 02_dcgan; KEY below):

* Markdown (README.md, docs/**/*.md): a link to the results page whose title is "ROW KEY",
  the path relative to the file:   FD [3.89](docs/results.md "02_dcgan fd")   in README.md,
  [3.89](results.md "02_dcgan fd") in docs/X.md, [3.89](../results.md "02_dcgan fd") in
  docs/lessons/X.md.
* Python (lessons/*.py, minigan/**/*.py, scripts/*.py) and plain text: the number, then the
  row and key in brackets:   FD 3.89 [02_dcgan fd].

The number may carry a unit between it and the tag (%, x, s, min, minutes, epochs). Keys:
fd, score, parzen (parzen_ll; "235 ± 2.2" also checks parzen_se), acc (label accuracy, %),
classes (min-max class share, %, written 8.9-11.2), s_per_epoch, minutes (epochs x
seconds_per_epoch / 60), epochs, spread, spread_real, diversity, rho (spearman_w_fd),
w_heldout (the held-out W at some checkpoint; w_heldout@N: at epoch N), preservation
(label preservation, %), error, error_raw (lesson 09's test_error, test_error_raw, %), ab_nothing, ab_map, ba_nothing, ba_map (lesson 07's
ratio_to_identity / ratio_to_best_pixel_map of a_to_b / b_to_a), any numeric top-level
field by its own name, or FIELD.NAME for a number inside one (a_to_b.pixel_error); any
of these followed by @pct is the stored share written in %: 79% [08_latent_space
arith_cgan_ink_z_k3_kept@pct] for a stored 0.79. The written number must equal the stored value rounded to the
decimals written: 3.9 and 3.89 both match 3.8908, and "34" matches 33.52 minutes.
Numbers that are not rows of docs/results.json (ablations) stay plain, with their command.
"""
import ast
import glob
import json
import os
import re
from dataclasses import dataclass

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_JSON = os.path.join(ROOT, "docs", "results.json")
RESULTS_MD = os.path.join(ROOT, "docs", "results.md")
SCANNED = ("README.md", "docs/**/*.md", "lessons/*.py", "minigan/**/*.py", "scripts/*.py")

_NUM = r"-?\d+(?:\.\d+)?"
# a number, a lo-hi range (classes) or value ± error (parzen), then an optional unit
NUMBER = re.compile(rf"(?P<value>{_NUM})(?:\s*[-–]\s*(?P<hi>{_NUM})|\s*(?:±|\+-|\+/-)\s*(?P<se>{_NUM}))?"
                    r"(?:\s*(?:%|x|×|s|min|minutes|epochs))?")
# [ROW KEY] not followed by "(" (that would be a Markdown link); ROW holds a digit and _ or -
PLAIN_TAG = re.compile(r"\[(?P<row>(?=[^\]\s]*\d)(?=[^\]\s]*[_-])[\w.-]+)(?:[ \t]*\n[ \t]*|[ \t]+)(?P<key>[a-z][\w@.]*)\](?!\()")
NUMBER_BEFORE = re.compile(rf"(?<![\w.]){NUMBER.pattern}\s*$")
MD_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<path>[^)\s]+)\s+\"(?P<title>[^\"]*)\"\)")

PERCENT = {"acc": "label_accuracy", "preservation": "label_preservation", "error": "test_error",
           "error_raw": "test_error_raw"}
FIELD = {"fd": "frechet_distance", "score": "inception_score", "s_per_epoch": "seconds_per_epoch",
         "epochs": "epochs", "spread": "within_class_spread", "spread_real": "within_class_spread_real",
         "diversity": "within_class_diversity", "rho": "spearman_w_fd"}
TRANSLATION = {"ab_nothing": ("a_to_b", "ratio_to_identity"), "ab_map": ("a_to_b", "ratio_to_best_pixel_map"),
               "ba_nothing": ("b_to_a", "ratio_to_identity"), "ba_map": ("b_to_a", "ratio_to_best_pixel_map")}


@dataclass
class Tag:
    path: str          # the file, relative to the repository root where it is inside it
    line: int
    raw: str           # the tag as written
    number: str        # the written figure ("3.89", "8.9-11.2", "235 ± 2.2"), "" if none
    row: str
    key: str
    problem: str = ""  # what is wrong with the tag's form (empty: nothing)


def _relative(path):
    return os.path.relpath(path, ROOT) if os.path.isabs(path) else path


def find_tags(text, path):
    """Every tag in `text`, the contents of the file at `path` (absolute, or relative to the
    repository root): Markdown links to docs/results.md with a title, and [ROW KEY] tags."""
    tags = []
    line_of = lambda pos: text.count("\n", 0, pos) + 1
    absolute = path if os.path.isabs(path) else os.path.join(ROOT, path)
    for m in MD_LINK.finditer(text):
        link = m.group("path").split("#")[0]
        if os.path.basename(link) != "results.md":
            continue
        parts = m.group("title").split()
        tag = Tag(_relative(path), line_of(m.start()), " ".join(m.group(0).split()), " ".join(m.group("text").split()),
                  parts[0] if parts else "", parts[1] if len(parts) > 1 else "")
        target = os.path.normpath(os.path.join(os.path.dirname(absolute), link))
        if target != RESULTS_MD:
            tag.problem = (f"the link {link!r} does not lead to docs/results.md from {tag.path} "
                           f"(it leads to {_relative(target)})")
        elif len(parts) != 2:
            tag.problem = f'the title {m.group("title")!r} is not "ROW KEY"'
        elif not NUMBER.fullmatch(tag.number):
            tag.problem = f"the link text {tag.number!r} is not a number"
        tags.append(tag)
    for m in PLAIN_TAG.finditer(text):
        window = max(0, m.start() - 40)
        before = NUMBER_BEFORE.search(text[window:m.start()])
        number = " ".join(before.group(0).split()) if before else ""
        tag = Tag(_relative(path), line_of(window + before.start() if before else m.start()), " ".join((number + " " + m.group(0)).split()), number,
                  m.group("row"), m.group("key"))
        if not before:
            tag.problem = "no number right before the tag"
        tags.append(tag)
    return sorted(tags, key=lambda t: t.line)


def _fmt(value, decimals):
    return f"{value:.{decimals}f}"


def _decimals(written):
    return len(written.split(".")[1]) if "." in written else 0


def _matches(written, value):
    """Does the written number equal `value` rounded to the written decimals?"""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        _fmt(value, _decimals(written)) == written.lstrip("+")


def _stored(row, key):
    """The value(s) KEY names in a results row: a number, or a tuple for classes and parzen.
    Raises KeyError with a message for an unknown key or a field the row lacks."""
    def field(name):
        if name not in row:
            raise KeyError(f"the row has no {name!r}")
        return row[name]
    if key in FIELD:
        return field(FIELD[key])
    if key in PERCENT:
        return 100 * field(PERCENT[key])
    if key == "minutes":
        return field("epochs") * field("seconds_per_epoch") / 60
    if key == "classes":
        return 100 * field("min_class_share"), 100 * field("max_class_share")
    if key == "parzen":
        return field("parzen_ll"), field("parzen_se")
    if key in TRANSLATION:
        direction, ratio = TRANSLATION[key]
        return field(direction)[ratio]
    if key.endswith("@pct"):                                # a stored share, written in %
        value = _stored(row, key[:-len("@pct")])
        if isinstance(value, tuple):
            raise KeyError(f"{key!r}: @pct takes one number")
        return 100 * value
    if key.startswith("w_heldout"):
        points = field("w_heldout")
        if "@" in key:
            epoch = key.split("@", 1)[1]
            found = [w for e, w in points if str(e) == epoch]
            if not found:
                raise KeyError(f"w_heldout has no checkpoint at epoch {epoch}")
            return found[0]
        return tuple(w for _, w in points)                # any checkpoint's
    value = row
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"unknown key {key!r}")
        value = value[part]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise KeyError(f"unknown key {key!r} (not a number)")


def check_tag(tag, results):
    """None if the tag holds, else the failure message (file:line, the tag, written, stored)."""
    where = f"{tag.path}:{tag.line}: {tag.raw!r}"
    if tag.problem:
        return f"{where}: {tag.problem}"
    if tag.row not in results:
        return f"{where}: unknown row {tag.row!r} (rows of docs/results.json: {', '.join(sorted(results))})"
    try:
        stored = _stored(results[tag.row], tag.key)
    except KeyError as exc:
        return f"{where}: row {tag.row!r}: {exc.args[0]}"
    m = NUMBER.fullmatch(tag.number)
    value, hi, se = m.group("value"), m.group("hi"), m.group("se")
    if tag.key == "classes":
        if hi is None:
            return f"{where}: classes is written lo-hi (e.g. 8.9-11.2), got {tag.number!r}"
        ok = _matches(value, stored[0]) and _matches(hi, stored[1])
        shown = f"{_fmt(stored[0], _decimals(value))}-{_fmt(stored[1], _decimals(hi))}"
    elif tag.key == "parzen":
        ok = _matches(value, stored[0]) and (se is None or _matches(se, stored[1]))
        shown = _fmt(stored[0], _decimals(value)) + ("" if se is None else f" ± {_fmt(stored[1], _decimals(se))}")
    elif hi is not None or se is not None:
        return f"{where}: {tag.key} is one number, got {tag.number!r}"
    elif isinstance(stored, tuple):                                     # w_heldout: any checkpoint
        ok = any(_matches(value, w) for w in stored)
        shown = "one of " + ", ".join(_fmt(w, _decimals(value)) for w in stored)
    else:
        ok = _matches(value, stored)
        shown = _fmt(stored, _decimals(value)) if isinstance(stored, (int, float)) else repr(stored)
    if ok:
        return None
    return f"{where}: written {tag.number}, stored {shown} ({tag.row} {tag.key} in docs/results.json)"


def check_text(text, path, results):
    """The failure messages of every tag in one file's text."""
    return [msg for msg in (check_tag(t, results) for t in find_tags(text, path)) if msg]


def scanned_files():
    files = set()
    for pattern in SCANNED:
        files.update(glob.glob(os.path.join(ROOT, pattern), recursive=True))
    return sorted(files)


def load_results():
    with open(RESULTS_JSON) as f:
        return json.load(f)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------------- the repository


def test_every_tagged_figure_matches_the_results():
    results = load_results()
    failures = [msg for path in scanned_files() for msg in check_text(read(path), path, results)]
    assert not failures, "stale or malformed quoted figures:\n" + "\n".join(failures)


LESSONS = sorted(glob.glob(os.path.join(ROOT, "lessons", "0[1-7]_*.py")))


@pytest.mark.parametrize("path", LESSONS, ids=[os.path.basename(p) for p in LESSONS])
def test_each_lesson_docstring_quotes_its_default_row(path):
    """A lesson's docstring states its measured result at the defaults, tagged with its own row."""
    lesson = os.path.basename(path)[:-3]
    docstring = ast.get_docstring(ast.parse(read(path))) or ""
    rows = {t.row for t in find_tags(docstring, path) if not t.problem}
    assert lesson in rows, (f"lessons/{lesson}.py: its docstring quotes no tagged figure of row {lesson!r}, "
                            f"write its measured result at the defaults as 'NUMBER [{lesson} KEY]' (keys: this file's "
                            f"docstring; tagged rows found: {sorted(rows)})")


def test_results_page_shows_the_rows_of_results_json():
    """docs/results.md is written from docs/results.json (python scripts/results.py --markdown)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("results_script", os.path.join(ROOT, "scripts", "results.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rows_of = lambda text: [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows_of(script.table(load_results())) == rows_of(read(RESULTS_MD)), \
        "docs/results.md is out of date: python scripts/results.py --markdown"


# ---------------------------------------------------------------------- the checker itself


RESULTS = {"02_dcgan": {"frechet_distance": 3.890774, "inception_score": 9.1158, "epochs": 12,
                        "seconds_per_epoch": 167.603, "min_class_share": 0.0892, "max_class_share": 0.1118,
                        "parzen_ll": 235.4774, "parzen_se": 2.16356},
           "04_cgan": {"label_accuracy": 0.9918, "epochs": 7, "seconds_per_epoch": 373.72},
           "03_wgan": {"spearman_w_fd": 0.81558, "w_heldout": [[1, 9.5938], [100, 0.042311]]},
           "07_cyclegan": {"a_to_b": {"ratio_to_identity": 0.01907, "ratio_to_best_pixel_map": 0.22738},
                           "b_to_a": {"ratio_to_identity": 0.02136, "ratio_to_best_pixel_map": 0.28631},
                           "label_preservation": 0.9805}}
LESSON_FILE = os.path.join(ROOT, "lessons", "02_dcgan.py")
DOCS_PAGE = os.path.join(ROOT, "docs", "lessons", "02_dcgan.md")


def test_current_figures_pass():
    text = ("FD 3.89 [02_dcgan fd], 3.9 [02_dcgan fd], score 9.12 [02_dcgan score], 12 [02_dcgan epochs]\n"
            "epochs of 168 s [02_dcgan s_per_epoch] (34 min [02_dcgan minutes]); digits 8.9-11.2% "
            "[02_dcgan classes]; Parzen 235 ± 2.2 [02_dcgan parzen], 235.5 [02_dcgan parzen];\n"
            "99.2% [04_cgan acc], 44 [04_cgan minutes]; rho 0.816 [03_wgan rho], W 0.042 [03_wgan w_heldout],\n"
            "9.59 [03_wgan w_heldout@1]; 0.23x [07_cyclegan ab_map] 0.02 [07_cyclegan ba_nothing] "
            "98.05% [07_cyclegan preservation]; raw 0.0892 [02_dcgan min_class_share]\n"
            "0.0191 [07_cyclegan a_to_b.ratio_to_identity]\n")
    assert len(find_tags(text, LESSON_FILE)) == 19
    assert check_text(text, LESSON_FILE, RESULTS) == []


def test_a_stale_number_fails_and_names_file_line_tag_and_both_values():
    text = "Lesson 02.\n\nFrechet distance 3.97 [02_dcgan fd] at the defaults.\n"
    (msg,) = check_text(text, LESSON_FILE, RESULTS)
    assert msg.startswith("lessons/02_dcgan.py:3: '3.97 [02_dcgan fd]'")
    assert "written 3.97" in msg and "stored 3.89" in msg


def test_rounding_is_to_the_written_decimals():
    assert check_text("3.891 [02_dcgan fd] 4 [02_dcgan fd]", LESSON_FILE, RESULTS) == []
    assert len(check_text("3.8 [02_dcgan fd] 3.90 [02_dcgan fd] 33 [02_dcgan minutes]", LESSON_FILE, RESULTS)) == 3


def test_a_wrong_row_or_key_fails():
    text = ("FD 3.89 [02_dgan fd]\nscore 9.12 [02_dcgan scor]\n99.2% [02_dcgan acc]\n"
            "0.02 [07_cyclegan a_to_b.ratio]\n0.02 [07_cyclegan a_to_b]\n")
    first, second, third, fourth, fifth = check_text(text, LESSON_FILE, RESULTS)
    assert first.startswith("lessons/02_dcgan.py:1:") and "unknown row '02_dgan'" in first
    assert second.startswith("lessons/02_dcgan.py:2:") and "unknown key 'scor'" in second
    assert third.startswith("lessons/02_dcgan.py:3:") and "no 'label_accuracy'" in third
    assert "unknown key 'a_to_b.ratio'" in fourth and "not a number" in fifth


def test_a_share_written_in_percent():
    assert check_text("8.92% [02_dcgan min_class_share@pct] 9% [02_dcgan min_class_share@pct]",
                      LESSON_FILE, RESULTS) == []
    (msg,) = check_text("0.09% [02_dcgan min_class_share@pct]", LESSON_FILE, RESULTS)
    assert "stored 8.92" in msg


def test_ranges_and_errors_are_checked_on_both_ends():
    msgs = check_text("8.9-11.3% [02_dcgan classes]; 235 ± 2.3 [02_dcgan parzen]; 8.9 [02_dcgan classes]",
                      LESSON_FILE, RESULTS)
    assert len(msgs) == 3
    assert "stored 8.9-11.2" in msgs[0] and "stored 235 ± 2.2" in msgs[1] and "lo-hi" in msgs[2]


def test_a_tag_broken_over_two_lines_is_still_checked():
    text = "Parzen 235 ±\n2.3 [02_dcgan\n  parzen] and [235 ±\n2.3](../results.md\n\"02_dcgan parzen\")"
    first, second = check_text(text, DOCS_PAGE, RESULTS)
    assert first.startswith("docs/lessons/02_dcgan.md:1:") and "written 235 ± 2.3" in first
    assert second.startswith("docs/lessons/02_dcgan.md:3:") and "stored 235 ± 2.2" in second


def test_a_tag_without_a_number_fails():
    (msg,) = check_text("the usual figure [02_dcgan fd]", LESSON_FILE, RESULTS)
    assert "no number right before the tag" in msg


def test_markdown_tags_are_checked_and_their_path_resolved():
    good = 'FD [3.89](../results.md "02_dcgan fd"), [235 ± 2.2](../results.md#results "02_dcgan parzen")\n'
    assert len(find_tags(good, DOCS_PAGE)) == 2
    assert check_text(good, DOCS_PAGE, RESULTS) == []
    stale = 'one\nFD [3.97](../results.md "02_dcgan fd")\n'
    (msg,) = check_text(stale, DOCS_PAGE, RESULTS)
    assert msg.startswith("docs/lessons/02_dcgan.md:2:") and "written 3.97" in msg and "stored 3.89" in msg
    (msg,) = check_text('FD [3.89](results.md "02_dcgan fd")', DOCS_PAGE, RESULTS)     # docs/lessons/results.md
    assert "does not lead to docs/results.md" in msg
    assert check_text('FD [3.89](docs/results.md "02_dcgan fd")', os.path.join(ROOT, "README.md"), RESULTS) == []
    (msg,) = check_text('FD [3.89](docs/results.md "02_dcgan")', os.path.join(ROOT, "README.md"), RESULTS)
    assert "is not \"ROW KEY\"" in msg
    # a link to the page without a title is an ordinary link, not a tag
    assert find_tags("[docs/results.md](docs/results.md)", os.path.join(ROOT, "README.md")) == []


def test_code_that_looks_like_brackets_is_not_a_tag():
    code = "x[i:i + chunk]  rows[k - 1:]  [log D(x)]  [--device cpu|gpu]  a[cache > 0]  [0, 1]  [see below]"
    assert find_tags(code, LESSON_FILE) == []
    assert find_tags("pip install '.[gpu-cuda13]'  x[H-1-p]", LESSON_FILE) == []
