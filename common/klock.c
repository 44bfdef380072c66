/* klock.c - directory ownership through flock (see klock.h). */
#include "klock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "kerr.h"

static pid_t
read_pid(int fd) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? (pid_t)pid : 0;
}

int
klock_acquire(klock_t *l, const char *dir, bool exclusive, pid_t *holder_pid) {
    char path[4096];
    l->fd = -1;
    if (holder_pid)
        *holder_pid = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, KLOCK_FILE) >= (int)sizeof path)
        return KERR_SYS(ENAMETOOLONG);
    /* A reader that cannot create the file (read-only directory) still sees an owner's lock. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && !exclusive)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return exclusive || errno != ENOENT ? KERR_SYS(errno) : 0;
    if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
        int e = errno;
        if (holder_pid)
            *holder_pid = read_pid(fd);
        close(fd);
        return e == EWOULDBLOCK ? KERR_BUSY : KERR_SYS(e);
    }
    if (exclusive) {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
            int e = errno ? errno : EIO;
            close(fd);
            return KERR_SYS(e);
        }
    }
    l->fd = fd;
    return 0;
}

void
klock_release(klock_t *l) {
    if (l->fd >= 0)
        close(l->fd); /* closing drops the flock */
    l->fd = -1;
}
