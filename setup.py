"""setuptools entry point: the cffi build of the C core, the ssh mux
client program (csrc/sshmux/client.c, see clusterpy/_sshmux.py) and the
man pages.

Everything else about the package lives in pyproject.toml.
"""
import os

from setuptools import setup
from setuptools.command.build_ext import build_ext

MUX_CLIENT = "_sshmux_client"


class BuildExt(build_ext):
    """build_ext, then the mux client program beside the package's modules
    (a failed build only leaves reused ssh connections on the ssh client)."""

    def run(self):
        super().run()
        target = "clusterpy" if self.inplace else os.path.join(self.build_lib, "clusterpy")
        try:
            objects = self.compiler.compile(
                [os.path.join("csrc", "sshmux", "client.c")], output_dir=self.build_temp,
                extra_postargs=["-O2", "-Wall", "-Wextra", "-Werror"])
            self.compiler.link_executable(objects, MUX_CLIENT, output_dir=target)
        except Exception as exc:  # noqa: BLE001 (optional program)
            self.warn("%s not built (%s): reused ssh connections go through ssh"
                      % (MUX_CLIENT, exc))


# installed under <prefix>/share/man, where man(1) looks next to <prefix>/bin
MAN_PAGES = [
    ("share/man/man1", ["docs/man/clush.1", "docs/man/cluset.1", "docs/man/nodeset.1",
                        "docs/man/clubak.1"]),
    ("share/man/man5", ["docs/man/clush.conf.5", "docs/man/groups.conf.5"]),
]

setup(cffi_modules=["clusterpy/_build_core.py:ffibuilder"], cmdclass={"build_ext": BuildExt},
      data_files=MAN_PAGES)
