"""Packaging for xe-dr. The core needs nothing beyond Python 3.6's standard library."""

import os
import re

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, "xe_dr", "__init__.py")) as handle:
        return re.search(r'^__version__ = "([^"]+)"', handle.read(), re.M).group(1)


class BuildWithPlugin(build_py):
    """Ship host-plugins/xe-dr inside the package (xe_dr/host-plugins/xe-dr), where
    xe_dr.plugin_source finds it, so that an installed xe-dr can push the plugin."""

    def run(self):
        build_py.run(self)
        source = os.path.join(HERE, "host-plugins", "xe-dr")
        if os.path.exists(source) and not self.dry_run:
            target = os.path.join(self.build_lib, "xe_dr", "host-plugins")
            self.mkpath(target)
            self.copy_file(source, os.path.join(target, "xe-dr"))


setup(
    name="xe-dr",
    cmdclass={"build_py": BuildWithPlugin},
    version=read_version(),
    description="Command-line disaster-recovery orchestrator for XenServer and XCP-ng pools",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    license="GPL-2.0-only",
    python_requires=">=3.6",
    packages=find_packages(include=["xe_dr", "xe_dr.*"]),
    # Besides the modules: the report templates (read with pkgutil), the lab's README, and
    # the XenAPI / XenAPIPlugin stand-ins the lab puts on its host plugins' PYTHONPATH
    # (xe_dr/lab/plugins.py XENAPI_DIR: plain modules, not a package, so find_packages
    # leaves them out). The host plugin itself is added by BuildWithPlugin.
    package_data={"xe_dr": ["templates/*", "lab/*.md", "lab/xenapi/*.py"]},
    data_files=[
        ("share/man/man8", ["man/xe-dr.8", "man/xe-dr-plugin.8"]),
    ] if os.path.exists(os.path.join(HERE, "man", "xe-dr.8")) else [],
    install_requires=[],
    extras_require={
        "ssh": ["paramiko>=2.7"],
        "report": ["jinja2>=2.10"],
        # XenAPI: the xapi team's SDK, the real client of the lab's XML-RPC server in tests
        # wheel: tests/test_install.py builds xe-dr's wheel offline (--no-build-isolation)
        # prometheus-client: its parser reads status --format prometheus in the tests
        "test": ["pytest>=7.0", "hypothesis>=6.0", "pytest-xdist>=2.5", "XenAPI>=26", "wheel",
                 "prometheus-client"],
        # The Ansible collection (ansible/): its modules run xe-dr on the controller, in the
        # Python that runs Ansible; ansible-core needs 3.10 or later (never dom0's 3.6).
        "ansible": ["ansible-core; python_version >= '3.10'"],
    },
    entry_points={"console_scripts": ["xe-dr = xe_dr.cli:main"]},
    classifiers=[
        "Environment :: Console",
        "Intended Audience :: System Administrators",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.6",
        "Topic :: System :: Recovery Tools",
    ],
)
