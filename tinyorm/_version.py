"""The one place tinyorm's version is written; packaging and ``tinyorm.__version__`` read it."""

__version__ = "0.1.0"
