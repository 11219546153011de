"""docs/man: the pages of the four tools and the two configuration files
render without a warning, and each lists what the program really has: every
option its --help lists, every key its configuration reader knows."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN = os.path.join(ROOT, "docs", "man")

TOOLS = {"clush.1": "clusterpy.CLI.Clush", "cluset.1": "clusterpy.CLI.Nodeset",
         "nodeset.1": "clusterpy.CLI.Nodeset", "clubak.1": "clusterpy.CLI.Clubak"}
CONF_PAGES = ["clush.conf.5", "groups.conf.5"]

pytestmark = pytest.mark.skipif(shutil.which("groff") is None,
                                reason="groff is not installed (.ci/run installs groff-base)")


def render(page):
    """The page as plain text (groff, man macros, no overstriking), and
    groff's warnings."""
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-P-cbou",
                           os.path.join(MAN, page)],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # hyphen and minus glyphs back to ASCII, as a reader would type them
    text = proc.stdout.decode("utf-8").replace("\u2010", "-").replace("\u2212", "-")
    return text, proc.stderr.decode()


def help_options(module):
    """Every option string that `module`'s --help lists."""
    proc = subprocess.run([sys.executable, "-c", "from %s import main; main()" % module,
                           "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("-"):
            continue
        for item in line.split("  ")[0].split(", "):
            found.append(re.split(r"[= ]", item)[0])
    return found


def mentions(text, word):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text) is not None


@pytest.mark.parametrize("page", sorted(TOOLS) + CONF_PAGES)
def test_page_renders_cleanly(page):
    text, warnings = render(page)
    assert warnings == ""
    name = page.rsplit(".", 1)[0]
    section = page.rsplit(".", 1)[1]
    assert text.startswith("%s(%s)" % (name.upper(), section))
    for heading in ("NAME", "DESCRIPTION", "SEE ALSO"):
        assert re.search(r"^%s$" % heading, text, re.M), heading
    assert "clusterpy" in text


@pytest.mark.parametrize("page", sorted(TOOLS))
def test_tool_page_lists_every_help_option(page):
    options = help_options(TOOLS[page])
    assert "--help" in options and len(options) > 10
    text, _ = render(page)
    missing = [opt for opt in options if not mentions(text, opt)]
    assert missing == []


def test_clush_page_describes_the_additions():
    text, _ = render("clush.1")
    for word in ("--json", "--fail-fast", "-k", "--retry", "Ctrl-C", "130"):
        assert mentions(text, word), word


def test_clush_conf_page_lists_every_key():
    from clusterpy.CLI.Config import ClushConfig
    with open(os.path.join(ROOT, "clusterpy", "CLI", "Config.py")) as src:
        code = src.read()
    keys = set(ClushConfig.MAIN_DEFAULTS) | {"confdir"}
    keys.update(re.findall(r'_(?:get|getboolean|getint|getfloat)_mode_optional\("(\w+)"\)',
                           code))
    keys.update(re.findall(r'MAIN_SECTION, "(\w+)"\)', code))
    assert {"ssh_path", "fd_max", "password_prompt"} <= keys
    text, _ = render("clush.conf.5")
    assert [key for key in sorted(keys) if not mentions(text, key + ":")] == []
    assert "[mode:" in text


def test_groups_conf_page_lists_every_key():
    from clusterpy import NodeUtils
    keys = set(NodeUtils._UPCALLS) | {"cache_time", "default", "confdir", "autodir",
                                      "groupsdir"}
    text, _ = render("groups.conf.5")
    assert [key for key in sorted(keys) if not mentions(text, key)] == []
    for word in ("$GROUP", "$NODE", "$SOURCE", "$CFGDIR", "YAML"):
        assert word in text


def test_man_finds_the_pages_by_path():
    # man -l renders a file as man(1) would show it once installed
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    proc = subprocess.run(["man", "-l", os.path.join(MAN, "cluset.1")], capture_output=True,
                          env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"),
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert b"CLUSET(1)" in proc.stdout and b"--contiguous" in proc.stdout.replace(
        "\u2010".encode(), b"-")
