"""Sphinx configuration for the airflow-secretsync docs (built with -W by `make docs`)."""

project = "airflow-secretsync"
author = "airflow-secretsync maintainers"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinxcontrib.svgbob"]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
myst_enable_extensions = ["colon_fence"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
suppress_warnings = ["myst.header"]
