"""clusterpy: a C-accelerated, drop-in replacement for ClusterShell 1.10.1.

The public modules mirror ClusterShell's, under the ``clusterpy`` prefix:
``clusterpy.Task``, ``clusterpy.NodeSet``, ``clusterpy.RangeSet``,
``clusterpy.Worker.Ssh``... A script written for ClusterShell migrates by
renaming its imports, or runs unchanged after::

    import clusterpy
    clusterpy.install_as_clustershell()
    from ClusterShell.Task import task_self   # now clusterpy's

Importing this package is cheap: it loads no submodule.
"""

import importlib
import sys
import types

__version__ = "0.1.0"
__version_info__ = tuple(int(_n) for _n in __version__.split("."))

#: the ClusterShell release whose API and behaviour clusterpy follows
CLUSTERSHELL_VERSION = "1.10.1"

_ALIAS = "ClusterShell"


# The finder and loader follow the import protocols without subclassing
# importlib.abc, whose import (importlib.resources, pathlib, re, tempfile...)
# would cost more than the rest of a clusterpy import.

class _AliasLoader(object):
    """Hands out an already imported clusterpy module under its alias."""

    def __init__(self, module):
        self._module = module

    def create_module(self, spec):
        return self._module

    def exec_module(self, module):
        pass


class _AliasFinder(object):
    """Resolves ``ClusterShell.X.Y`` to the very module ``clusterpy.X.Y``.

    The same module object is registered under both names, so that classes,
    task registries and isinstance() checks are shared, never duplicated.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        from importlib.util import spec_from_loader
        if fullname == _ALIAS:
            alias = _alias_package()
            alias._clusterpy_alias = True
            return spec_from_loader(fullname, _AliasLoader(alias), is_package=True)
        realname = __name__ + fullname[len(_ALIAS):]
        try:
            module = importlib.import_module(realname)
        except ImportError:
            return None
        return spec_from_loader(fullname, _AliasLoader(module))


def _alias_package():
    """The top-level ``ClusterShell`` package: clusterpy's names, with the
    version attributes of the ClusterShell release it stands in for."""
    alias = types.ModuleType(_ALIAS, __doc__)
    alias.__path__ = []  # a package: submodules come from _AliasFinder
    alias.__version__ = CLUSTERSHELL_VERSION
    alias.__version_info__ = tuple(int(_n) for _n in CLUSTERSHELL_VERSION.split("."))
    alias.__getattr__ = lambda name: getattr(sys.modules[__name__], name)
    return alias


def _pickle_fallback():
    """Let pickles made by ClusterShell (they name ``ClusterShell.NodeSet``
    and ``ClusterShell.RangeSet``) load with clusterpy alone: when no real
    ClusterShell is importable, ``ClusterShell.*`` resolves to clusterpy as
    a last resort (the finder goes last, after every real one)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())


def install_as_clustershell():
    """Make ``import ClusterShell...`` give clusterpy's modules.

    Call it before the first ClusterShell import.  It is idempotent.  If the
    real ClusterShell was already imported, it raises ImportError rather than
    mixing the two libraries in one process.
    """
    current = sys.modules.get(_ALIAS)
    if current is not None and not getattr(current, "_clusterpy_alias", False):
        raise ImportError("ClusterShell is already imported; call "
                          "clusterpy.install_as_clustershell() before importing it")
    if current is None:
        alias = _alias_package()
        alias._clusterpy_alias = True
        sys.modules[_ALIAS] = alias
    if not sys.meta_path or not isinstance(sys.meta_path[0], _AliasFinder):
        sys.meta_path.insert(0, _AliasFinder())
