"""Sphinx configuration of the django-apiauth documentation (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from django_apiauth import __version__  # noqa: E402

project = "django-apiauth"
author = "django-apiauth maintainers"
copyright = "django-apiauth maintainers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
templates_path: list[str] = []
html_static_path = ["_static"]
html_theme = "furo"
html_title = f"django-apiauth {release}"
pygments_style = "friendly"
