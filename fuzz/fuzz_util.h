/*
 * fuzz_util.h - what the harnesses share: a scratch directory of their own, writing an input
 * into a file there, a byte reader over the input, and FUZZ_CHECK for the harnesses' own
 * oracles (a broken one aborts, which libFuzzer and the replay tests report as a crash).
 *
 * Header-only (static functions), so each harness links nothing but its layer's library.
 *
 * The scratch directory, keel-fuzz-<pid>, is made once per process under $KEEL_FUZZ_TMPDIR,
 * else /dev/shm (a tmpfs: no disk I/O per input), else /tmp, and removed at exit; its contents
 * are removed before each input, so no input sees another's files. A crash skips the removal:
 * the next harness to start removes the directories of processes that are gone.
 */
#ifndef KEEL_FUZZ_UTIL_H
#define KEEL_FUZZ_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_CHECK(e) ((e) ? (void)0 : fuzz_check_fail(#e, __FILE__, __LINE__))

static inline void
fuzz_check_fail(const char *what, const char *file, int line) {
    fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", what, file, line);
    abort();
}

/* ---- the scratch directory ------------------------------------------------------------------ */

static char fuzz_dir_path[256];

/* Removes everything under dir (files and subdirectories), keeping dir itself. */
static inline void
fuzz_dir_clear(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%.3000s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            fuzz_dir_clear(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
}

static inline void
fuzz_dir_remove(void) {
    if (!fuzz_dir_path[0])
        return;
    fuzz_dir_clear(fuzz_dir_path);
    rmdir(fuzz_dir_path);
}

/* Removes the scratch directories of processes that are gone (a crash skips atexit). */
static inline void
fuzz_dir_reap(const char *base) {
    DIR *d = opendir(base);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        long pid;
        char rest;
        if (sscanf(e->d_name, "keel-fuzz-%ld%c", &pid, &rest) != 1 || pid <= 0 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%.2000s/%s", base, e->d_name);
        fuzz_dir_clear(p);
        rmdir(p);
    }
    if (d)
        closedir(d);
}

/* The process's scratch directory, emptied: every input starts from nothing. */
static inline const char *
fuzz_dir(void) {
    if (!fuzz_dir_path[0]) {
        const char *base = getenv("KEEL_FUZZ_TMPDIR");
        struct stat st;
        if (!base || !base[0])
            base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        fuzz_dir_reap(base);
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%.200s/keel-fuzz-%ld", base, (long)getpid());
        fuzz_dir_clear(fuzz_dir_path);
        if (mkdir(fuzz_dir_path, 0700) != 0 && errno != EEXIST) {
            perror(fuzz_dir_path);
            abort();
        }
        atexit(fuzz_dir_remove);
    }
    fuzz_dir_clear(fuzz_dir_path);
    return fuzz_dir_path;
}

/* Writes n bytes to path (created or truncated); aborts on failure, which is the harness's. */
static inline void
fuzz_write_file(const char *path, const void *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *c = p;
    if (fd < 0) {
        perror(path);
        abort();
    }
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k <= 0) {
            perror(path);
            abort();
        }
        c += k;
        n -= (size_t)k;
    }
    close(fd);
}

static inline void
fuzz_mkdir(const char *path) {
    if (mkdir(path, 0700) != 0) {
        perror(path);
        abort();
    }
}

/* /dev/null for the printing readers, opened once. */
static inline FILE *
fuzz_devnull(void) {
    static FILE *f;
    if (!f && !(f = fopen("/dev/null", "w")))
        abort();
    return f;
}

/* ---- reading the input ---------------------------------------------------------------------- */

/* Takes bytes from the front of the input; past its end every read gives zeros. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in_t;

static inline uint8_t
fuzz_u8(fuzz_in_t *in) {
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint64_t
fuzz_u64(fuzz_in_t *in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)fuzz_u8(in) << (8 * i);
    return v;
}

/* A small deterministic PRNG (xorshift64*) for choices that need not be in the input. */
static inline uint64_t
fuzz_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

#endif
