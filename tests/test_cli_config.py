"""CLI.Config.ClushConfig: clush.conf files, confdir parts, run modes and
command-line overrides, with ClusterShell 1.10.1's values and messages."""
import os
import textwrap

import pytest

from clusterpy.CLI.Config import ClushConfig, ClushConfigError
from clusterpy.CLI.Display import VERB_DEBUG, VERB_QUIET, VERB_STD, VERB_VERB

from _cli_run import clush_options as options


@pytest.fixture
def conf(tmp_path):
    """Write clush.conf (dedented) in tmp_path; return its path."""
    def write(text, name="clush.conf"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


def test_builtin_defaults(conf):
    config = ClushConfig(options(), conf(""))
    assert config.parsed == [conf("")]
    assert config.verbosity == VERB_STD
    assert config.fanout == 64
    assert config.connect_timeout == 10.0
    assert config.command_timeout == 0.0
    assert config.color == ""
    assert config.node_count is True and config.maxrc is False
    assert config.fd_max == 8192
    assert config.password_prompt is False
    assert config.command_prefix == ""
    for key in ("ssh_user", "ssh_path", "ssh_options", "scp_path",
                "scp_options", "rsh_path", "rcp_path", "rsh_options"):
        assert getattr(config, key) is None
    assert config.get("Main", "history_size") == "100"
    assert list(config.modes()) == []
    assert ClushConfig.MAIN_SECTION == "Main"
    assert ClushConfig.MAIN_DEFAULTS["connect_timeout"] == "10.000000"


def test_file_values(conf):
    config = ClushConfig(options(), conf("""\
        [Main]
        fanout: 12
        connect_timeout: 2.5
        command_timeout: 30
        color: always
        verbosity: 2
        node_count: no
        maxrc: yes
        fd_max: 1024
        ssh_user: admin
        ssh_path: /opt/ssh
        ssh_options: -oBatchMode=yes
        scp_path: /opt/scp
        scp_options: -C
        rsh_path: /opt/rsh
        rcp_path: /opt/rcp
        rsh_options: -x
        command_prefix: sudo
        password_prompt: yes
        """))
    assert (config.fanout, config.connect_timeout, config.command_timeout) \
        == (12, 2.5, 30.0)
    assert (config.color, config.verbosity, config.node_count,
            config.maxrc, config.fd_max) == ("always", 2, False, True, 1024)
    assert (config.ssh_user, config.ssh_path, config.ssh_options) == \
        ("admin", "/opt/ssh", "-oBatchMode=yes")
    assert (config.scp_path, config.scp_options, config.rsh_path,
            config.rcp_path, config.rsh_options) == \
        ("/opt/scp", "-C", "/opt/rsh", "/opt/rcp", "-x")
    assert (config.command_prefix, config.password_prompt) == ("sudo", True)


def test_search_path_and_cfgdir(tmp_path, monkeypatch):
    user = tmp_path / "xdg" / "clustershell"
    user.mkdir(parents=True)
    (user / "clush.conf").write_text("[Main]\nfanout: 5\nssh_user: u\n")
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "clush.conf").write_text("[Main]\nfanout: 7\n"
                                        "confdir: $CFGDIR/parts\n")
    (env_dir / "parts").mkdir()
    (env_dir / "parts" / "a.conf").write_text("[mode:x]\nfanout: 9\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CLUSTERSHELL_CFGDIR", str(env_dir))
    config = ClushConfig(options())
    # the later file wins, keys it does not set stay
    assert (config.fanout, config.ssh_user) == (7, "u")
    assert config.parsed[-3:] == [str(user / "clush.conf"),
                             str(env_dir / "clush.conf"),
                             str(env_dir / "parts" / "a.conf")]
    config.set_mode("x")
    assert config.fanout == 9


def test_confdir_parts_in_name_order(conf, tmp_path):
    conf("[Main]\nfanout: 2\n", "d1/b.conf")
    conf("[Main]\nfanout: 3\nssh_user: one\n", "d1/a.conf")
    conf("[Main]\nssh_user: two\n", "d2/c.conf")
    conf("[Main]\nssh_user: ignored\n", "d2/c.txt")
    path = conf("""\
        [Main]
        confdir: "{0}/d1" {0}/d1/ {0}/d2 {0}/missing
        """.format(tmp_path))
    config = ClushConfig(options(), path)
    assert config.fanout == 2 and config.ssh_user == "two"
    assert [os.path.basename(p) for p in config.parsed] == \
        ["clush.conf", "a.conf", "b.conf", "c.conf"]


def test_confdir_that_is_a_file(conf, tmp_path):
    conf("", "notadir")
    path = conf("[Main]\nconfdir: %s/notadir\n" % tmp_path)
    with pytest.raises(ClushConfigError) as info:
        ClushConfig(options(), path)
    assert str(info.value) == ("Defined confdir %s/notadir is not a directory"
                               % tmp_path)


