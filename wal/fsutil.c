/*
 * fsutil.c - the small file-system helpers that recover.c and writer.c share: fsync of a
 * directory, mkdir -p, and a crash-safe copy of a file prefix. Kept apart so that neither of
 * those two calls into the other.
 */
#include "wal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerr.h"
#include "kmem.h"

#define COPY_CHUNK_BYTES (1u << 20) /* wal_copy_file reads and writes in pieces of this */

int
wal_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return KERR_SYS(errno);
    int rc = fsync(fd) == 0 ? 0 : KERR_SYS(errno);
    close(fd);
    return rc;
}

int
wal_mkdir_p(const char *dir) {
    char buf[WAL_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return KERR_INVAL;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return KERR_SYS(errno);
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return KERR_SYS(errno);
    return 0;
}

/* Copy the first len bytes of src to dst_dir/name through a temporary file and a rename, so a
 * crash in the middle leaves the old file (a prefix, still valid) in place. */
int
wal_copy_file(const char *src, const char *dst_dir, const char *name, uint64_t len) {
    char tmp[WAL_PATH_MAX + WAL_SEG_NAME_MAX + 8], dst[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dst_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dst_dir, name);
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    char *buf = kmalloc(COPY_CHUNK_BYTES);
    if (in < 0) {
        rc = KERR_SYS(errno);
        goto done;
    }
    out = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = KERR_SYS(errno);
        goto done;
    }
    for (uint64_t off = 0; off < len && rc == 0;) {
        size_t want = len - off < COPY_CHUNK_BYTES ? (size_t)(len - off) : COPY_CHUNK_BYTES;
        ssize_t n = pread(in, buf, want, (off_t)off);
        if (n <= 0) {
            rc = n < 0 ? KERR_SYS(errno) : KERR_CORRUPT;
            break;
        }
        for (ssize_t w = 0; w < n && rc == 0;) {
            ssize_t m = pwrite(out, buf + w, (size_t)(n - w), (off_t)off + w);
            if (m < 0)
                rc = KERR_SYS(errno);
            else
                w += m;
        }
        off += (uint64_t)n;
    }
    if (rc == 0 && fsync(out) != 0)
        rc = KERR_SYS(errno);
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = KERR_SYS(errno);
done:
    if (out >= 0) {
        close(out);
        if (rc)
            unlink(tmp);
    }
    if (in >= 0)
        close(in);
    kfree(buf);
    return rc;
}
