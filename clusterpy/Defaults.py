"""Library-wide defaults, read from ``defaults.conf``.

``DEFAULTS`` holds the values every new Task and NodeSet starts from.  They
come from built-in values, overridden by the ``defaults.conf`` files found on
the configuration search path (see :func:`config_paths`), and may be changed
by assignment before the objects that use them are created::

    from clusterpy.Defaults import DEFAULTS
    DEFAULTS.distant_workername = "rsh"
    DEFAULTS.fanout = 128

Keys by section of ``defaults.conf``:

``[task.default]``
    stderr, stdin, stdout_msgtree, stderr_msgtree, auto_tree (booleans),
    engine, local_workername, distant_workername (strings), port_qlimit
    (integer, kept for 1.8 configuration files)
``[task.info]``
    debug (boolean), fanout (integer), grooming_delay, connect_timeout,
    command_timeout (floats); ``print_debug`` is settable from Python only;
    clusterpy's ssh connection reuse: ssh_reuse (persist seconds, or a
    boolean; 0/no: off), ssh_reuse_max (integer), ssh_reuse_dir (string)
``[nodeset]``
    fold_axis (comma-separated integers, empty for none)
``[engine]``
    port_qlimit (integer)

This module imports no other clusterpy module, and reads configuration
files with ``configparser`` only when one of them exists.
"""
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Tuple, Union

CFG_SECTION_TASK_DEFAULT = "task.default"
CFG_SECTION_TASK_INFO = "task.info"
CFG_SECTION_NODESET = "nodeset"
CFG_SECTION_ENGINE = "engine"


def _task_print_debug(task: Any, line: str) -> None:
    """Print a task debug line on stdout (the default ``print_debug``)."""
    print(line)


def config_paths(config_name: str) -> List[str]:
    """Paths where a configuration file named `config_name` is looked for.

    Files are read in list order, so that a value set in a later file wins:
    system-wide directory, pip ``--user`` prefix, the Python installation
    prefix (virtual environments), the XDG user directory and, last and
    strongest, ``$CLUSTERSHELL_CFGDIR`` when it is set.
    """
    env = os.environ
    # an empty XDG_CONFIG_HOME counts as unset, as the XDG spec says
    xdg_home = env.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    dirs = ["/etc/clustershell",
            os.path.expanduser("~/.local/etc/clustershell"),
            os.path.join(sys.prefix, "etc", "clustershell"),
            os.path.join(xdg_home, "clustershell")]
    if "CLUSTERSHELL_CFGDIR" in env:
        dirs.append(env["CLUSTERSHELL_CFGDIR"])
    return [os.path.join(cfgdir, config_name) for cfgdir in dirs]


#
# Worker class loading (used by Task and the CLI)
#

_WORKER_PACKAGE = "clusterpy.Worker."


def _import_worker_module(modname: str):
    import importlib
    return importlib.import_module(modname)


def _load_workerclass(workername: str) -> type:
    """Return the ``WORKER_CLASS`` of the worker module named `workername`.

    A short name such as ``ssh`` or ``exec`` names a module of the
    ``clusterpy.Worker`` package (``clusterpy.Worker.Ssh``); any other name
    is imported as a module path (an out-of-tree worker).  ``ClusterShell.``
    module paths are served by their clusterpy counterpart.  An unknown name
    raises ImportError.
    """
    if workername.startswith("ClusterShell."):
        workername = "clusterpy." + workername[len("ClusterShell."):]
    modname = _WORKER_PACKAGE + workername.capitalize()
    try:
        module = _import_worker_module(modname)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if modname != missing and not modname.startswith(missing + "."):
            raise  # the worker module exists but something it needs does not
        module = _import_worker_module(workername)
    return module.WORKER_CLASS


def _local_workerclass(defaults: "Defaults") -> type:
    """Worker class that runs local commands, as set in `defaults`."""
    return _load_workerclass(defaults.local_workername)


def _distant_workerclass(defaults: "Defaults") -> type:
    """Worker class that runs commands on nodes, as set in `defaults`."""
    return _load_workerclass(defaults.distant_workername)


#
# defaults.conf schema
#

def _int_tuple(text: str) -> Tuple[int, ...]:
    """'0, 2' -> (0, 2); empty items are skipped, so '' -> ()."""
    return tuple(int(item) for item in text.split(",") if item.strip())


# Converters, named after ConfigParser's getters they stand for.
def _get_bool(cfg, section, key):
    return cfg.getboolean(section, key)


def _get_int(cfg, section, key):
    return cfg.getint(section, key)


def _get_float(cfg, section, key):
    return cfg.getfloat(section, key)


def _get_str(cfg, section, key):
    return cfg.get(section, key)


def _get_int_tuple(cfg, section, key):
    return _int_tuple(cfg.get(section, key))


def _get_duration(cfg, section, key):
    """yes/no/on/off/true/false as a boolean, else seconds: a number with
    an optional s, m or h unit (ssh_reuse)."""
    text = cfg.get(section, key).strip().lower()
    if text in cfg.BOOLEAN_STATES:
        return cfg.getboolean(section, key)
    scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1:])
    try:
        return float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        raise ValueError("could not convert to a duration: %r" % text) from None


