"""Node groups: where ``@name`` in a node set gets its nodes from.

A *group source* is one namespace of groups (``@source:group``).  It answers
four questions, each as text holding node sets or group names separated by
white space or new lines:

- ``resolv_map(group)``: the nodes of a group,
- ``resolv_list()``: the names of all groups,
- ``resolv_all()``: all nodes (the ``@*`` operator),
- ``resolv_reverse(node)``: the groups holding a node (optional).

Sources come in three kinds: :class:`GroupSource` (a dict held in memory),
:class:`FileGroupSource` (one top-level key of a YAML file of
``groups.d/``, reloaded after ``cache_time``) and :class:`UpcallGroupSource`
(shell commands from ``groups.conf``, their output cached for
``cache_time``).  A :class:`GroupResolver` gathers sources by name and has
a default one; :class:`GroupResolverConfig` builds its sources from the
``groups.conf`` files found on the configuration search path, the first time
it is asked something.

Shell commands, the YAML parser, configparser and logging are imported only
when first needed, so that importing this module stays cheap.
"""
import os
import time
from functools import wraps
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Union

# the values of subprocess.PIPE and subprocess.DEVNULL (same constants)
PIPE = -1
DEVNULL = -3

_DEFAULT_CACHE_TIME = 3600

# upcall names, as used in groups.conf and as keys of UpcallGroupSource.upcalls
_UPCALLS = ("map", "all", "list", "reverse", "mapall")


def _logger():
    import logging
    return logging.getLogger(__name__)


class GroupSourceError(Exception):
    """A group source could not answer; ``group_source`` is that source."""

    def __init__(self, message: str, group_source: Any) -> None:
        super().__init__(message)
        self.group_source = group_source


class GroupSourceNoUpcall(GroupSourceError):
    """The source has no way to answer this kind of query."""


class GroupSourceQueryFailed(GroupSourceError):
    """The query ran but failed (for an upcall: the command exited non-zero)."""


class GroupResolverError(Exception):
    """Base class of group resolver errors."""


class GroupResolverSourceError(GroupResolverError):
    """The group source named in the message does not exist."""


class GroupResolverIllegalCharError(GroupResolverError):
    """A group name holds characters that a group name may not hold."""


class GroupResolverConfigError(GroupResolverError):
    """A group configuration file is wrong."""


#
# Group sources
#

class GroupSource:
    """A group source held in memory.

    `groups` maps a group name to its nodes (a node set string, or a list
    of them); `allgroups`, when given, is the answer of :meth:`resolv_all`.
    """

    def __init__(self, name: str, groups: Optional[Dict[str, Any]] = None,
                 allgroups: Optional[str] = None) -> None:
        self.name = name
        self.groups = {} if not groups else groups
        self.allgroups = allgroups
        self.has_reverse = False

    def resolv_map(self, group: str) -> Any:
        """Nodes of `group`; an unknown group has none ('')."""
        return self.groups.get(group, "")

    def resolv_list(self) -> Any:
        """Names of all groups of this source."""
        return list(self.groups)

    def resolv_all(self) -> Any:
        """All nodes of this source, if the source knows them."""
        everything = self.allgroups
        if everything is None:
            raise GroupSourceNoUpcall("All groups info not available", self)
        return everything

    def resolv_reverse(self, node: str) -> Any:
        """Groups holding `node`: not available from a dict source."""
        raise GroupSourceNoUpcall("Not implemented", self)


class FileGroupSource(GroupSource):
    """One group source of a group file, read through its `loader`.

    The loader (a :class:`YAMLGroupLoader`) owns the file content and
    reloads it when its cache time has passed; the ``all`` group, if the
    file has one, answers :meth:`resolv_all`.
    """

    def __init__(self, name: str, loader: "YAMLGroupLoader") -> None:
        # groups and allgroups are read-only properties here, so the base
        # initializer (which assigns them) is not called
        self.name = name
        self.loader = loader
        self.has_reverse = False

    @property
    def groups(self) -> Dict[str, Any]:
        """This source's group -> nodes dict, fresh from the loader."""
        return self.loader.groups(self.name)

    @property
    def allgroups(self) -> Optional[Any]:
        """Nodes of the ``all`` group, or None when there is none."""
        return self.groups.get("all")


