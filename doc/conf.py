"""Sphinx configuration of the sklearn_rbfm documentation.

The gallery examples run when the documentation is built (``make doc``);
``-D plot_gallery=0`` builds every page without running them, which is what
the test suite does to keep the documentation warning-free cheaply.
"""

import os
import re
import warnings

import sklearn_rbfm

project = "sklearn_rbfm"
author = "sklearn_rbfm developers"
copyright = "2026, sklearn_rbfm developers"
version = release = sklearn_rbfm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples"]
root_doc = "index"
html_theme = "alabaster"
html_static_path = []

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": os.path.join(os.path.dirname(__file__), "..", "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "doc_module": ("sklearn_rbfm",),
    "backreferences_dir": "generated/backreferences",
}

# Examples run with a non-interactive backend and without TensorFlow's
# start-up chatter.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

# Shapes in docstrings name fitted attributes as in the code, e.g.
# "ndarray of shape (n_features_in_,)"; reStructuredText would read the
# trailing underscore as a hyperlink reference, so render them literally.
_SHAPE_ATTRIBUTE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=\s*[,)])")


def _literal_shape_attributes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "shape (" in line or "shape=(" in line:
            lines[i] = _SHAPE_ATTRIBUTE.sub(r"``\1``", line)


def setup(app):
    app.connect("autodoc-process-docstring", _literal_shape_attributes)
