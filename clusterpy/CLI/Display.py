"""How clush and clubak print node output, as ClusterShell 1.10.1 does.

A Display turns (nodes, message) pairs into text in one of four shapes:

* a line prefixed with its node (``node1: text``), on stdout or stderr;
* a gathered block: a header (``---------------`` / node set with its count
  / ``---------------``) then the message (``-b``);
* gathered lines, each prefixed with the folded node set (``-b -L``);
* a unified diff of each gathered message against the first one (``--diff``).

Colours are ANSI sequences used on a terminal, with ``--color=always``, or
as the NO_COLOR / CLICOLOR / CLICOLOR_FORCE variables say (NO_COLOR wins
over CLICOLOR*, and ``--color`` over any variable).
"""

import os
import sys
from typing import Any, Optional

from clusterpy.NodeSet import NodeSet

VERB_QUIET = 0
VERB_STD = 1
VERB_VERB = 2
VERB_DEBUG = 3

#: the values of --color, and of the color key of clush.conf ('' is unset)
THREE_CHOICES = ["", "never", "always", "auto"]
#: older name of THREE_CHOICES
WHENCOLOR_CHOICES = THREE_CHOICES

STRING_ENCODING = sys.getdefaultencoding()
if STRING_ENCODING == "ascii":
    STRING_ENCODING = "utf-8"

_PLAIN = "%s"

# Display attribute -> format constant used for it when colours are on
_COLOR_FORMATS = (("color_stdout_fmt", "COLOR_STDOUT_FMT"),
                  ("color_stderr_fmt", "COLOR_STDERR_FMT"),
                  ("color_diffhdr_fmt", "COLOR_DIFFHDR_FMT"),
                  ("color_diffctx_fmt", "COLOR_DIFFHNK_FMT"),
                  ("color_diffadd_fmt", "COLOR_DIFFADD_FMT"),
                  ("color_diffdel_fmt", "COLOR_DIFFDEL_FMT"))

# Display attribute -> option it is copied from
_FROM_OPTIONS = (("label", "label"), ("regroup", "regroup"),
                 ("groupsource", "groupsource"), ("noprefix", "groupbase"),
                 ("outdir", "outdir"), ("errdir", "errdir"))


def _ansi(code: int) -> str:
    """Format string wrapping text in one ANSI SGR attribute."""
    return "\033[%dm%%s\033[0m" % code


def sys_stdin():
    """Standard input as a binary stream (the text stream if it has none)."""
    stdin = sys.stdin
    return getattr(stdin, "buffer", stdin)


def _env_color_wish() -> Optional[bool]:
    """Colour wanted by the environment: True, False, or None (no opinion).

    NO_COLOR (any value) turns colours off; otherwise CLICOLOR_FORCE other
    than "0" turns them on; otherwise CLICOLOR "0" turns them off and any
    other CLICOLOR value asks for them on a terminal.
    """
    env = os.environ
    if "NO_COLOR" in env:
        return False
    if env.get("CLICOLOR_FORCE", "0") != "0":
        return True
    clicolor = env.get("CLICOLOR")
    if clicolor is None:
        return None
    if clicolor == "0":
        return False
    return sys.stdout.isatty()