class UpcallGroupSource(GroupSource):
    """A group source that asks shell commands (upcalls).

    Each upcall is a command line run with ``/bin/sh`` in `cfgdir` (the
    directory of the configuration file that defined it), after the
    substitution of ``$GROUP`` (map), ``$NODE`` (reverse), ``$SOURCE`` (the
    source name) and ``$CFGDIR``.  Its standard output is the answer; a
    non-zero exit status raises :class:`GroupSourceQueryFailed` whose
    message is the command line.  Answers are cached for `cache_time`
    seconds (default 3600); :meth:`clear_cache` forgets them all.

    The optional `mapall_upcall` prints every group at once, one
    ``group: nodes`` line per group.  When present it serves map and list
    queries from one call; a map upcall, if any, still answers for groups
    that mapall did not print.
    """

    def __init__(self, name: str, map_upcall: Optional[str] = None,
                 all_upcall: Optional[str] = None,
                 list_upcall: Optional[str] = None,
                 reverse_upcall: Optional[str] = None,
                 cfgdir: Optional[str] = None,
                 cache_time: Optional[float] = None,
                 mapall_upcall: Optional[str] = None) -> None:
        super().__init__(name)
        self.verbosity = 0  # deprecated, kept for set_verbosity()
        self.cfgdir = cfgdir
        self._logger_obj = None
        commands = (map_upcall, all_upcall, list_upcall, reverse_upcall,
                    mapall_upcall)
        self.upcalls = {kind: cmd for kind, cmd in zip(_UPCALLS, commands)
                        if cmd}
        self.has_reverse = "reverse" in self.upcalls
        self.cache_time = _DEFAULT_CACHE_TIME if cache_time is None \
            else cache_time
        self.clear_cache()

    @property
    def logger(self):
        """The logger upcalls are reported to (at DEBUG level)."""
        if self._logger_obj is None:
            self._logger_obj = _logger()
        return self._logger_obj

    @logger.setter
    def logger(self, value) -> None:
        self._logger_obj = value

    def clear_cache(self) -> None:
        """Forget every cached answer, fresh or not."""
        # 'map' and 'reverse' hold one (answer, expiry) entry per key; the
        # single answers ('list', 'all', 'mapall') are added when fetched
        self._cache = {"map": {}, "reverse": {}}

    def _upcall_read(self, cmdtpl: str, args: Optional[Dict[str, Any]] = None) -> str:
        """Run the upcall named `cmdtpl` with the substitutions of `args`;
        return its output without surrounding white space."""
        from string import Template
        cmdline = Template(self.upcalls[cmdtpl]).safe_substitute(args or {})
        logger = self.logger
        logger.debug("EXEC '%s'", cmdline)
        status, output = _run_shell(cmdline, self.cfgdir, self)
        output = output.strip()
        logger.debug("READ '%s'", output)
        if status != 0:
            logger.debug("ERROR '%s' returned %d", cmdline, status)
            raise GroupSourceQueryFailed(cmdline, self)
        return output

    def _lookup(self, upcall: str, table: Dict[str, Any], key: str,
                **subst: str) -> Any:
        """Answer `key` from `table` (a cache dict), running `upcall` when
        the entry is missing or stale."""
        entry = table.get(key)
        if entry is not None:
            if entry[1] >= time.monotonic():
                return entry[0]
            del table[key]
        if not self.upcalls.get(upcall):
            raise GroupSourceNoUpcall(upcall, self)
        expiry = time.monotonic() + self.cache_time
        subst["CFGDIR"] = self.cfgdir
        subst["SOURCE"] = self.name
        answer = self._upcall_read(upcall, subst)
        table[key] = (answer, expiry)
        return answer

    def _refresh_mapall(self) -> None:
        """Fill the map and list caches from the mapall upcall, unless there
        is none or its last answer is still fresh."""
        if "mapall" not in self.upcalls:
            return
        cache = self._cache
        entry = cache.get("mapall")
        if entry is not None and entry[1] >= time.monotonic():
            return
        text = self._lookup("mapall", cache, "mapall")
        expiry = cache["mapall"][1]
        try:
            parsed = _parse_mapall(text, self)
        except GroupSourceQueryFailed:
            del cache["mapall"]  # retry on next query rather than keep junk
            raise
        cache["map"] = {group: (nodes, expiry)
                        for group, nodes in parsed.items()}
        cache["list"] = (" ".join(parsed), expiry)

    def resolv_map(self, group: str) -> str:
        """Nodes of `group` (cached)."""
        self._refresh_mapall()
        if "map" in self.upcalls or "mapall" not in self.upcalls:
            return self._lookup("map", self._cache["map"], group, GROUP=group)
        # mapall alone: a group it did not print has no nodes
        entry = self._cache["map"].get(group)
        return "" if entry is None else entry[0]

    def resolv_list(self) -> str:
        """Names of all groups (cached)."""
        self._refresh_mapall()
        if "list" in self.upcalls or "mapall" not in self.upcalls:
            return self._lookup("list", self._cache, "list")
        return self._cache["list"][0]

    def resolv_all(self) -> str:
        """All nodes (cached)."""
        return self._lookup("all", self._cache, "all")

    def resolv_reverse(self, node: Any) -> str:
        """Groups holding `node` (cached)."""
        node = str(node)
        return self._lookup("reverse", self._cache["reverse"], node,
                            NODE=node)


