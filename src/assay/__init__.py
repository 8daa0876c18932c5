"""Assay: audit an AI system before launch, and watch it after launch."""

from assay._version import __version__

__all__ = ["__version__"]
