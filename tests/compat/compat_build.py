"""compat_build - find the previous release in tests/releases.txt and build it from git history.

The release file lists release points oldest first: '<version> <40-hex commit> <note>', '#'
comments. The previous release is the newest entry whose commit is an ancestor of HEAD and is
not HEAD itself; KEEL_COMPAT_COMMIT=<commit-ish> overrides it.

A build goes to <cache>/<commit>/keel-server (cache: KEEL_COMPAT_CACHE, default build-compat/
under the repository root). It is made in a temporary directory of the cache (a detached git
worktree of that commit, configured and built there, the binary copied out, the worktree removed
again) and renamed to <commit> only when complete, so an interrupted build never leaves a cache
entry that a later run would trust; a complete one is reused.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = []  # lines for the terminal summary (conftest.py), printed whatever -s says


def note(line):
    REPORT.append(line)
    print(line)


class Unavailable(Exception):
    """The previous release cannot be had here for a reason outside the code (a shallow clone):
    the test is skipped, loudly."""


class Release:
    def __init__(self, version, commit, text, line=0):
        self.version, self.commit, self.text, self.line = version, commit, text, line

    def __repr__(self):
        return "%s %s" % (self.version, self.commit[:12])


def git(root, *args, check=True):
    r = subprocess.run(["git", "-C", root] + list(args), capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("git %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                    r.stderr.strip()))
    return r


def repo_root():
    return git(HERE, "rev-parse", "--show-toplevel").stdout.strip()


def releases_path(root):
    return os.path.join(root, "tests", "releases.txt")


_LINE = re.compile(r"^(\S+)\s+([0-9a-f]{40})\s+(\S.*)$")


def read_releases(path):
    out = []
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = _LINE.match(line)
            if not m:
                raise ValueError("%s:%d: not '<version> <40-hex commit id> <note>': %r" %
                                 (path, n, line))
            out.append(Release(m.group(1), m.group(2), m.group(3), n))
    if not out:
        raise ValueError("%s: no release" % path)
    return out


def has_commit(root, commit):
    return git(root, "cat-file", "-e", commit + "^{commit}", check=False).returncode == 0


def is_shallow(root):
    return git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def is_ancestor(root, a, b):
    r = git(root, "merge-base", "--is-ancestor", a, b, check=False)
    if r.returncode not in (0, 1):
        raise RuntimeError("git merge-base --is-ancestor %s %s: %s" % (a, b, r.stderr.strip()))
    return r.returncode == 0


def previous_release(root):
    """The Release to test against. Unavailable when a shallow clone lacks its commit; any
    other failure to find one raises."""
    head = git(root, "rev-parse", "HEAD").stdout.strip()
    releases = read_releases(releases_path(root))
    shallow_hint = "this clone is shallow and lacks the commit object: git fetch --unshallow"
    override = os.environ.get("KEEL_COMPAT_COMMIT")
    if override:
        r = git(root, "rev-parse", "--verify", "--quiet", override + "^{commit}", check=False)
        if r.returncode:
            if is_shallow(root):
                raise Unavailable("KEEL_COMPAT_COMMIT=%s: %s" % (override, shallow_hint))
            raise RuntimeError("KEEL_COMPAT_COMMIT=%s: no such commit in this repository" %
                               override)
        commit = r.stdout.strip()
        known = [x for x in releases if x.commit == commit]
        version = known[0].version if known else "unreleased"
        return Release(version, commit, "chosen by KEEL_COMPAT_COMMIT=%s" % override)
    for rel in reversed(releases):
        if rel.commit == head:
            continue
        if not has_commit(root, rel.commit):
            if is_shallow(root):
                raise Unavailable("release %s (%s, tests/releases.txt line %d): %s (or git "
                                  "fetch origin tag v%s)" % (rel.version, rel.commit, rel.line,
                                                             shallow_hint, rel.version))
            raise RuntimeError("release %s: commit %s (tests/releases.txt line %d) is not in "
                               "this repository" % (rel.version, rel.commit, rel.line))
        if is_ancestor(root, rel.commit, head):
            return rel
    raise RuntimeError("no release in tests/releases.txt is an ancestor of HEAD %s (other than "
                       "HEAD itself)" % head)


def binary_version(path):
    """'0.1.0' from 'keel-server --version' ('Keel server v=0.1.0 ...')."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    m = re.search(r"\bv=(\S+)", out.stdout)
    if out.returncode or not m:
        raise RuntimeError("%s --version: exit %d, %r" % (path, out.returncode, out.stdout))
    return m.group(1)