def _parse_mapall(text: str, source: GroupSource) -> Dict[str, str]:
    """Parse mapall output into {group: nodes}, in order of appearance;
    a group given on several lines gets the union of them."""
    groups: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        group, colon, nodes = line.partition(":")
        group = group.strip()
        if not colon or not group or len(group.split()) != 1:
            raise GroupSourceQueryFailed(
                "mapall: invalid line %r (expected 'group: nodes')" % line,
                source)
        nodes = nodes.strip()
        known = groups.get(group)
        if known:
            nodes = known + "," + nodes if nodes else known
        groups[group] = nodes
    return groups


def _run_shell(cmdline: str, cwd: Optional[str],
               source: GroupSource) -> "tuple[int, str]":
    """Run `cmdline` with /bin/sh in `cwd`, stdin from /dev/null and stderr
    left to ours; return (exit status, stdout text).  The child never
    outlives the call, even when it is interrupted."""
    import subprocess
    try:
        proc = subprocess.Popen(cmdline, shell=True, cwd=cwd,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                universal_newlines=True)
    except OSError as exc:
        raise GroupSourceQueryFailed("%s: %s" % (cmdline, exc), source) \
            from exc
    try:
        output = proc.communicate()[0]
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.stdout.close()
    return proc.returncode, output


#
# YAML group files
#

