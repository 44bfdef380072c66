"""Crash test: a power cut under the log. The data directory lives on a loop-mounted ext4 image;
at the crash moment the file system is shut down with no log flush (`xfs_io -x -c shutdown`,
ext4's "goingdown" ioctl with EXT4_GOING_FLAGS_NOLOGFLUSH: every later I/O fails and nothing
more of the page cache reaches the device), the server gets SIGKILL, the file system is
unmounted and mounted again (so only what reached the device is read back), the server restarts
and every acknowledged write must be there (crash_lib.Workload.verify).

Needs root, a loop device and xfs_io: skipped with the reason otherwise. Mounts and loop devices
are cleaned up in finally blocks even when a check fails. Cycles: 4, or KEEL_POWERCUT_CYCLES.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from crash_lib import KeelServer, Workload, has_cmd  # noqa: E402

THREADS = 30
IMAGE_MB = 256
# Every start opens a new preallocated segment: keep them small so the image never fills up.
ARGS = ["--wal-segment-size", "4mb"]


def run(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, check=check)


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (losetup, mount)"
    for tool in ("losetup", "mkfs.ext4", "mount", "umount", "xfs_io"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    if not os.path.exists("/dev/loop-control"):
        return "no loop device support (/dev/loop-control missing)"
    return None


class LoopFs:
    """An ext4 image on a loop device mounted at self.mnt."""

    def __init__(self, root, image_mb=IMAGE_MB):
        self.image = os.path.join(root, "fs.img")
        self.mnt = os.path.join(root, "mnt")
        self.dev = None
        self.mounted = False
        os.makedirs(self.mnt)
        with open(self.image, "wb") as f:
            f.truncate(image_mb << 20)
        r = run("losetup", "-f", "--show", self.image, check=False)
        if r.returncode != 0:
            pytest.skip("losetup failed (no free loop device?): " + r.stderr.strip())
        self.dev = r.stdout.strip()
        run("mkfs.ext4", "-q", "-F", self.dev)
        self.mount()

    def mount(self):
        run("mount", "-t", "ext4", self.dev, self.mnt)
        self.mounted = True

    def umount(self, lazy_ok=False):
        """Unmounts; retries while the killed server's io_uring teardown (kernel work after the
        process is gone) still holds files. Lazy unmount only in cleanup: a remount after a lazy
        one could get the old, shut-down file system back."""
        if not self.mounted:
            return
        for _ in range(100):
            r = run("umount", self.mnt, check=False)
            if r.returncode == 0:
                self.mounted = False
                return
            time.sleep(0.05)
        if lazy_ok:
            run("umount", "-l", self.mnt, check=False)
            self.mounted = False
            return
        raise RuntimeError("umount %s failed: %s" % (self.mnt, r.stderr.strip()))

    def shutdown_nologflush(self):
        run("xfs_io", "-x", "-c", "shutdown", self.mnt)

    def destroy(self):
        self.umount(lazy_ok=True)
        if self.dev:
            run("losetup", "-d", self.dev, check=False)
            self.dev = None


# serial: a loop device is taken from the machine's few (a container may have no more device
# nodes than losetup finds free): two such tests at once could skip one for want of a device.
@pytest.mark.serial
@pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))
def test_power_cut_loses_no_acknowledged_write():
    root = tempfile.mkdtemp(prefix="keel-powercut-")
    fs = None
    s = None
    rnd = random.Random(int(os.environ.get("KEEL_CRASH_SEED", "2")))
    try:
        fs = LoopFs(root)
        data = os.path.join(fs.mnt, "data")
        s = KeelServer(args=ARGS, data_dir=data, durability="sync")
        s.log_path = os.path.join(root, "server.log")  # the log file must outlive the cut
        s.start()
        r = s.client()
        w = Workload(has_cmd(r, "incr"), has_cmd(r, "lpush"))
        r.close()
        n = int(os.environ.get("KEEL_POWERCUT_CYCLES", "4"))
        for i in range(n):
            def cut(server=s):
                w.begin_cut()
                fs.shutdown_nologflush()
                server.kill()

            w.run(s.port, THREADS, rnd.uniform(0.4, 1.2), cut)
            fs.umount()
            fs.mount()
            s = KeelServer(args=ARGS, data_dir=data, durability="sync")
            s.log_path = os.path.join(root, "server.log")
            s.start()
            r = s.client()
            try:
                summary = w.verify(r)
            except AssertionError:
                print(s.read_log()[-6000:])  # the recovery messages say what was cut
                raise
            r.close()
            print("power cut %d/%d: %s" % (i + 1, n, summary))
        assert len(w.acked_sets) > 50 * n
    finally:
        if s:
            s.kill()
        if fs:
            fs.destroy()
        shutil.rmtree(root, ignore_errors=True)
