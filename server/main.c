/*
 * main.c - keel-server: keel-server [/path/to/keel.conf] [--name value ...]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "klog.h"
#include "kmem.h"
#include "server.h"

static void
usage(FILE *f) {
    fprintf(
        f,
        "Usage: keel-server [/path/to/keel.conf] [--name value ...]\n"
        "       keel-server --version | -v\n"
        "       keel-server --help | -h\n"
        "\n"
        "Keel is a memory-first, durable key-value server speaking the Redis/Valkey protocol.\n"
        "Settings come from the config file, then from --name value overrides. Examples:\n"
        "  keel-server --port 7777 --dir ./data\n"
        "  keel-server /etc/keel.conf --loglevel verbose\n"
        "  keel-server --durability sync --wal-dir /az1/wal --wal-dir /az2/wal --wal-dir /az3/wal\n"
        "\n"
        "Common settings: bind, port, dir, requirepass, maxmemory, maxmemory-policy,\n"
        "durability (sync|async|off), wal-dir, wal-quorum, snapshot-threads. A redis.conf or\n"
        "valkey.conf loads too; see docs/configuration.md for every setting.\n"
        "TLS: tls-port, tls-cert-file, tls-key-file, tls-ca-cert-file, tls-auth-clients,\n"
        "tls-replication. See docs/security.md.\n");
}

int
main(int argc, char **argv) {
    static engine_t srv;
    engine_t *s = &srv;
    char err[4400];
    sbuf_t warnings = {0};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))) {
        printf("Keel server v=%s malloc=%s bits=%d\n", KEEL_VERSION, kmem_allocator(),
               (int)(sizeof(void *) * 8));
        return 0;
    }
    config_defaults(s);
    klog_use_settings(&s->cfg.loglevel, &s->cfg.logfile);
    int i = 1;
    if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) {
        char *abs = realpath(argv[1], NULL);
        if (!abs) {
            fprintf(stderr, "Fatal error, can't open config file '%s'\n", argv[1]);
            return 1;
        }
        s->config_file = kstrndup(abs, strlen(abs));
        free(abs);
        if (config_load_file(s, s->config_file, &warnings, err, sizeof err) < 0) {
            fprintf(stderr, "*** FATAL CONFIG FILE ERROR ***\n%s\n", err);
            return 1;
        }
        i = 2;
    }
    if (config_load_args(s, argc - i, argv + i, &warnings, err, sizeof err) < 0) {
        fprintf(stderr, "*** FATAL CONFIG ERROR ***\n%s\n", err);
        usage(stderr);
        return 1;
    }
    /* A log file that cannot be opened would swallow every line below, refusals included. */
    if (s->cfg.logfile && s->cfg.logfile[0]) {
        FILE *f = fopen(s->cfg.logfile, "a");
        if (!f) {
            fprintf(stderr, "*** FATAL CONFIG ERROR ***\ncannot open log file '%s': %s\n",
                    s->cfg.logfile, strerror(errno));
            return 1;
        }
        fclose(f);
    }
    /* Before any thread starts (server_init): only the calling thread survives fork. */
    if (s->cfg.daemonize && daemon(1, 0) < 0) {
        fprintf(stderr, "*** FATAL ERROR ***\ncannot daemonize: %s\n", strerror(errno));
        return 1;
    }
    if (s->cfg.pidfile && s->cfg.pidfile[0]) {
        FILE *f = fopen(s->cfg.pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        } else {
            klog(KLOG_WARNING, "cannot write pid file '%s': %s", s->cfg.pidfile, strerror(errno));
        }
    }
    klog(KLOG_NOTICE, "Keel %s starting, pid=%d, durability=%s, dir=%s", KEEL_VERSION,
         (int)getpid(),
         s->cfg.durability == DURABILITY_SYNC    ? "sync"
         : s->cfg.durability == DURABILITY_ASYNC ? "async"
                                                 : "off",
         s->cfg.dir);
    /* One line per setting Keel accepted without honouring it (config_file.c). */
    for (char *line = warnings.p, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        klog(KLOG_WARNING, "%.*s", (int)(nl - line), line);
    }
    sbuf_free(&warnings);
    if (server_init(s) < 0)
        return 1;
    server_run(s);
    server_shutdown(s);
    return 0;
}
