"""The docs stay true and the README stays a guide: every relative link in README.md, docs/
and protocols/ resolves, and README.md fits a few screens."""
import glob
import os
import re

from conftest import ROOT


def test_every_relative_link_resolves():
    broken = []
    pages = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "BENCHMARKS.md")]
    pages += glob.glob(os.path.join(ROOT, "docs", "*.md")) + glob.glob(os.path.join(ROOT, "protocols", "*.md"))
    for page in pages:
        with open(page) as f:
            for target in re.findall(r"\]\(([^)\s]+)\)", f.read()):
                if re.match(r"(https?:|#|mailto:)", target):
                    continue
                path = os.path.normpath(os.path.join(os.path.dirname(page), target.split("#")[0]))
                if not os.path.exists(path):
                    broken.append((os.path.relpath(page, ROOT), target))
    assert broken == []


def test_the_readme_is_a_guide_and_names_the_test_command():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    assert len(text.splitlines()) <= 200
    assert "scripts/test.sh" in text