class YAMLGroupLoader:
    """Reads a YAML group file: one top-level key per group source, each
    holding a ``group: nodes`` mapping.

    Iterating the loader gives one :class:`FileGroupSource` per source of
    the file.  The file is read again when a source asks for its groups
    after `cache_time` seconds (default 3600); a reload updates the groups
    of known sources and ignores sources added since.  PyYAML is needed
    (a dependency of the package, as of ClusterShell's).
    """

    def __init__(self, filename: str, cache_time: Optional[float] = None) -> None:
        self.cache_time = _DEFAULT_CACHE_TIME if cache_time is None \
            else cache_time
        self.cache_expiry = 0.0
        self.filename = filename
        self.sources: Dict[str, FileGroupSource] = {}
        self._groups: Dict[str, Dict[str, Any]] = {}
        self._load()

    def _fail(self, what: str) -> GroupResolverConfigError:
        return GroupResolverConfigError("%s: %s" % (self.filename, what))

    def _load(self) -> None:
        """(Re)read the file; the first read creates the sources."""
        with open(self.filename) as stream:
            try:
                import yaml
            except ImportError as exc:
                raise self._fail("%s (Disable autodir or install PyYAML!)"
                                 % exc) from None
            try:
                content = yaml.safe_load(stream)
            except yaml.YAMLError as exc:
                raise self._fail(str(exc)) from None
        if not isinstance(content, dict):
            raise self._fail("invalid content (base is not a dict)")
        initial = not self.sources
        for srcname, groups in content.items():
            if not isinstance(srcname, str):
                raise self._fail("group source %s not a string (add quotes?)"
                                 % srcname)
            if not isinstance(groups, dict):
                raise self._fail("invalid content (group source '%s' is not"
                                 " a dict)" % srcname)
            for group, nodes in groups.items():
                if not isinstance(group, str):
                    raise self._fail("%s: group name %s not a string (add"
                                     " quotes?)" % (srcname, group))
                if nodes is None:  # "group:" with no value: no nodes
                    groups[group] = ""
            if initial:
                self.sources[srcname] = FileGroupSource(srcname, self)
            elif srcname not in self.sources:
                continue  # sources are only created on the first read
            self._groups[srcname] = groups
        self.cache_expiry = time.monotonic() + self.cache_time

    def __iter__(self) -> Iterator[FileGroupSource]:
        return iter(self.sources.values())

    def groups(self, sourcename: str) -> Dict[str, Any]:
        """Group -> nodes dict of source `sourcename`, reloading the file
        first if the cache time has passed."""
        if self.cache_expiry < time.monotonic():
            self._load()
        return self._groups[sourcename]


#
# Resolvers
#

def _node_words(raw: Any) -> List[str]:
    """Node set strings of a map or all answer: a string, or a list of
    strings joined by commas."""
    if isinstance(raw, list):
        raw = ",".join(raw)
    return [word for line in raw.splitlines() for word in line.split()]


def _group_words(raw: Any) -> Iterator[str]:
    """Group names of a list or reverse answer: a string, or an iterable of
    strings (one per line)."""
    try:
        lines = raw.splitlines()
    except AttributeError:
        lines = raw
    for line in lines:
        yield from line.split()


