"""What a student reads first stays short and speaks of the lessons, not of how they were made:
every lesson's docstring is at most 40 lines, no text uses the words of a work log, and the
committed pictures stay small."""
import ast
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = sorted(glob.glob(os.path.join(ROOT, "lessons", "*.py")))
TEXTS = sorted([os.path.join(ROOT, "README.md"), *glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True),
                *LESSONS, *glob.glob(os.path.join(ROOT, "minigan", "**", "*.py"), recursive=True),
                *glob.glob(os.path.join(ROOT, "scripts", "*"))])
WORK_LOG = re.compile(r"\bsessions?\b|\bthe bar\b|\bthis issue\b", re.IGNORECASE)


@pytest.mark.parametrize("path", LESSONS, ids=os.path.basename)
def test_a_lesson_docstring_is_at_most_40_lines(path):
    with open(path) as f:
        doc = ast.get_docstring(ast.parse(f.read()), clean=False)
    assert doc, f"{path} has no module docstring"
    lines = doc.strip("\n").splitlines()
    assert len(lines) <= 40, f"{os.path.basename(path)}: {len(lines)} lines (the rest goes to its docs page)"


def test_no_text_speaks_of_how_the_project_was_built():
    found = []
    for path in TEXTS:
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                for n, line in enumerate(f, 1):
                    if WORK_LOG.search(line):
                        found.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_pattern_finds_work_log_words():
    assert WORK_LOG.search("as in Session 10") and WORK_LOG.search("the bar met")
    assert not WORK_LOG.search("a sessional bar chart") and not WORK_LOG.search("the barrier")


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "docs", "images", "*.png")) +
                                glob.glob(os.path.join(ROOT, "docs", "images", "*.gif"))), ids=os.path.basename)
def test_committed_pictures_are_small(path):
    limit = {".png": 150_000, ".gif": 1_000_000}[os.path.splitext(path)[1]]
    assert os.path.getsize(path) <= limit, f"{path}: {os.path.getsize(path)} bytes"
