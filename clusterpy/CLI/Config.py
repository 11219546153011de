"""clush.conf: the configuration of clush, as ClusterShell 1.10.1 reads it.

Files: the ``clush.conf`` files of the configuration search path
(clusterpy.Defaults.config_paths), or the one file given by ``--conf``.
Then, if the ``[Main]`` section names directories in ``confdir`` (a
shell-quoted list where ``$CFGDIR`` stands for the directory of the last
file read), every ``*.conf`` file of each, in name order.  A
``[mode:NAME]`` section (``clush -m NAME``) overrides ``[Main]`` keys for
that run mode.  Command-line options override the files.
"""

from configparser import ConfigParser, NoOptionError, NoSectionError
from typing import Any, Iterator, Optional

from clusterpy.CLI.Display import (THREE_CHOICES, VERB_DEBUG, VERB_QUIET,
                                   VERB_STD, VERB_VERB)
from clusterpy.Defaults import DEFAULTS, config_paths

__all__ = ["ClushConfig", "ClushConfigError", "VERB_QUIET", "VERB_STD",
           "VERB_VERB", "VERB_DEBUG"]

_MISSING = (NoOptionError, NoSectionError)


class ClushConfigError(Exception):
    """A clush.conf value (or -O option) that cannot be used.

    Printed as ``(Config SECTION.OPTION): MESSAGE``, or just the message
    when section or option is unknown.
    """

    def __init__(self, section: Optional[str] = None,
                 option: Optional[str] = None, msg: Any = None) -> None:
        Exception.__init__(self)
        self.section = section
        self.option = option
        self.msg = msg

    def __str__(self) -> str:
        where = ""
        if self.section and self.option:
            where = "(Config %s.%s): " % (self.section, self.option)
        return where + (str(self.msg) if self.msg else "")


def _confdirs(spec: str, cfgdir: str) -> Iterator[str]:
    """Normalized directories of a confdir value, each once, in order."""
    import os.path
    import shlex
    from string import Template
    seen = set()
    for word in shlex.split(spec):
        path = os.path.normpath(Template(word).safe_substitute(CFGDIR=cfgdir))
        if path not in seen:
            seen.add(path)
            yield path


