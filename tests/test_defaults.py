"""clusterpy.Defaults: defaults.conf search path, parsing, attribute access
and worker class loading."""
import os
import subprocess
import sys
import textwrap
import types

import pytest

from clusterpy import Defaults as defaults_module
from clusterpy.Defaults import (CFG_SECTION_ENGINE, CFG_SECTION_NODESET,
                                CFG_SECTION_TASK_DEFAULT, CFG_SECTION_TASK_INFO,
                                DEFAULTS, Defaults, _distant_workerclass,
                                _load_workerclass, _local_workerclass,
                                _task_print_debug, config_paths)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BUILTIN = {
    "stderr": False, "stdin": True, "stdout_msgtree": True,
    "stderr_msgtree": True, "engine": "auto", "port_qlimit": 100,
    "auto_tree": True, "local_workername": "exec",
    "distant_workername": "ssh", "debug": False, "fanout": 64,
    "grooming_delay": 0.25, "connect_timeout": 10, "command_timeout": 0,
    "fold_axis": (),
}


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


# --- search path -----------------------------------------------------------

@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("CLUSTERSHELL_CFGDIR", raising=False)
    return home


def test_config_paths_order_without_overrides(clean_env):
    home = str(clean_env)
    assert config_paths("groups.conf") == [
        "/etc/clustershell/groups.conf",
        home + "/.local/etc/clustershell/groups.conf",
        os.path.join(sys.prefix, "etc/clustershell/groups.conf"),
        home + "/.config/clustershell/groups.conf",
    ]


