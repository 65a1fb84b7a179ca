"""The shipped fonts live in :mod:`slidestream._fonts`; this module keeps the renderer's import."""

from .._fonts import *  # noqa: F403