class ClushConfig(ConfigParser):
    """clush configuration: a ConfigParser whose [Main] section starts with
    the built-in defaults, then holds the files' values, then the
    command-line overrides found in `options` (a CLI.OptionParser result).

    Typed getters raise ClushConfigError; properties give each key in the
    current run mode (set_mode) when that mode's section sets it.
    """

    MAIN_SECTION = "Main"
    MAIN_DEFAULTS = {
        "fanout": "%d" % DEFAULTS.fanout,
        "connect_timeout": "%f" % DEFAULTS.connect_timeout,
        "command_timeout": "%f" % DEFAULTS.command_timeout,
        "history_size": "100",
        "color": THREE_CHOICES[0],
        "verbosity": "%d" % VERB_STD,
        "node_count": "yes",
        "maxrc": "no",
        "fd_max": "8192",
        "command_prefix": "",
        "password_prompt": "no",
    }

    def __init__(self, options: Any, filename: Optional[str] = None) -> None:
        ConfigParser.__init__(self)
        self.mode = None
        main = self.MAIN_SECTION
        self.read_dict({main: self.MAIN_DEFAULTS})
        self.parsed = self.read([filename] if filename
                                else config_paths("clush.conf"))
        if self.parsed:
            self._read_confdirs()
        self._apply_options(options)

    def _read_confdirs(self) -> None:
        """Read the *.conf files of the [Main] confdir directories."""
        import glob
        import os.path
        try:
            spec = self.get(self.MAIN_SECTION, "confdir")
        except _MISSING:
            return
        cfgdir = os.path.dirname(self.parsed[-1])
        for confdir in _confdirs(spec, cfgdir):
            if not os.path.isdir(confdir):
                if os.path.exists(confdir):
                    raise ClushConfigError(
                        msg="Defined confdir %s is not a directory" % confdir)
                continue
            # unreadable files are skipped by read()
            for path in sorted(glob.glob(confdir + "/*.conf")):
                self.parsed += self.read(path)

    def _apply_options(self, options: Any) -> None:
        """Command-line values win over the files."""
        overrides = (("quiet", "verbosity", VERB_QUIET),
                     ("verbose", "verbosity", VERB_VERB),
                     ("debug", "verbosity", VERB_DEBUG),
                     ("fanout", "fanout", None),
                     ("user", "ssh_user", None),
                     ("options", "ssh_options", None),
                     ("connect_timeout", "connect_timeout", None),
                     ("command_timeout", "command_timeout", None),
                     ("whencolor", "color", None),
                     ("maxrc", "maxrc", None))
        for attr, key, value in overrides:
            given = getattr(options, attr)
            if given:
                self._set_main(key, given if value is None else value)
        # -O/--option KEY=VALUE
        for keyvalue in options.option:
            key, sep, value = keyvalue.partition("=")
            if not sep:
                raise ClushConfigError(self.MAIN_SECTION, keyvalue,
                                       "invalid -O/--option value")
            self._set_main(key, value)

    def _set_main(self, option: str, value: Any) -> None:
        """Set a [Main] key (as a string)."""
        self.set(self.MAIN_SECTION, option, str(value))

    def _typed(self, getter, section: str, option: str):
        """getter(self, section, option), errors as ClushConfigError."""
        try:
            return getter(self, section, option)
        except (NoOptionError, NoSectionError, TypeError, ValueError) as exc:
            raise ClushConfigError(section, option, exc) from exc

    def getboolean(self, section: str, option: str) -> bool:  # type: ignore[override]
        """Boolean value of section.option (ClushConfigError if bad)."""
        return self._typed(ConfigParser.getboolean, section, option)

    def getfloat(self, section: str, option: str) -> float:  # type: ignore[override]
        """Float value of section.option (ClushConfigError if bad)."""
        return self._typed(ConfigParser.getfloat, section, option)

    def getint(self, section: str, option: str) -> int:  # type: ignore[override]
        """Integer value of section.option (ClushConfigError if bad)."""
        return self._typed(ConfigParser.getint, section, option)

    def _in_mode(self, getter, option: str, fallback):
        """option from the current mode's section if it has it (read with
        the plain ConfigParser getter), else fallback(Main, option)."""
        if self.mode:
            try:
                return getter(self, "mode:" + self.mode, option)
            except _MISSING:
                pass
        return fallback(self.MAIN_SECTION, option)

    def _get_optional(self, section: str, option: str) -> Optional[str]:
        """String value of section.option, or None."""
        try:
            return self.get(section, option)
        except _MISSING:
            return None

    def _get_mode_optional(self, option: str) -> Optional[str]:
        return self._in_mode(ConfigParser.get, option, self._get_optional)

    def _getboolean_mode_optional(self, option: str) -> bool:
        return self._in_mode(ConfigParser.getboolean, option, self.getboolean)

    def _getint_mode_optional(self, option: str) -> int:
        return self._in_mode(ConfigParser.getint, option, self.getint)

    def _getfloat_mode_optional(self, option: str) -> float:
        return self._in_mode(ConfigParser.getfloat, option, self.getfloat)

    @property
    def verbosity(self) -> int:
        """Verbosity level (0 when the value is not an integer)."""
        try:
            return self.getint(self.MAIN_SECTION, "verbosity")
        except ClushConfigError:
            return 0

    @property
    def fanout(self) -> int:
        """Number of commands run at once."""
        return self._getint_mode_optional("fanout")

    @property
    def connect_timeout(self) -> float:
        """Seconds allowed to connect to a node."""
        return self._getfloat_mode_optional("connect_timeout")

    @property
    def command_timeout(self) -> float:
        """Seconds allowed for the command on a node (0: no limit)."""
        return self._getfloat_mode_optional("command_timeout")

    @property
    def ssh_user(self) -> Optional[str]:
        """Remote user name, or None."""
        return self._get_mode_optional("ssh_user")

    @property
    def ssh_path(self) -> Optional[str]:
        """ssh command, or None."""
        return self._get_mode_optional("ssh_path")

    @property
    def ssh_options(self) -> Optional[str]:
        """Extra ssh options, or None."""
        return self._get_mode_optional("ssh_options")

    @property
    def scp_path(self) -> Optional[str]:
        """scp command, or None."""
        return self._get_mode_optional("scp_path")

    @property
    def scp_options(self) -> Optional[str]:
        """Extra scp options, or None."""
        return self._get_mode_optional("scp_options")

    @property
    def rsh_path(self) -> Optional[str]:
        """rsh command, or None."""
        return self._get_mode_optional("rsh_path")

    @property
    def rcp_path(self) -> Optional[str]:
        """rcp command, or None."""
        return self._get_mode_optional("rcp_path")

    @property
    def rsh_options(self) -> Optional[str]:
        """Extra rsh options, or None."""
        return self._get_mode_optional("rsh_options")

    @property
    def ssh_reuse(self) -> int:
        """Persist seconds of reused ssh connections (0: no reuse)."""
        from clusterpy._sshmux import parse_reuse
        value = self._get_mode_optional("ssh_reuse")
        try:
            return parse_reuse(value)
        except ValueError as exc:
            raise ClushConfigError(self.mode or self.MAIN_SECTION, "ssh_reuse", exc) from exc

    @property
    def ssh_reuse_max(self) -> Optional[int]:
        """Bound on the number of reused ssh connections, or None."""
        if self._get_mode_optional("ssh_reuse_max") is None:
            return None
        return self._getint_mode_optional("ssh_reuse_max")

    @property
    def ssh_reuse_dir(self) -> Optional[str]:
        """Directory of the reused connections' sockets, or None."""
        return self._get_mode_optional("ssh_reuse_dir")

    @property
    def color(self) -> str:
        """'', 'never', 'always' or 'auto' (ClushConfigError otherwise)."""
        value = self._get_mode_optional("color")
        if value not in THREE_CHOICES:
            raise ClushConfigError(self.mode or self.MAIN_SECTION, "color",
                                   "choose from %s" % THREE_CHOICES)
        return value

    @property
    def node_count(self) -> bool:
        """Whether gathered headers show the node count."""
        return self._getboolean_mode_optional("node_count")

    @property
    def maxrc(self) -> bool:
        """Whether clush exits with the largest command return code."""
        return self._getboolean_mode_optional("maxrc")

    @property
    def fd_max(self) -> int:
        """Soft limit wanted for open files (RLIMIT_NOFILE)."""
        return self.getint(self.MAIN_SECTION, "fd_max")

    def modes(self) -> Iterator[str]:
        """Names of the run modes ([mode:NAME] sections)."""
        for section in self.sections():
            if section.startswith("mode:"):
                yield section[len("mode:"):]

    def set_mode(self, mode: str) -> None:
        """Use run mode `mode` for the properties (ClushConfigError if no
        such mode)."""
        if mode not in self.modes():
            raise ClushConfigError(msg='invalid mode "%s" (available: %s)'
                                   % (mode, " ".join(self.modes())))
        self.mode = mode

    @property
    def command_prefix(self) -> Optional[str]:
        """Text put before each command, or None."""
        return self._get_mode_optional("command_prefix")

    @property
    def tree_gateway_module(self) -> Optional[str]:
        """The module run on the gateways in tree mode, or None (the task
        default: clusterpy.Gateway)."""
        return self._get_mode_optional("tree_gateway_module")

    @property
    def password_prompt(self) -> bool:
        """Whether clush asks for a password to send on stdin."""
        return self._getboolean_mode_optional("password_prompt")
