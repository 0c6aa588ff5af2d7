"""Sphinx configuration of the torchgeo-als4gan documentation (``make docs``)."""

import os
import sys

sys.path.insert(0, os.path.abspath('..'))

import torchgeo_als4gan

project = 'torchgeo-als4gan'
author = 'torchgeo-als4gan developers'
release = version = torchgeo_als4gan.__version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.md': 'markdown'}
exclude_patterns = ['_build']
myst_heading_anchors = 3

# Google docstrings, as TorchGeo writes them
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'members': True, 'show-inheritance': True}

html_theme = 'alabaster'
html_title = 'torchgeo-als4gan'
