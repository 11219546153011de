"""setuptools entry point: the cffi build of the C core, and the man pages.

Everything else about the package lives in pyproject.toml.
"""
from setuptools import setup

# installed under <prefix>/share/man, where man(1) looks next to <prefix>/bin
MAN_PAGES = [
    ("share/man/man1", ["docs/man/clush.1", "docs/man/cluset.1", "docs/man/nodeset.1",
                        "docs/man/clubak.1"]),
    ("share/man/man5", ["docs/man/clush.conf.5", "docs/man/groups.conf.5"]),
]

setup(cffi_modules=["clusterpy/_build_core.py:ffibuilder"], data_files=MAN_PAGES)
