/*
 * config_file.c - reading settings from a config file (with `include`) and from the command line.
 *
 * A file is read as Valkey reads redis.conf / valkey.conf: line by line, each line trimmed of
 * spaces, tabs and line ends; blank lines and lines whose first character is '#' are skipped
 * before anything is parsed (so a comment may hold any quotes); the rest is split with
 * sdssplitargs' rules (resp_split_args: "..." with \n \r \t \b \a \\ \" \xHH, '...' with \',
 * a closing quote followed by a space or the end of the line, a quote inside a word opening a
 * quoted part). The first word names the setting, any case.
 *
 * `include <path>` reads another file at that point: a relative path is taken from the
 * directory of the file that names it, a path with wildcards (* ? [) includes every match in
 * alphabetical order and nothing when none matches (as Valkey), at most
 * CONFIG_INCLUDE_DEPTH_MAX files deep (which also stops a file that includes itself); only
 * regular files (a wildcard skips anything else, a name of anything else is an error).
 *
 * An error names the file and the line, and the chain of includes that led there. A setting
 * Keel accepts but does not honour (config_set() returns 1) is not an error: it adds one line
 * to the warnings (once per setting), which the caller logs once the log is set up.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config_int.h"
#include "kmem.h"

#define CONFIG_INCLUDE_DEPTH_MAX 16

/* One line of warnings per setting: `name` is warned about once however often it is set. */
static void
warn(sbuf_t *warnings, const char *where, const char *name, const char *why) {
    if (!warnings)
        return;
    char key[300];
    snprintf(key, sizeof key, "'%s' ", name);
    for (size_t i = 0; warnings->p && i < warnings->len;) { /* lines "where: 'name' ..." */
        const char *nl = memchr(warnings->p + i, '\n', warnings->len - i);
        size_t end = nl ? (size_t)(nl - warnings->p) : warnings->len;
        const char *q = memchr(warnings->p + i, '\'', end - i);
        if (q && (size_t)(warnings->p + end - q) > strlen(key) && !strncasecmp(q, key, strlen(key)))
            return;
        i = end + 1;
    }
    sbuf_printf(warnings, "%s: '%s' is not honoured by Keel: %s\n", where, name, why);
}

typedef struct load_ctx {
    engine_t *s;
    sbuf_t *warnings;
    char *err;
    size_t errlen;
    bool located; /* err already names a file and a line (an error inside an included file) */
} load_ctx_t;

static int load_file(load_ctx_t *L, const char *path, int depth);

/* `include <pattern>` in file `from`: the path relative to from's directory; wildcards expand
 * to every match, sorted. */
static int
load_include(load_ctx_t *L, const char *from, const char *pattern, int depth) {
    char path[4096];
    if (pattern[0] == '/') {
        snprintf(path, sizeof path, "%s", pattern);
    } else {
        const char *slash = strrchr(from, '/');
        int dl = slash ? (int)(slash - from) : 1;
        snprintf(path, sizeof path, "%.*s/%s", dl, slash ? from : ".", pattern);
    }
    if (depth + 1 >= CONFIG_INCLUDE_DEPTH_MAX) {
        snprintf(L->err, L->errlen,
                 "include '%s': more than %d files deep (does it include itself?)", path,
                 CONFIG_INCLUDE_DEPTH_MAX);
        return -1;
    }
    if (!strpbrk(pattern, "*?[")) {
        /* A device or a FIFO could be read forever (/dev/zero) or block (a pipe). */
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            snprintf(L->err, L->errlen, "include '%s': not a regular file", path);
            return -1;
        }
        return load_file(L, path, depth + 1);
    }
    glob_t g;
    int r = glob(path, 0, NULL, &g);
    if (r == GLOB_NOMATCH)
        return 0;
    if (r != 0) {
        snprintf(L->err, L->errlen, "include '%s': cannot expand the pattern", path);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        struct stat st; /* conf.d/ * skips what is not a file (a subdirectory, a socket) */
        if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = load_file(L, g.gl_pathv[i], depth + 1);
    }
    globfree(&g);
    return rc;
}

/* Applies one line; an error is left in L->err without the file and line. */
static int
load_line(load_ctx_t *L, const char *path, int lineno, int argc, char **args, int depth) {
    if (!strcasecmp(args[0], "include")) {
        if (argc != 2) {
            snprintf(L->err, L->errlen, "expected 'include <path>'");
            return -1;
        }
        return load_include(L, path, args[1], depth);
    }
    char ebuf[512];
    int rc = config_set(L->s, argc, (const char *const *)args, NULL, true, ebuf, sizeof ebuf);
    if (rc > 0) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        warn(L->warnings, where, args[0], ebuf);
    } else if (rc < 0) {
        snprintf(L->err, L->errlen, "'%s': %s", args[0], ebuf);
    }
    return rc < 0 ? -1 : 0;
}

static int
load_file(load_ctx_t *L, const char *path, int depth) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(L->err, L->errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    for (ssize_t n; rc == 0 && (n = getline(&line, &cap, f)) >= 0;) { /* lines of any length */
        int argc;
        lineno++;
        char **args = config_split_line(line, (size_t)n, &argc);
        if (argc < 0) {
            snprintf(L->err, L->errlen, "unbalanced quotes");
            rc = -1;
        } else if (argc > 0) {
            rc = load_line(L, path, lineno, argc, args, depth);
        }
        kfree(args);
        if (rc < 0) {
            /* "file:line: what", and for an error in an included file the lines that led to it:
             * "inner.conf:3: ... (included from main.conf:10)". */
            char *what = kstrndup(L->err, strlen(L->err));
            if (L->located)
                snprintf(L->err, L->errlen, "%s (included from %s:%d)", what, path, lineno);
            else
                snprintf(L->err, L->errlen, "%s:%d: %s", path, lineno, what);
            L->located = true;
            kfree(what);
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(L->err, L->errlen, "cannot read config file '%s': %s", path, strerror(errno));
        rc = -1;
    }
    free(line); /* getline's, from libc malloc */
    fclose(f);
    return rc;
}

int
config_load_file(engine_t *s, const char *path, sbuf_t *warnings, char *err, size_t errlen) {
    load_ctx_t L = {s, warnings, err, errlen, false};
    return load_file(&L, path, 0);
}

int
config_load_args(engine_t *s, int argc, char **argv, sbuf_t *warnings, char *err, size_t errlen) {
    for (int i = 0; i < argc;) {
        if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2]) {
            snprintf(err, errlen, "unexpected argument '%s' (options are --name value)", argv[i]);
            return -1;
        }
        const char **args = kmalloc(sizeof *args * (size_t)(argc - i));
        int n = 0;
        args[n++] = argv[i] + 2;
        i++;
        while (i < argc && strncmp(argv[i], "--", 2) != 0)
            args[n++] = argv[i++];
        char ebuf[512];
        int rc = config_set(s, n, args, NULL, true, ebuf, sizeof ebuf);
        if (rc > 0) {
            warn(warnings, "command line", args[0], ebuf);
        } else if (rc < 0) {
            snprintf(err, errlen, "--%s: %s", args[0], ebuf);
        }
        kfree(args);
        if (rc < 0)
            return -1;
    }
    return 0;
}