def test_modes(conf):
    path = conf("""\
        [Main]
        fanout: 3
        ssh_user: main
        [mode:sudo]
        command_prefix: sudo -S
        password_prompt: yes
        [mode:fast]
        fanout: 256
        connect_timeout: 1
        color: never
        """)
    config = ClushConfig(options(), path)
    assert list(config.modes()) == ["sudo", "fast"]
    with pytest.raises(ClushConfigError) as info:
        config.set_mode("slow")
    assert str(info.value) == 'invalid mode "slow" (available: sudo fast)'
    assert config.mode is None
    config.set_mode("sudo")
    assert (config.command_prefix, config.password_prompt, config.fanout,
            config.ssh_user) == ("sudo -S", True, 3, "main")
    config.set_mode("fast")
    assert (config.fanout, config.connect_timeout, config.color,
            config.command_prefix) == (256, 1.0, "never", "")


def test_options_override_files(conf):
    path = conf("[Main]\nfanout: 3\ncolor: never\nverbosity: 2\n")
    config = ClushConfig(options("-q", "-f", "9", "-l", "root", "-o", "-p 22",
                                 "-t", "4", "-u", "8", "--color=always",
                                 "-S"), path)
    assert (config.verbosity, config.fanout, config.ssh_user,
            config.ssh_options, config.connect_timeout,
            config.command_timeout, config.color, config.maxrc) == \
        (VERB_QUIET, 9, "root", "-p 22", 4.0, 8.0, "always", True)
    assert ClushConfig(options("-v"), path).verbosity == VERB_VERB
    assert ClushConfig(options("-v", "-d"), path).verbosity == VERB_DEBUG


def test_mode_section_beats_option_overrides(conf):
    path = conf("[mode:m]\nfanout: 5\n")
    config = ClushConfig(options("-f", "9"), path)
    config.set_mode("m")
    assert config.fanout == 5


def test_dash_o_option(conf):
    config = ClushConfig(options("-O", "fanout=4", "-O",
                                 "ssh_options=-oA=b -oC=d"), conf(""))
    assert config.fanout == 4 and config.ssh_options == "-oA=b -oC=d"
    with pytest.raises(ClushConfigError) as info:
        ClushConfig(options("-O", "fanout"), conf(""))
    assert str(info.value) == \
        "(Config Main.fanout): invalid -O/--option value"


@pytest.mark.parametrize("text,prop,message", [
    ("fanout: many", "fanout",
     "(Config Main.fanout): invalid literal for int() with base 10: 'many'"),
    ("connect_timeout: soon", "connect_timeout",
     "(Config Main.connect_timeout): could not convert string to float: "
     "'soon'"),
    ("node_count: perhaps", "node_count",
     "(Config Main.node_count): Not a boolean: perhaps"),
    ("color: pink", "color",
     "(Config Main.color): choose from ['', 'never', 'always', 'auto']"),
    ("fd_max: 1e3", "fd_max",
     "(Config Main.fd_max): invalid literal for int() with base 10: '1e3'"),
])
def test_bad_values(conf, text, prop, message):
    config = ClushConfig(options(), conf("[Main]\n%s\n" % text))
    with pytest.raises(ClushConfigError) as info:
        getattr(config, prop)
    assert str(info.value) == message


def test_bad_verbosity_means_quiet(conf):
    assert ClushConfig(options(), conf("[Main]\nverbosity: loud\n")) \
        .verbosity == 0


def test_bad_color_in_mode_names_the_mode(conf):
    config = ClushConfig(options(), conf("[mode:m]\ncolor: red\n"))
    config.set_mode("m")
    with pytest.raises(ClushConfigError) as info:
        _ = config.color
    assert str(info.value).startswith("(Config m.color): choose from")


def test_typed_getters_wrap_missing_keys(conf):
    config = ClushConfig(options(), conf(""))
    with pytest.raises(ClushConfigError) as info:
        config.getint("Main", "nothing")
    assert str(info.value) == ("(Config Main.nothing): No option 'nothing' "
                               "in section: 'Main'")
    with pytest.raises(ClushConfigError):
        config.getfloat("Other", "x")
    assert config.getboolean("Main", "node_count") is True


def test_unparsable_file(conf):
    import configparser
    with pytest.raises(configparser.MissingSectionHeaderError):
        ClushConfig(options(), conf("fanout: 3\n"))


def test_error_without_location():
    assert str(ClushConfigError(msg="just this")) == "just this"
    assert str(ClushConfigError("Main", None, "m")) == "m"
    assert str(ClushConfigError()) == ""
