"""A fresh ``pip install`` of the project, as a new user runs it: the package
builds, pulls in its runtime dependencies (PyYAML among them, as ClusterShell
1.10.1 does) and its tools read a YAML groups directory (``groups.d/*.yaml``)
out of the box.

The install goes into a throw-away virtualenv without system site packages,
from a copy of the source tree (an in-tree build writes ``build/`` and
``*.egg-info``). pip takes the build requirements and the dependencies from
its configured index; the test is skipped, saying why, only when no index
can serve them.
"""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# pip's words when an index cannot serve a requirement (no network, no mirror)
_UNREACHABLE = ("No matching distribution found", "Could not find a version",
                "Failed to establish a new connection", "Temporary failure in name resolution")


def _copy_sources(dest):
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.o",
        ".pytest_cache", ".hypothesis", ".benchmarks"))


def _pip_supports_python_option():
    out = subprocess.run([sys.executable, "-m", "pip", "--version"],
                         capture_output=True, text=True).stdout.split()
    try:
        major, minor = (int(x) for x in out[1].split(".")[:2])
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (22, 3)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtualenv holding a fresh install of the project: its bin dir."""
    base = tmp_path_factory.mktemp("pipinstall")
    src, venv = str(base / "src"), str(base / "venv")
    _copy_sources(src)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    if _pip_supports_python_option():
        # no pip inside the venv: the running pip installs into it (faster)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        pip = [sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python")]
    else:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        pip = [os.path.join(venv, "bin", "python"), "-m", "pip"]
    proc = subprocess.run(pip + ["install", "-q", src], cwd=str(base), env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        for words in _UNREACHABLE:
            if words in proc.stderr:
                pytest.skip("pip cannot reach an index for the build requirements "
                            "or dependencies: " + words)
        pytest.fail("pip install of the project failed:\n" + proc.stderr[-3000:])
    return os.path.join(venv, "bin")


def _run(bindir, args, cfgdir, **kw):
    env = {"PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
           "HOME": str(cfgdir), "XDG_CONFIG_HOME": str(cfgdir / "xdg"),
           "CLUSTERSHELL_CFGDIR": str(cfgdir), "LANG": "C.UTF-8"}
    return subprocess.run(args, cwd="/", env=env, capture_output=True, text=True,
                          timeout=60, **kw)


def test_pyyaml_is_an_unconditional_dependency(installed):
    code = ("import importlib.metadata as m; "
            "print('\\n'.join(m.requires('clusterpy')))")
    out = subprocess.run([os.path.join(installed, "python"), "-c", code], cwd="/",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert "PyYAML" in out            # no "; extra == ..." marker: always installed


def test_fresh_install_reads_yaml_groups_dir(installed, tmp_path):
    gdir = tmp_path / "groups.d"
    gdir.mkdir()
    (tmp_path / "groups.conf").write_text(textwrap.dedent("""\
        [Main]
        default: site
        confdir:
        autodir: %s
        """ % gdir))
    (gdir / "site.yaml").write_text(textwrap.dedent("""\
        site:
            compute: 'node[1-8]'
            gpu: node[7-10]
        roles:
            login: [front1, front2]
        """))
    python = os.path.join(installed, "python")

    # the library: the installed copy (not the checkout), PyYAML from the venv
    code = textwrap.dedent("""\
        import clusterpy, yaml
        from clusterpy.NodeSet import NodeSet
        print(clusterpy.__file__.startswith(%r), yaml.__file__.startswith(%r))
        print(NodeSet("@compute,@roles:login"))
        print(NodeSet("@gpu") & NodeSet("@compute"))
        """ % (os.path.dirname(installed), os.path.dirname(installed)))
    proc = _run(installed, [python, "-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True True", "front[1-2],node[1-8]", "node[7-8]"]

    # the tools installed as console scripts
    proc = _run(installed, ["cluset", "-l"], tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "@compute\n@gpu\n", "")
    proc = _run(installed, ["cluset", "-s", "roles", "-l"], tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "@roles:login\n", "")
    proc = _run(installed, ["nodeset", "-c", "@roles:login", "@gpu"], tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "6\n", "")
    proc = _run(installed, ["cluset", "-r", "node[1-8]"], tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, "@compute")


def test_man_pages_installed_where_man_finds_them(installed, tmp_path):
    prefix = os.path.dirname(installed)
    pages = sorted(os.listdir(os.path.join(prefix, "share", "man", "man1"))) + \
        sorted(os.listdir(os.path.join(prefix, "share", "man", "man5")))
    assert pages == ["clubak.1", "cluset.1", "clush.1", "nodeset.1",
                     "clush.conf.5", "groups.conf.5"]
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    # man looks in <dir>/../share/man for each <dir> of PATH
    env = {"PATH": installed + os.pathsep + "/usr/bin:/bin", "HOME": str(tmp_path)}
    for name in ("clush", "groups.conf"):
        proc = subprocess.run(["man", "-w", name], env=env, capture_output=True, text=True,
                              timeout=60)
        assert proc.stdout.strip().startswith(os.path.join(prefix, "share", "man")), \
            (name, proc.stdout, proc.stderr)
