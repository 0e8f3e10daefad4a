"""Every picture and every relative link in the README and the docs pages leads to a file
of the repository: a picture the text shows must exist (scripts/figures.py draws them into
docs/images/), and a page it points to must be there."""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = sorted([os.path.join(ROOT, "README.md")] + glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                                                             recursive=True))
# ![alt](path "title"), [text](path "title"), <img src="path">; the path without #anchor
LINK = re.compile(r'!?\[[^\]]*\]\((?P<md>[^)\s]+)(?:\s+"[^"]*")?\)|<img\s+src="(?P<img>[^"]+)"')


def targets(text):
    for m in LINK.finditer(text):
        path = (m.group("md") or m.group("img")).split("#")[0]
        if path and not re.match(r"[a-z]+:", path):              # http:, https:, mailto:
            yield text.count("\n", 0, m.start()) + 1, path


def test_the_pattern_finds_pictures_links_and_img_tags():
    text = '![a](images/x.png)\n[b](../results.md "02_dcgan fd")\n<img src="y.gif" width="3">\n[c](https://e.org)'
    assert list(targets(text)) == [(1, "images/x.png"), (2, "../results.md"), (3, "y.gif")]


def linked_files(page):
    """(line, the path as written, the file it names) for every relative link of a page."""
    with open(page, encoding="utf-8") as f:
        text = f.read()
    for line, path in targets(text):
        yield line, path, os.path.normpath(os.path.join(os.path.dirname(page), path))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_relative_link_and_picture_exists(page):
    missing = [f"{os.path.relpath(page, ROOT)}:{line}: {path}" for line, path, file in linked_files(page)
               if not os.path.exists(file)]
    assert not missing, "links to files that do not exist:\n" + "\n".join(missing)


def test_every_committed_picture_is_shown_somewhere():
    """docs/images/ holds only what the README and the docs pages show: a picture no page
    links is a generated file that should not be committed (or a page that forgot it)."""
    shown = {file for page in PAGES for _, _, file in linked_files(page)}
    pictures = [p for p in glob.glob(os.path.join(ROOT, "docs", "images", "*")) if p.endswith((".png", ".gif"))]
    assert pictures
    unshown = sorted(os.path.relpath(p, ROOT) for p in pictures if os.path.normpath(p) not in shown)
    assert not unshown, "pictures in docs/images that no page shows:\n" + "\n".join(unshown)