def test_config_paths_xdg_and_cfgdir(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CLUSTERSHELL_CFGDIR", str(tmp_path / "cfg"))
    paths = config_paths("defaults.conf")
    assert paths[3] == str(tmp_path / "xdg" / "clustershell" / "defaults.conf")
    # $CLUSTERSHELL_CFGDIR comes last: it is read last and wins
    assert paths[-1] == str(tmp_path / "cfg" / "defaults.conf")
    assert len(paths) == 5


def test_config_paths_empty_xdg_is_unset(clean_env, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "")
    assert config_paths("x.conf")[3] == \
        str(clean_env) + "/.config/clustershell/x.conf"


def test_later_path_wins_through_defaults(clean_env, monkeypatch, tmp_path):
    xdg = tmp_path / "xdg" / "clustershell"
    xdg.mkdir(parents=True)
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    write(xdg / "defaults.conf", """
        [task.info]
        fanout: 8
        connect_timeout: 2
        """)
    write(cfg / "defaults.conf", """
        [task.info]
        fanout: 16
        """)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CLUSTERSHELL_CFGDIR", str(cfg))
    defaults = Defaults(config_paths("defaults.conf"))
    assert defaults.fanout == 16          # from $CLUSTERSHELL_CFGDIR
    assert defaults.connect_timeout == 2.0  # only the XDG file sets it


def test_module_defaults_read_at_import(tmp_path):
    write(tmp_path / "defaults.conf", """
        [task.default]
        distant_workername: rsh
        [nodeset]
        fold_axis: 0
        """)
    env = dict(os.environ, CLUSTERSHELL_CFGDIR=str(tmp_path),
               PYTHONPATH=ROOT)
    out = subprocess.run(
        [sys.executable, "-c", "from clusterpy.Defaults import DEFAULTS as D;"
         " print(D.distant_workername, D.fold_axis)"],
        env=env, stdout=subprocess.PIPE, check=True, universal_newlines=True)
    assert out.stdout.split() == ["rsh", "(0,)"]


# --- values ----------------------------------------------------------------

def test_builtin_values():
    defaults = Defaults([])
    for key, value in BUILTIN.items():
        assert getattr(defaults, key) == value, key
        assert type(getattr(defaults, key)) is type(value), key
    assert defaults.print_debug is _task_print_debug


def test_module_constants():
    assert (CFG_SECTION_TASK_DEFAULT, CFG_SECTION_TASK_INFO,
            CFG_SECTION_NODESET, CFG_SECTION_ENGINE) == \
        ("task.default", "task.info", "nodeset", "engine")
    assert isinstance(DEFAULTS, Defaults)


def test_missing_and_empty_files(tmp_path):
    empty = write(tmp_path / "empty.conf", "")
    defaults = Defaults([str(tmp_path / "none.conf"), empty])
    assert defaults.fanout == 64 and defaults.fold_axis == ()


def test_every_key_from_file(tmp_path):
    path = write(tmp_path / "defaults.conf", """
        [nodeset]
        fold_axis: 1, -1,

        [task.default]
        stderr: yes
        stdin: off
        stdout_msgtree: 0
        stderr_msgtree: false
        engine: poll
        auto_tree: no
        local_workername: none
        distant_workername: pdsh

        [task.info]
        debug: on
        fanout: 3
        grooming_delay: 1.5
        connect_timeout: 4
        command_timeout: 0.5

        [engine]
        port_qlimit: 12
        """)
    defaults = Defaults(filenames=path)  # one name, not a list
    assert defaults.fold_axis == (1, -1)
    assert (defaults.stderr, defaults.stdin, defaults.stdout_msgtree,
            defaults.stderr_msgtree, defaults.auto_tree) == \
        (True, False, False, False, False)
    assert (defaults.engine, defaults.local_workername,
            defaults.distant_workername) == ("poll", "none", "pdsh")
    assert defaults.debug is True and defaults.fanout == 3
    assert defaults.grooming_delay == 1.5
    assert defaults.connect_timeout == 4.0
    assert isinstance(defaults.connect_timeout, float)
    assert defaults.command_timeout == 0.5
    assert defaults.port_qlimit == 12


def test_port_qlimit_compat(tmp_path):
    old = write(tmp_path / "old.conf", "[task.default]\nport_qlimit: 500\n")
    assert Defaults(old).port_qlimit == 500
    both = write(tmp_path / "both.conf",
                 "[task.default]\nport_qlimit: 500\n[engine]\nport_qlimit: 7\n")
    assert Defaults(both).port_qlimit == 7
    # an [engine] value equal to the built-in one defers to [task.default]
    same = write(tmp_path / "same.conf",
                 "[task.default]\nport_qlimit: 500\n[engine]\nport_qlimit: 100\n")
    assert Defaults(same).port_qlimit == 500


def test_default_section_applies(tmp_path):
    path = write(tmp_path / "d.conf", "[DEFAULT]\nfanout: 5\n[task.info]\n")
    assert Defaults(path).fanout == 5


def test_task_uses_private_dicts(tmp_path):
    # Task copies these two dicts when it is created
    path = write(tmp_path / "d.conf", "[task.info]\nfanout: 9\n")
    defaults = Defaults(path)
    assert defaults._task_info["fanout"] == 9
    assert defaults._task_default["distant_workername"] == "ssh"
    assert defaults._task_info_pkeys_bl == ["engine", "print_debug"]


@pytest.mark.parametrize("section,line,words", [
    ("task.info", "fanout: lots", ["fanout", "lots"]),
    ("task.default", "stderr: maybe", ["stderr", "Not a boolean"]),
    ("task.info", "connect_timeout: soon", ["connect_timeout", "soon"]),
    ("nodeset", "fold_axis: x", ["fold_axis", "'x'"]),
    ("engine", "port_qlimit: 1.5", ["port_qlimit", "1.5"]),
])
def test_bad_value_names_file_section_key(tmp_path, section, line, words):
    good = write(tmp_path / "a.conf", "[%s]\n%s\n" % (section, line.split(":")[0] + ": 1"))
    bad = write(tmp_path / "b.conf", "[%s]\n%s\n" % (section, line))
    later = write(tmp_path / "c.conf", "[other]\nx: 1\n")
    with pytest.raises(ValueError) as info:
        Defaults([good, bad, later])
    message = str(info.value)
    assert message.startswith(bad + ": [%s] " % section)
    for word in words:
        assert word in message


def test_malformed_file_is_configparser_error(tmp_path):
    from configparser import MissingSectionHeaderError
    path = write(tmp_path / "d.conf", "fanout: 2\n")
    with pytest.raises(MissingSectionHeaderError) as info:
        Defaults(path)
    assert path in str(info.value)


def test_setattr_getattr():
    defaults = Defaults([])
    defaults.fold_axis = (0, 2)
    defaults.engine = "select"
    defaults.port_qlimit = 1000
    defaults.print_debug = None
    defaults.fanout = 256
    assert defaults.fold_axis == (0, 2) and defaults.engine == "select"
    assert defaults.port_qlimit == 1000
    assert defaults._engine["port_qlimit"] == 1000
    assert defaults.print_debug is None and defaults.fanout == 256
    with pytest.raises(AttributeError):
        defaults.no_such_default = 1
    with pytest.raises(AttributeError):
        defaults.no_such_default  # noqa: B018 (the lookup is what raises)
    assert not hasattr(defaults, "no_such_default")
    assert "fanout" in dir(defaults)


def test_reinit_restores_builtins():
    defaults = Defaults([])
    defaults.fanout = 1
    defaults.__init__(filenames=[])
    assert defaults.fanout == 64


def test_print_debug(capsys):
    _task_print_debug(None, "hello debug")
    assert capsys.readouterr().out == "hello debug\n"


# --- worker classes --------------------------------------------------------

@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("cp_oot_worker", "cp_broken_worker"):
        sys.modules.pop(name, None)


def test_short_name_loads_worker_package_module(monkeypatch):
    fake = types.ModuleType("clusterpy.Worker.Fakeworker")

    class FakeWorker:
        pass
    fake.WORKER_CLASS = FakeWorker
    monkeypatch.setitem(sys.modules, "clusterpy.Worker.Fakeworker", fake)
    assert _load_workerclass("fakeworker") is FakeWorker
    defaults = Defaults([])
    defaults.local_workername = "fakeworker"
    defaults.distant_workername = "FAKEWORKER"
    assert _local_workerclass(defaults) is FakeWorker
    assert _distant_workerclass(defaults) is FakeWorker


def test_out_of_tree_worker(module_dir):
    (module_dir / "cp_oot_worker.py").write_text(
        "class OutOfTree:\n    pass\nWORKER_CLASS = OutOfTree\n")
    assert _load_workerclass("cp_oot_worker").__name__ == "OutOfTree"


def test_unknown_worker_is_import_error():
    with pytest.raises(ImportError) as info:
        _load_workerclass("cp_no_such_worker")
    assert "cp_no_such_worker" in str(info.value)


def test_broken_worker_reports_its_missing_dependency(module_dir):
    (module_dir / "cp_broken_worker.py").write_text(
        "import cp_missing_dependency\nWORKER_CLASS = None\n")
    with pytest.raises(ImportError) as info:
        _load_workerclass("cp_broken_worker")
    assert "cp_missing_dependency" in str(info.value)


def test_clustershell_module_path_maps_to_clusterpy(monkeypatch):
    fake = types.ModuleType("clusterpy.Worker.Mapped")
    fake.WORKER_CLASS = int
    monkeypatch.setitem(sys.modules, "clusterpy.Worker.Mapped", fake)
    assert _load_workerclass("ClusterShell.Worker.Mapped") is int


def test_import_does_not_load_configparser_without_files(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), PYTHONPATH=ROOT,
               XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("CLUSTERSHELL_CFGDIR", None)
    code = ("import sys, clusterpy.Defaults as d\n"
            "if any(map(__import__('os').path.exists, "
            "d.config_paths('defaults.conf'))): print('skip')\n"
            "else: print('configparser' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env,
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout.strip()
    if out == "skip":
        pytest.skip("a system defaults.conf exists")
    assert out == "False"


def test_module_has_no_clusterpy_imports():
    # Defaults is imported early by everything: it must stay a leaf module
    names = [name for name in vars(defaults_module)
             if isinstance(getattr(defaults_module, name), types.ModuleType)]
    assert sorted(names) == ["os", "sys"]
