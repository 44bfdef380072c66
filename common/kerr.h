/*
 * kerr.h - the project-wide error codes.
 *
 * Every function that can fail returns 0 (or a non-negative count) on success and a negative
 * KERR_* code on failure. System errors are carried as their negated errno (KERR_SYS(errno)),
 * so a caller can still tell ENOSPC from EIO; project errors live below KERR__BASE so they never
 * collide with an errno value.
 */
#ifndef KEEL_KERR_H
#define KEEL_KERR_H

#include <errno.h>

#define KERR_SYS(e) (-(e))

enum {
    KERR_OK = 0,
    KERR__BASE = -10000,
    KERR_CORRUPT = -10001,  /* a checksum or structure check failed on data read back */
    KERR_VERSION = -10002,  /* a file needs a newer reader than this build */
    KERR_FORMAT = -10003,   /* not a file of the expected kind (bad magic) */
    KERR_FAILED = -10004,   /* the component failed earlier and refuses work for good */
    KERR_QUORUM = -10005,   /* fewer healthy log copies than the quorum */
    KERR_LIMIT = -10006,    /* a configured or built-in limit was hit */
    KERR_INVAL = -10007,    /* bad argument or bad input */
    KERR_NOTFOUND = -10008, /* the thing asked for does not exist */
    KERR_EXISTS = -10009,   /* the thing to create already exists */
    KERR_NOMEM = -10010,    /* allocation failed */
    KERR_TORN = -10011,     /* a record at the very end of the log is incomplete */
    KERR_BUSY = -10012,     /* another process owns the directory (its lock is held) */
    KERR_FOREIGN =
        -10013, /* a file belongs to another data set, or does not continue its history */
};

/* A static description of rc, strerror-style; system errors go through strerror(). */
const char *kerr_str(int rc);

#endif