class GroupResolver:
    """Resolves groups through named group sources.

    `default_source` (a group source) serves queries that name no source.
    `illegal_chars` is a set of characters that group names returned by
    :meth:`grouplist` and :meth:`node_groups` may not hold
    (:class:`GroupResolverIllegalCharError`).  Subclasses that build their
    sources late do it in ``_late_init()``, run before the first query.
    """

    def __init__(self, default_source: Optional[GroupSource] = None,
                 illegal_chars: Optional[Set[str]] = None) -> None:
        self._sources: Dict[str, GroupSource] = {}
        self._default_source = default_source
        self._initialized = False
        self.illegal_chars: Set[str] = illegal_chars or set()

    def _late_init(self) -> None:
        """Register the default source; subclasses extend this."""
        default = self._default_source
        if default:
            self._sources[default.name] = default
        self._initialized = True

    def init(func: Callable) -> Callable:  # type: ignore[misc]
        """Decorator for methods that need the resolver initialized."""
        @wraps(func)
        def initialized_first(self, *args, **kwargs):
            if not self._initialized:
                self._late_init()
            return func(self, *args, **kwargs)
        return initialized_first

    @init
    def set_verbosity(self, value: int) -> None:
        """Deprecated: upcalls are reported through logging."""
        import warnings
        warnings.warn("set_verbosity() is deprecated; use logging instead",
                      DeprecationWarning, stacklevel=2)
        for source in self._sources.values():
            source.verbosity = value

    @init
    def add_source(self, group_source: GroupSource) -> None:
        """Register `group_source` under its name (ValueError if taken)."""
        name = group_source.name
        if name in self._sources:
            raise ValueError("GroupSource '%s': name collision" % name)
        self._sources[name] = group_source

    @init
    def sources(self) -> List[str]:
        """Names of all sources, the default one first."""
        names = list(self._sources)
        default = self._default_source
        if default is not None and default.name in self._sources:
            names.remove(default.name)
            names.insert(0, default.name)
        return names

    @init
    def _get_default_source_name(self) -> Optional[str]:
        default = self._default_source
        return None if default is None else default.name

    @init
    def _set_default_source_name(self, sourcename: str) -> None:
        try:
            self._default_source = self._sources[sourcename]
        except KeyError:
            raise GroupResolverSourceError(sourcename) from None

    default_source_name = property(
        _get_default_source_name, _set_default_source_name,
        doc="Name of the default source (None if there is none); setting "
            "an unknown name raises GroupResolverSourceError.")

    @init
    def _source(self, namespace: Optional[str]) -> GroupSource:
        """The source called `namespace`, or the default one."""
        if namespace:
            source = self._sources.get(namespace)
        else:
            source = self._default_source
        if not source:
            raise GroupResolverSourceError(namespace or "<default>")
        return source

    def _check_names(self, names: Iterator[str]) -> List[str]:
        illegal = self.illegal_chars
        if not illegal:
            return list(names)
        checked = []
        for name in names:
            found = illegal.intersection(name)
            if found:
                raise GroupResolverIllegalCharError(" ".join(sorted(found)))
            checked.append(name)
        return checked

    def group_nodes(self, group: str, namespace: Optional[str] = None) -> List[str]:
        """Node set strings making up `group` of source `namespace`."""
        return _node_words(self._source(namespace).resolv_map(group))

    def all_nodes(self, namespace: Optional[str] = None) -> List[str]:
        """Node set strings making up all nodes of source `namespace`."""
        return _node_words(self._source(namespace).resolv_all())

    def grouplist(self, namespace: Optional[str] = None) -> List[str]:
        """Names of all groups of source `namespace`."""
        return self._check_names(_group_words(self._source(namespace).resolv_list()))

    def has_node_groups(self, namespace: Optional[str] = None) -> bool:
        """Whether source `namespace` can tell the groups of a node."""
        try:
            return self._source(namespace).has_reverse
        except GroupResolverSourceError:
            return False

    def node_groups(self, node: str, namespace: Optional[str] = None) -> List[str]:
        """Names of the groups of source `namespace` that hold `node`."""
        source = self._source(namespace)
        return self._check_names(_group_words(source.resolv_reverse(node)))


FileNames = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]


