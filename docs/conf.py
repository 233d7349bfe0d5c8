"""Sphinx configuration of the django-apiauth documentation (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import os  # noqa: E402

import django  # noqa: E402

# autodoc imports the models: Django must be set up (the suite's settings will do).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django_apiauth import __version__  # noqa: E402

project = "django-apiauth"
author = "django-apiauth maintainers"
copyright = "django-apiauth maintainers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# The API reference lists each module's ``__all__`` only, in source order.
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
templates_path: list[str] = []
html_static_path = ["_static"]
html_theme = "furo"
html_title = f"django-apiauth {release}"
pygments_style = "friendly"
