"""The demo: a generated georeferenced scene through the whole pipeline."""

from .pipeline import main
from .scene import CLASSES, COLORS, make_scene

__all__ = ('CLASSES', 'COLORS', 'main', 'make_scene')