class GroupResolverConfig(GroupResolver):
    """A resolver whose sources come from ``groups.conf`` files.

    `filenames` is one path or a list of paths, read in order (missing ones
    are skipped, later ones win), when the resolver is first used.  The
    ``[Main]`` section may set ``default`` (the default source; else the
    first source found), ``confdir`` (or its older name ``groupsdir``:
    directories whose ``*.conf`` files define more upcall sources) and
    ``autodir`` (directories whose ``*.yaml`` files define file sources).
    Directory lists are split as a shell would, and ``$CFGDIR`` in them is
    the directory of the last configuration file read.  Every other section
    defines upcall sources: ``[name]`` or ``[name1,name2]``, with ``map``
    or ``mapall`` and optionally ``all``, ``list``, ``reverse`` and
    ``cache_time``.
    """

    SECTION_MAIN = "Main"

    def __init__(self, filenames: FileNames,
                 illegal_chars: Optional[Set[str]] = None) -> None:
        super().__init__(illegal_chars=illegal_chars)
        self.filenames = filenames
        self.config = None

    def _late_init(self) -> None:
        super()._late_init()
        from configparser import ConfigParser
        self.config = ConfigParser()
        read = self.config.read(self.filenames)
        if read:
            # $CFGDIR is the directory of the strongest file read
            self._parse_config(os.path.dirname(read[-1]))

    def _main_dirs(self, option: str, cfgdir: str) -> Iterator[str]:
        """Existing directories listed in [Main] `option`, each once."""
        import shlex
        from string import Template
        config = self.config
        if not config.has_option(self.SECTION_MAIN, option):
            return
        seen = set()
        for path in shlex.split(config.get(self.SECTION_MAIN, option)):
            path = Template(path).safe_substitute(CFGDIR=cfgdir)
            path = os.path.normpath(path)
            if path in seen:
                continue
            seen.add(path)
            if os.path.isdir(path):
                yield path
            elif os.path.exists(path):
                label = "confdir" if option == "groupsdir" else option
                raise GroupResolverConfigError(
                    "Defined %s %s is not a directory" % (label, path))

    def _parse_config(self, cfg_dirname: str) -> None:
        """Create the sources: confdir files, autodir files, then the
        sections of the main files; pick the default source."""
        import glob
        from configparser import ConfigParser
        main = self.SECTION_MAIN
        config = self.config
        confdir_opt = "groupsdir" if config.has_option(main, "groupsdir") \
            else "confdir"
        for confdir in self._main_dirs(confdir_opt, cfg_dirname):
            pattern = os.path.join(glob.escape(confdir), "*.conf")
            for path in sorted(glob.glob(pattern)):
                part = ConfigParser()
                part.read(path)  # unreadable files are skipped
                self._sources_from_cfg(part, confdir)
        for autodir in self._main_dirs("autodir", cfg_dirname):
            pattern = os.path.join(glob.escape(autodir), "*.yaml")
            for path in sorted(glob.glob(pattern)):
                self._sources_from_yaml_file(path)
        self._sources_from_cfg(config, cfg_dirname)
        self._pick_default()

    def _pick_default(self) -> None:
        config = self.config
        main = self.SECTION_MAIN
        if config.has_option(main, "default"):
            wanted = config.get(main, "default")
            try:
                self.default_source_name = wanted
            except GroupResolverSourceError:
                if wanted:  # an empty value means "no preference"
                    raise GroupResolverConfigError(
                        'Default group source not found: "%s"' % wanted) \
                        from None
        if not self.default_source_name and self._sources:
            self.default_source_name = next(iter(self._sources))

    def _sources_from_yaml_file(self, path: str) -> None:
        try:
            loader = YAMLGroupLoader(path)
        except PermissionError as exc:
            _logger().debug(exc)  # files we may not read are skipped
            return
        for source in loader:
            self.add_source(source)

    def _sources_from_cfg(self, cfg: Any, cfgdir: str) -> None:
        """Add the upcall sources of the sections of `cfg` (a ConfigParser)
        other than [Main]; upcalls run in `cfgdir`."""
        for section in cfg.sections():
            names = [name for name in section.split(",")
                     if name != self.SECTION_MAIN]
            if not names:
                continue
            if not (cfg.has_option(section, "map")
                    or cfg.has_option(section, "mapall")):
                raise GroupResolverConfigError(
                    "No option 'map' or 'mapall' in section: %r" % section)
            upcalls = {kind: cfg.get(section, kind, raw=True)
                       for kind in _UPCALLS if cfg.has_option(section, kind)}
            cache_time = None
            if cfg.has_option(section, "cache_time"):
                text = cfg.get(section, "cache_time", raw=True)
                try:
                    cache_time = float(text)
                except ValueError as exc:
                    raise GroupResolverConfigError(str(exc)) from None
            for name in names:
                source = UpcallGroupSource(
                    name, upcalls.get("map"), upcalls.get("all"),
                    upcalls.get("list"), upcalls.get("reverse"), cfgdir,
                    cache_time, mapall_upcall=upcalls.get("mapall"))
                try:
                    self.add_source(source)
                except ValueError as exc:
                    raise GroupResolverConfigError(str(exc)) from None
