/* kerr.c - descriptions of the project-wide error codes, and the assertion failure path. */
#include "kerr.h"
#include "kassert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
kerr_str(int rc) {
    switch (rc) {
    case KERR_OK: return "ok";
    case KERR_CORRUPT: return "data is corrupt";
    case KERR_VERSION: return "needs a newer version";
    case KERR_FORMAT: return "unknown file format";
    case KERR_FAILED: return "failed earlier, refusing work";
    case KERR_QUORUM: return "log quorum lost";
    case KERR_LIMIT: return "limit exceeded";
    case KERR_INVAL: return "invalid argument";
    case KERR_NOTFOUND: return "not found";
    case KERR_EXISTS: return "already exists";
    case KERR_NOMEM: return "out of memory";
    case KERR_TORN: return "torn record at the end of the log";
    case KERR_BUSY: return "in use by another process";
    case KERR_FOREIGN: return "belongs to another data set or history";
    default: break;
    }
    if (rc < 0 && rc > KERR__BASE)
        return strerror(-rc);
    return "unknown error";
}

_Noreturn void
kassert_fail(const char *expr, const char *file, int line, const char *func) {
    fprintf(stderr, "ASSERTION FAILED: %s at %s:%d (%s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}
