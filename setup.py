"""Kept for tools and habits that call ``python setup.py``; every setting lives in
pyproject.toml (metadata, extras, the version read from tinyorm/_version.py)."""

from setuptools import setup

setup()