def _remove_worktree(root, path):
    """Unregister and delete a worktree of ours; prune only when git could not remove it."""
    if git(root, "worktree", "remove", "--force", path, check=False).returncode:
        shutil.rmtree(path, ignore_errors=True)
        git(root, "worktree", "prune", check=False)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(root, cache):
    """Temporary directories of builds whose process is gone (killed mid-build)."""
    for name in os.listdir(cache):
        m = re.match(r"^\.tmp-[0-9a-f]+-(\d+)-", name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        path = os.path.join(cache, name)
        if os.path.isdir(os.path.join(path, "src")):
            _remove_worktree(root, os.path.join(path, "src"))
        shutil.rmtree(path, ignore_errors=True)


def _run(cmd, log, timeout=1800):
    t = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    log.append("$ %s  (%.1f s)\n%s" % (" ".join(cmd), time.time() - t, r.stdout))
    if r.returncode:
        raise RuntimeError("%s: exit %d\n%s" % (" ".join(cmd), r.returncode, r.stdout[-4000:]))


def build(root, rel):
    """(path of the built keel-server, seconds spent building or None when reused)."""
    cache = os.environ.get("KEEL_COMPAT_CACHE") or os.path.join(root, "build-compat")
    final = os.path.join(cache, rel.commit)
    binp = os.path.join(final, "keel-server")
    stamp = os.path.join(final, "BUILT")
    if os.path.isfile(stamp) and os.access(binp, os.X_OK):
        return binp, None
    os.makedirs(cache, exist_ok=True)
    _clean_stale(root, cache)
    if os.path.exists(final):  # only a complete build is ever renamed there: someone's debris
        shutil.rmtree(final)
    jobs = os.environ.get("KEEL_COMPAT_JOBS", "2")
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix=".tmp-%s-%d-" % (rel.commit[:12], os.getpid()), dir=cache)
    src = os.path.join(tmp, "src")
    log = []
    try:
        try:
            _run(["git", "-C", root, "worktree", "add", "--detach", src, rel.commit], log)
            _run(["cmake", "-S", src, "-B", os.path.join(src, "build"),
                  "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DKEEL_TESTS=OFF"], log)
            _run(["nice", "-n", "10", "cmake", "--build", os.path.join(src, "build"),
                  "--target", "keel-server", "-j" + jobs], log)
            shutil.copy2(os.path.join(src, "build", "keel-server"),
                         os.path.join(tmp, "keel-server"))
        finally:
            if os.path.isdir(src):
                _remove_worktree(root, src)
        version = binary_version(os.path.join(tmp, "keel-server"))
        secs = time.time() - t0
        with open(os.path.join(tmp, "build.log"), "w") as f:
            f.write("\n".join(log))
        with open(os.path.join(tmp, "BUILT"), "w") as f:
            f.write("release %s\ncommit %s\nkeel_version %s\nbuilt %s in %.1f s\n" %
                    (rel.version, rel.commit, version, time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                    time.gmtime()), secs))
        try:
            os.rename(tmp, final)
        except OSError:  # another run finished the same build first: use that one
            shutil.rmtree(tmp, ignore_errors=True)
            if not os.path.isfile(stamp):
                raise
        return binp, secs
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
