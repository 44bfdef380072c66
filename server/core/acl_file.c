/*
 * acl_file.c - users from keel.conf's `user` lines or from the aclfile; ACL LOAD, ACL SAVE, and
 * the `user` lines CONFIG REWRITE writes.
 *
 * The aclfile holds one user per line, `user <name> <rule> <rule> ...`, words split on spaces
 * (no quoting: names and patterns cannot hold spaces), empty lines allowed, anything else an
 * error (no comments: ACL SAVE rewrites the file, as in Valkey). Loading builds a complete new
 * set of users aside and switches to it only when every line applied: one bad rule anywhere
 * leaves the users as they were (ACL LOAD) or stops the start (acl_load_configured).
 *
 * ACL SAVE writes `<aclfile>.tmp-<pid>-<ms>`, fsyncs it, renames it over the aclfile and fsyncs
 * the directory, so a crash leaves the old file or the new one, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "acl_int.h"
#include "klog.h"
#include "kmem.h"
#include "sbuf.h"
#include "util.h"

#define ACL_LINE_MAX (1 << 20) /* bytes of one aclfile line */

/* Words of a line split on blanks, in place (the line is modified). Returns how many, at most
 * max; -1 when there are more. */
static int
split_words(char *line, karg_t *words, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            return n;
        if (n == max)
            return -1;
        char *w = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        words[n++] = (karg_t){w, (size_t)(p - w)};
        if (*p)
            *p++ = 0;
    }
}

static void
free_users(acl_user_t **users, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        acl_user_free(users[i]);
    kfree(users);
}

/* A rule's text for an error message: a password rule is not repeated. */
static const char *
shown_rule(const karg_t *r) {
    return r->n && (r->p[0] == '>' || r->p[0] == '<') ? "(password rule)" : r->p;
}

/* One aclfile line into the new users table; errors appended to errors. */
static void
load_line(acl_state_t *a, const char *path, int lineno, char *line, karg_t *words,
          acl_user_t ***users, uint32_t *n, sbuf_t *errors) {
    int argc = split_words(line, words, ACL_RULES_MAX + 2);
    if (argc == 0)
        return;
    if (argc < 0) {
        sbuf_printf(errors, "%s:%d: too many rules (at most %d). ", path, lineno, ACL_RULES_MAX);
        return;
    }
    if (argc < 2 || strcmp(words[0].p, "user") != 0) {
        sbuf_printf(errors, "%s:%d should start with user keyword followed by the username. ", path,
                    lineno);
        return;
    }
    const char *why;
    if (!acl_name_ok(words[1].p, words[1].n, &why)) {
        sbuf_printf(errors, "%s:%d: username '%.*s' is invalid: %s. ", path, lineno,
                    (int)(words[1].n > 128 ? 128 : words[1].n), words[1].p, why);
        return;
    }
    if (acl_table_find(*users, *n, words[1].p, words[1].n)) {
        sbuf_printf(errors, "WARNING: Duplicate user '%s' found on line %d. ", words[1].p, lineno);
        return;
    }
    if (*n >= ACL_USERS_MAX) {
        sbuf_printf(errors, "%s:%d: too many users (at most %d). ", path, lineno, ACL_USERS_MAX);
        return;
    }
    acl_user_t *u = acl_user_new(a, words[1].p, words[1].n);
    acl_table_insert(users, n, u);
    for (int i = 2; i < argc; i++)
        if (acl_user_apply(a, u, words[i].p, words[i].n, &why) < 0)
            sbuf_printf(errors, "%s:%d: Error in applying operation '%s': %s. ", path, lineno,
                        shown_rule(&words[i]), why);
}

/* Read the aclfile into a new table; NULL with errors filled when anything is wrong. */
static acl_user_t **
read_file(acl_state_t *a, const char *path, uint32_t *nout, sbuf_t *errors) {
    FILE *f = fopen(path, "r");
    if (!f) {
        sbuf_printf(errors, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return NULL;
    }
    acl_user_t **users = NULL;
    uint32_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    size_t err_before = errors->len;
    karg_t *words = kmalloc(sizeof *words * (ACL_RULES_MAX + 2));
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > ACL_LINE_MAX) {
            sbuf_printf(errors, "%s:%d: line too long (at most %d bytes). ", path, lineno,
                        ACL_LINE_MAX);
            continue;
        }
        if (memchr(line, 0, (size_t)len)) {
            sbuf_printf(errors, "%s:%d: NUL byte in the line. ", path, lineno);
            continue;
        }
        load_line(a, path, lineno, line, words, &users, &n, errors);
    }
    kfree(words);
    if (ferror(f))
        sbuf_printf(errors, "Error loading ACLs, reading file '%s': %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (errors->len != err_before) {
        free_users(users, n);
        return NULL;
    }
    if (!acl_table_find(users, n, "default",
                        7)) /* as Valkey: a file without it gets the factory one */
        acl_table_insert(&users, &n, acl_default_new(a));
    *nout = n;
    return users;
}