# (store attribute, config section, {key: (built-in value, converter)})
# A key with no converter cannot be set from a file.
_Schema = Tuple[str, str, Dict[str, Tuple[Any, Callable]]]
_SCHEMA: Tuple[_Schema, ...] = (
    ("_task_default", CFG_SECTION_TASK_DEFAULT, {
        "stderr": (False, _get_bool),
        "stdin": (True, _get_bool),
        "stdout_msgtree": (True, _get_bool),
        "stderr_msgtree": (True, _get_bool),
        "engine": ("auto", _get_str),
        "port_qlimit": (100, _get_int),
        "auto_tree": (True, _get_bool),
        "local_workername": ("exec", _get_str),
        "distant_workername": ("ssh", _get_str),
        # tree mode: the module a head runs on its gateways (python -m ...)
        "tree_gateway_module": ("clusterpy.Gateway", _get_str),
    }),
    ("_task_info", CFG_SECTION_TASK_INFO, {
        "debug": (False, _get_bool),
        "print_debug": (_task_print_debug, None),
        "fanout": (64, _get_int),
        "grooming_delay": (0.25, _get_float),
        "connect_timeout": (10, _get_float),
        "command_timeout": (0, _get_float),
        "ssh_reuse": (0, _get_duration),
        "ssh_reuse_max": (512, _get_int),
        "ssh_reuse_dir": ("", _get_str),
    }),
    ("_nodeset", CFG_SECTION_NODESET, {
        "fold_axis": ((), _get_int_tuple),
    }),
    ("_engine", CFG_SECTION_ENGINE, {
        "port_qlimit": (100, _get_int),
    }),
)

# store -> {key: built-in value}
_SCHEMA_DEFAULTS = {store: {key: spec[0] for key, spec in keys.items()}
                    for store, _, keys in _SCHEMA}

# real instance attributes: the value dicts and the tree-mode blacklist
_PRIVATE = frozenset([store for store, _, _ in _SCHEMA] + ["_task_info_pkeys_bl"])

# attribute name -> store holding it; when a name is in several stores the
# first in this lookup order wins: engine, task default, task info, nodeset
_ROUTE: Dict[str, str] = {}
for _store in ("_nodeset", "_task_info", "_task_default", "_engine"):
    _ROUTE.update(dict.fromkeys(
        next(keys for name, _, keys in _SCHEMA if name == _store), _store))
del _store

# info keys that must not be sent to gateways in tree mode
_INFO_KEYS_NOT_PROPAGATED = ("engine", "print_debug")

FileNames = Union[str, bytes, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]


def _filename_list(filenames: FileNames) -> list:
    """The file list ConfigParser.read() would go through."""
    if isinstance(filenames, (str, bytes, os.PathLike)):
        return [filenames]
    return list(filenames)


def _origin(files: list, section: str, key: str) -> str:
    """Name of the last file of `files` that sets `key` in `section`."""
    from configparser import ConfigParser, Error
    for path in reversed(files):
        single = ConfigParser()
        try:
            single.read(path)
        except Error:
            continue
        if single.has_option(section, key):
            return os.fsdecode(path)
    return "defaults.conf"


class Defaults:
    """ClusterShell library defaults, with attribute access.

    ``Defaults(filenames)`` starts from the built-in values and applies the
    readable files of `filenames` (one path or a list of paths; missing
    files are skipped, later files win).  Every default is an attribute
    (``defaults.fanout``), readable and assignable; assigning a name that is
    not a default raises AttributeError.  A value in a file that does not
    convert to the key's type raises ValueError naming file, section and key.
    """

    def __init__(self, filenames: FileNames) -> None:
        for store, values in _SCHEMA_DEFAULTS.items():
            setattr(self, store, dict(values))
        self._task_info_pkeys_bl = list(_INFO_KEYS_NOT_PROPAGATED)
        files = _filename_list(filenames)
        # configparser is only needed (and imported) when a file exists
        if any(os.path.exists(path) for path in files):
            self._read(files)

    def _read(self, files: list) -> None:
        from configparser import ConfigParser
        config = ConfigParser()
        if not config.read(files):
            return
        for store, section, keys in _SCHEMA:
            if not config.has_section(section):
                continue
            values = self.__dict__[store]
            for key, (_, convert) in keys.items():
                if convert is None or not config.has_option(section, key):
                    continue
                try:
                    values[key] = convert(config, section, key)
                except ValueError as exc:
                    raise ValueError("%s: [%s] %s: %s"
                                     % (_origin(files, section, key), section,
                                        key, exc)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        # defaults are properties (below); any other public name is refused
        if name not in _ROUTE and name not in _PRIVATE:
            raise AttributeError(name)
        object.__setattr__(self, name, value)


def _default_property(store: str, name: str) -> property:
    """Attribute `name` of Defaults, kept in the dict attribute `store`."""
    def fget(self):
        return self.__dict__[store][name]

    def fset(self, value):
        self.__dict__[store][name] = value
    return property(fget, fset)


def _get_port_qlimit(self) -> int:
    state = self.__dict__
    limit = state["_engine"]["port_qlimit"]
    if limit == _SCHEMA_DEFAULTS["_engine"]["port_qlimit"]:
        # not changed in [engine]: a 1.8 file may set it in [task.default]
        return state["_task_default"]["port_qlimit"]
    return limit


# properties are looked up faster than a __getattr__ fallback: NodeSet
# reads DEFAULTS.fold_axis for every new set
for _name, _store in _ROUTE.items():
    setattr(Defaults, _name, _default_property(_store, _name))
Defaults.port_qlimit = property(_get_port_qlimit,
                                _default_property("_engine", "port_qlimit").fset)
del _name, _store


#: The defaults used by every Task and NodeSet unless told otherwise.
DEFAULTS = Defaults(config_paths("defaults.conf"))
