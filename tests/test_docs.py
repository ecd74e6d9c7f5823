"""The documentation builds without warnings; the examples are sound Python.

The build runs with ``plot_gallery=0``: every page, the API reference and the
gallery's pages are generated and checked, but the examples are not executed
(``make doc`` executes them). This keeps the check to well under a minute.
"""

import ast
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "doc")
EXAMPLES = os.path.join(ROOT, "examples")

pytest.importorskip("sphinx")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("numpydoc")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not os.path.isfile(os.path.join(DOC, "conf.py")):
        pytest.skip("no doc/ in this installation")
    work = tmp_path_factory.mktemp("doc")
    # Build a copy: sphinx-gallery and autosummary write into the source tree.
    source = work / "doc"
    shutil.copytree(DOC, source, ignore=shutil.ignore_patterns(
        "_build", "auto_examples", "generated"))
    shutil.copytree(EXAMPLES, work / "examples")
    out = work / "html"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-D", "plot_gallery=0", str(source), str(out)],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, MPLBACKEND="Agg"),
    )
    return done, out


def test_docs_build_without_warnings(built):
    done, out = built
    assert done.returncode == 0, done.stderr[-5000:]
    assert "WARNING" not in done.stderr, done.stderr[-5000:]


def test_pages_are_generated(built):
    done, out = built
    assert done.returncode == 0
    for page in ("index.html", "quick_start.html", "user_guide.html",
                 "command_line.html", "api.html",
                 "generated/sklearn_rbfm.RelevanceMasker.html",
                 "generated/sklearn_rbfm.cli.save_model.html",
                 "auto_examples/index.html",
                 "auto_examples/plot_detection.html",
                 "auto_examples/plot_masking.html"):
        assert (out / page).is_file(), page
    guide = (out / "user_guide.html").read_text()
    assert "relevance.png" in guide and "fusion_ranking.png" in guide
    masker = (out / "generated" / "sklearn_rbfm.RelevanceMasker.html").read_text()
    assert "negative" in masker and "n_features" in masker


@pytest.mark.parametrize("name", sorted(
    f for f in os.listdir(EXAMPLES) if f.endswith(".py")) if os.path.isdir(
        EXAMPLES) else [])
def test_examples_parse_and_have_a_title(name):
    with open(os.path.join(EXAMPLES, name)) as fh:
        tree = ast.parse(fh.read(), filename=name)
    doc = ast.get_docstring(tree)
    assert doc and doc.splitlines()[0].startswith("="), (
        f"{name} needs a sphinx-gallery title block")
    over, title, under = doc.splitlines()[:3]
    assert len(over) >= len(title) and len(under) >= len(title), (
        f"{name}: the '=' lines of the title must be at least as long as the "
        f"title ({len(title)} characters), or the docs build warns")