int
acl_load_file(engine_t *e, sbuf_t *errors) {
    acl_state_t *a = e->acl;
    uint32_t n = 0;
    acl_user_t **users = read_file(a, e->cfg.aclfile, &n, errors);
    if (!users) {
        sbuf_printf(errors,
                    "%sWARNING: ACL errors detected, no change to the previously active "
                    "ACL rules was performed",
                    errors->len && errors->p[errors->len - 1] != ' ' ? " " : "");
        return -1;
    }
    acl_replace_users(a, users, n);
    return 0;
}

/* The `user` lines of keel.conf, in order; the default user may be among them (it is reset
 * first, so the line describes it entirely). */
static int
load_conf_users(engine_t *e, char *err, size_t errlen) {
    acl_state_t *a = e->acl;
    acl_user_t **seen = NULL;
    uint32_t nseen = 0;
    int rc = 0;
    for (int i = 0; i < e->cfg.acl_nusers && rc == 0; i++) {
        const acl_conf_user_t *cu = &e->cfg.acl_users[i];
        const char *name = cu->argv[0], *why;
        size_t nlen = strlen(name);
        if (!acl_name_ok(name, nlen, &why) || cu->argc - 1 > ACL_RULES_MAX) {
            snprintf(err, errlen, "user '%.128s': %s", name,
                     cu->argc - 1 > ACL_RULES_MAX ? "too many rules" : why);
            rc = -1;
            break;
        }
        if (acl_table_find(seen, nseen, name, nlen)) {
            snprintf(err, errlen,
                     "Duplicate user '%.128s' found. A user can only be defined once "
                     "in config files",
                     name);
            rc = -1;
            break;
        }
        acl_user_t *u = acl_user_find(e, name, nlen);
        if (!u) {
            if (a->nusers >= ACL_USERS_MAX) {
                snprintf(err, errlen, "too many users (at most %d)", ACL_USERS_MAX);
                rc = -1;
                break;
            }
            u = acl_user_new(a, name, nlen);
            acl_table_insert(&a->users, &a->nusers, u);
        } else {
            acl_user_apply(a, u, "reset", 5, &why);
        }
        acl_table_insert(&seen, &nseen, u);
        for (int j = 1; j < cu->argc && rc == 0; j++) {
            karg_t r = {cu->argv[j], strlen(cu->argv[j])};
            if (acl_user_apply(a, u, r.p, r.n, &why) < 0) {
                snprintf(err, errlen,
                         "Error loading ACL rule '%.128s' for the user named '%.128s': %s",
                         shown_rule(&r), name, why);
                rc = -1;
            }
        }
        if (rc == 0 && !(u->flags & ACL_U_ON))
            klog(KLOG_NOTICE,
                 "The user '%s' is disabled (there is no 'on' modifier in the user description). "
                 "Make sure this is not a configuration error.",
                 name);
    }
    kfree(seen);
    return rc;
}

int
acl_load_configured(engine_t *e, char *err, size_t errlen) {
    const char *file = e->cfg.aclfile;
    if (file && file[0] && e->cfg.acl_nusers > 0) {
        snprintf(err, errlen,
                 "Configuring Keel with users defined in keel.conf and at the same time an ACL "
                 "file path is invalid: define either an aclfile or `user` lines, not both");
        return -1;
    }
    if (load_conf_users(e, err, errlen) < 0)
        return -1;
    if (file && file[0]) {
        sbuf_t errors = {0};
        int rc = acl_load_file(e, &errors);
        if (rc < 0)
            snprintf(err, errlen, "Aborting start because of ACL errors: %.*s",
                     (int)(errors.len > 1500 ? 1500 : errors.len), errors.p ? errors.p : "");
        sbuf_free(&errors);
        return rc;
    }
    return 0;
}

/* ---- ACL SAVE ---- */

static void
user_line(engine_t *e, const acl_user_t *u, sbuf_t *out) {
    sbuf_t d = {0};
    acl_describe(e, u, ACL_DESCR_ALL, &d);
    sbuf_printf(out, "user %s %.*s\n", acl_user_name(u), (int)d.len, d.p ? d.p : "");
    sbuf_free(&d);
}