def _line_buffered(stream):
    """Make a text stream flush at each newline, when it can."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None and not stream.line_buffering:
        reconfigure(line_buffering=True)
    return stream


class _KeySet(set):
    """Raw keys standing in for a node set (clubak with uninterpreted keys):
    printed joined by commas."""

    def __str__(self):
        return ",".join(self)


class Display(object):
    """Prints node output for the command-line tools.

    Built from the options of a CLI.OptionParser (and, for clush, a
    CLI.Config.ClushConfig that already holds the option overrides).  With
    `color` None, colours follow --color, clush.conf and the environment.
    """

    COLOR_RESULT_FMT = _ansi(92)     # green
    COLOR_STDOUT_FMT = _ansi(94)     # blue: node labels and headers
    COLOR_STDERR_FMT = _ansi(91)     # red: labels of standard error
    COLOR_DIFFHDR_FMT = _ansi(1)     # bold: ---/+++ diff lines
    COLOR_DIFFHNK_FMT = _ansi(96)    # cyan: @@ hunk lines
    COLOR_DIFFADD_FMT = _ansi(92)
    COLOR_DIFFDEL_FMT = _ansi(91)
    SEP = "-" * 15

    _KeySet = _KeySet

    def __init__(self, options: Any, config: Any = None,
                 color: Optional[bool] = None) -> None:
        diff = options.diff
        if diff and options.line_mode:
            raise ValueError("diff not supported in line_mode")
        self._print_buffer = self._print_diff if diff else self._print_content
        self._diffref = None
        # --diff gathers too
        self.gather = options.gatherall or options.gather or diff
        # clush-only options
        self.progress = getattr(options, "progress", False)
        self.maxrc = getattr(options, "maxrc", False)
        for attr, name in _FROM_OPTIONS:
            setattr(self, attr, getattr(options, name))
        self.line_mode = options.line_mode

        self._color = self._want_color(options.whencolor, config, color)
        self.out = _line_buffered(sys.stdout)
        self.err = _line_buffered(sys.stderr)
        for attr, const in _COLOR_FORMATS:
            setattr(self, attr, getattr(self, const) if self._color else _PLAIN)

        if config:
            # the config already carries -q/-v/-d
            self.node_count = config.node_count
            self.verbosity = config.verbosity
        else:
            self.node_count = True
            level = VERB_STD
            for attr, attr_level in (("quiet", VERB_QUIET),
                                     ("verbose", VERB_VERB),
                                     ("debug", VERB_DEBUG)):
                if getattr(options, attr, False):
                    level = attr_level
            self.verbosity = level

    @staticmethod
    def _want_color(whencolor, config, color):
        """Whether to print colours (see the class and module docs)."""
        if whencolor is None and color is not False:
            # without --color, an unset or "auto" clush.conf color lets
            # the environment decide
            if config is None or config.color in ("", "auto"):
                color = _env_color_wish()
        if color is not None:
            return color
        if whencolor in (None, "", "auto"):
            return sys.stdout.isatty()
        return whencolor == "always"

    def flush(self) -> None:
        """Forget the reference message of --diff."""
        self._diffref = None

    @property
    def line_mode(self) -> bool:
        """True when gathered messages print as prefixed lines (-L)."""
        return self._display == self._print_lines

    @line_mode.setter
    def line_mode(self, value: bool) -> None:
        self._display = self._print_lines if value else self._print_buffer

    def _format_nodeset(self, nodeset) -> str:
        """Node set as shown in headers: with groups when -r is given."""
        if self.regroup:
            return nodeset.regroup(self.groupsource, noprefix=self.noprefix)
        return str(nodeset)

    def _with_count(self, nodeset) -> str:
        """Header text of a node set: "(N)" follows it when it holds more
        than one node, unless -q or node_count=no."""
        text = self._format_nodeset(nodeset)
        if self.verbosity >= VERB_STD and self.node_count and len(nodeset) > 1:
            text += " (%d)" % len(nodeset)
        return text

    def format_header(self, nodeset, indent: int = 0) -> str:
        """The three-line block header of a node set ('' with -N)."""
        if not self.label:
            return ""
        pad = " " * indent
        block = "\n".join((pad + self.SEP, pad + self._with_count(nodeset),
                           pad + self.SEP))
        return self.color_stdout_fmt % block + "\n"

    def _write_line(self, stream, fmt, nodeset, line):
        text = line.decode(STRING_ENCODING, errors="replace") + "\n"
        if self.label:
            text = fmt % ("%s: " % nodeset) + text
        stream.write(text)

    def print_line(self, nodeset, line: bytes) -> None:
        """Print one line of standard output, prefixed unless -N."""
        self._write_line(self.out, self.color_stdout_fmt, nodeset, line)

    def print_line_error(self, nodeset, line: bytes) -> None:
        """Print one line of standard error, prefixed unless -N."""
        self._write_line(self.err, self.color_stderr_fmt, nodeset, line)

    def print_gather(self, nodeset, obj) -> None:
        """Print a message shared by nodeset (a NodeSet or a string)."""
        return self._display(NodeSet(nodeset), obj)

    def print_gather_finalize(self, nodeset) -> None:
        """End a --diff display (no-op otherwise)."""
        if self._display == self._print_diff and self._diffref:
            return self._display(nodeset, "")
        return None

    def print_gather_keys(self, keys, obj) -> None:
        """Print a message shared by raw keys, not read as node sets."""
        return self._display(self._KeySet(keys), obj)

    def _print_content(self, nodeset, content) -> None:
        """Header block then message."""
        text = bytes(content).decode(STRING_ENCODING, errors="replace")
        self.out.write(self.format_header(nodeset) + text + "\n")

    def _print_diff(self, nodeset, content) -> None:
        """The first message is the reference; later ones print as a
        unified diff against it."""
        if self._diffref is None:
            self._diffref = (nodeset, content)
            return
        import difflib
        ref_nodeset, ref_content = self._diffref
        if self.verbosity >= VERB_STD and self.node_count:
            names = (self._with_count(ref_nodeset), self._with_count(nodeset))
        else:
            names = (self._format_nodeset(ref_nodeset),
                     self._format_nodeset(nodeset))
        old = [line.decode("utf-8", "ignore") for line in ref_content]
        new = [line.decode("utf-8", "ignore") for line in content]
        out = []
        for line in difflib.unified_diff(old, new, fromfile=names[0],
                                         tofile=names[1], lineterm=""):
            head = line[:1]
            if line[:3] in ("---", "+++"):
                line = self.color_diffhdr_fmt % line.rstrip()
            elif line[:2] == "@@":
                line = self.color_diffctx_fmt % line
            elif head == "+":
                line = self.color_diffadd_fmt % line
            elif head == "-":
                line = self.color_diffdel_fmt % line
            out.append(line + "\n")
        self.out.write("".join(out))

    def _print_lines(self, nodeset, msg) -> None:
        """Each line of the message, prefixed by the node set unless -N."""
        prefix = ""
        if self.label:
            prefix = self.color_stdout_fmt % ("%s: " % self._format_nodeset(nodeset))
        write = self.out.write
        for line in msg:
            write(prefix + line.decode(STRING_ENCODING, errors="replace") + "\n")

    def vprint(self, level: int, message: str) -> None:
        """Print message on stdout if the verbosity is at least level."""
        if self.verbosity >= level:
            print(message)

    def vprint_err(self, level: int, message: str) -> None:
        """Print message on stderr if the verbosity is at least level."""
        if self.verbosity >= level:
            print(message, file=sys.stderr)
