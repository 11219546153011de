"""setuptools entry point: only here for the cffi build of the C core.

Everything else about the package lives in pyproject.toml.
"""
from setuptools import setup

setup(cffi_modules=["clusterpy/_build_core.py:ffibuilder"])