static int
fsync_dir_of(const char *path) {
    char *copy = kstrndup(path, strlen(path));
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    kfree(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int
acl_save_file(engine_t *e, char *err, size_t errlen) {
    const char *path = e->cfg.aclfile;
    sbuf_t text = {0};
    for (uint32_t i = 0; i < acl_user_count(e); i++)
        user_line(e, acl_user_at(e, i), &text);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d-%lld", path, (int)getpid(), (long long)util_time_ms());
    int rc = -1;
    const char *step = "opening";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        step = "writing";
        size_t off = 0;
        while (off < text.len) {
            ssize_t w = write(fd, text.p + off, text.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off == text.len) {
            step = "syncing";
            if (fsync(fd) == 0) {
                step = "closing";
                int c = close(fd);
                fd = -1;
                step = "renaming";
                if (c == 0 && rename(tmp, path) == 0) {
                    step = "syncing the directory of";
                    rc = fsync_dir_of(path);
                }
            }
        }
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s the ACL file '%s': %s", step, path, strerror(errno));
        klog(KLOG_WARNING, "ACL SAVE failed: %s", err);
        unlink(tmp);
    }
    if (fd >= 0)
        close(fd);
    sbuf_free(&text);
    return rc;
}

/* ---- CONFIG REWRITE ---- */

/* A word for keel.conf: quoted when it starts with a quote character, which the config reader
 * would otherwise take for a quoted word. */
static void
conf_word(FILE *f, const char *w, size_t n) {
    if (n && (w[0] == '"' || w[0] == '\'')) {
        fputc('"', f);
        for (size_t i = 0; i < n; i++) {
            if (w[i] == '"' || w[i] == '\\')
                fputc('\\', f);
            fputc(w[i], f);
        }
        fputc('"', f);
    } else {
        fwrite(w, 1, n, f);
    }
}

/* keel.conf's reader takes at most 64 words and 4096 bytes a line (config.c). */
#define CONF_WORDS_MAX 64
#define CONF_LINE_MAX  4000

int
acl_rewrite_config(engine_t *e, FILE *f, char *err, size_t errlen) {
    acl_state_t *a = e->acl;
    if (!a || (e->cfg.aclfile && e->cfg.aclfile[0]))
        return 0;
    if (a->nusers == 1) {
        /* Only the default user: write nothing when requirepass describes it. */
        acl_user_t *ref = acl_default_new(a);
        const char *why;
        if (e->cfg.requirepass && e->cfg.requirepass[0]) {
            sbuf_t op = {0};
            sbuf_printf(&op, ">%s", e->cfg.requirepass);
            acl_user_apply(a, ref, op.p, op.len, &why);
            sbuf_free(&op);
        }
        sbuf_t x = {0}, y = {0};
        acl_describe(e, ref, ACL_DESCR_ALL, &x);
        acl_describe(e, a->dflt, ACL_DESCR_ALL, &y);
        bool same = x.len == y.len && !memcmp(x.p, y.p, x.len);
        sbuf_free(&x);
        sbuf_free(&y);
        acl_user_free(ref);
        if (same)
            return 0;
    }
    for (uint32_t i = 0; i < a->nusers; i++) { /* every line must read back: check first */
        sbuf_t d = {0};
        acl_describe(e, a->users[i], ACL_DESCR_ALL, &d);
        size_t words = 2;
        for (size_t s = 0; s < d.len; s++)
            words += d.p[s] == ' ';
        bool fits = words <= CONF_WORDS_MAX && d.len + a->users[i]->name_len + 8 <= CONF_LINE_MAX;
        sbuf_free(&d);
        if (!fits) {
            snprintf(err, errlen,
                     "the rules of user '%s' do not fit a keel.conf line (%d words, %d bytes): "
                     "keep the users in an aclfile",
                     a->users[i]->name, CONF_WORDS_MAX, CONF_LINE_MAX);
            return -1;
        }
    }
    for (uint32_t i = 0; i < a->nusers; i++) {
        sbuf_t d = {0};
        acl_describe(e, a->users[i], ACL_DESCR_ALL, &d);
        fputs("user ", f);
        conf_word(f, a->users[i]->name, a->users[i]->name_len);
        for (size_t s = 0; s < d.len;) {
            size_t t = s;
            while (t < d.len && d.p[t] != ' ')
                t++;
            fputc(' ', f);
            conf_word(f, d.p + s, t - s);
            s = t + 1;
        }
        fputc('\n', f);
        sbuf_free(&d);
    }
    return 0;
}
