"""Fixtures of the compatibility tests: the previous release built from git history, the current
build from $KEEL_BIN, and servers that are killed by PID when a test ends (also when it fails).
What was built and run is printed in the terminal summary, with or without -s."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import compat_build  # noqa: E402
import keel_harness  # noqa: E402


class Build:
    def __init__(self, label, version, commit, bin_path):
        self.label, self.version, self.commit, self.bin = label, version, commit, bin_path

    def __str__(self):
        return "%s %s (%s)" % (self.label, self.version, self.commit[:12])


@pytest.fixture(scope="session")
def older():
    root = compat_build.repo_root()
    try:
        rel = compat_build.previous_release(root)
    except compat_build.Unavailable as e:
        compat_build.note("SKIPPED: no older build to test against: %s" % e)
        pytest.skip("no older build: %s" % e)
    path, secs = compat_build.build(root, rel)
    version = compat_build.binary_version(path)
    how = "reused" if secs is None else "built in %.1f s" % secs
    compat_build.note("older build: release %s (tests/releases.txt: %s), commit %s, "
                      "keel-server --version %s, %s: %s" %
                      (rel.version, rel.text, rel.commit, version, how, path))
    if version != rel.version and not rel.text.startswith("chosen by"):
        compat_build.note("  note: the binary calls itself %s, the release file %s" %
                          (version, rel.version))
    return Build("older", rel.version, rel.commit, path)


@pytest.fixture(scope="session")
def current():
    path = keel_harness.binary()
    if not os.access(path, os.X_OK):
        raise RuntimeError("no current build at %s (set KEEL_BIN)" % path)
    root = compat_build.repo_root()
    head = compat_build.git(root, "rev-parse", "HEAD").stdout.strip()
    version = compat_build.binary_version(path)
    compat_build.note("current build: $KEEL_BIN/keel-server = %s, --version %s, work tree at "
                      "HEAD %s" % (path, version, head))
    return Build("current", version, head, path)


@pytest.fixture
def live():
    made = []
    yield made
    for s in made:
        s.cleanup()


def pytest_terminal_summary(terminalreporter):
    if compat_build.REPORT:
        terminalreporter.write_sep("=", "replication against an older Keel build")
        for line in compat_build.REPORT:
            terminalreporter.write_line(line)
