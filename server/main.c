/*
 * main.c - keel-server: keel-server [/path/to/keel.conf] [--name value ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
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
        "durability (sync|async|off), wal-dir, wal-quorum, snapshot-threads. See README.md.\n"
        "TLS: tls-port, tls-cert-file, tls-key-file, tls-ca-cert-file, tls-auth-clients,\n"
        "tls-replication. See docs/security.md.\n");
}

int
main(int argc, char **argv) {
    static engine_t srv;
    engine_t *s = &srv;
    char err[512];
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
        if (config_load_file(s, s->config_file, err, sizeof err) < 0) {
            fprintf(stderr, "*** FATAL CONFIG FILE ERROR ***\n%s\n", err);
            return 1;
        }
        i = 2;
    }
    if (config_load_args(s, argc - i, argv + i, err, sizeof err) < 0) {
        fprintf(stderr, "*** FATAL CONFIG ERROR ***\n%s\n", err);
        usage(stderr);
        return 1;
    }
    if (s->cfg.pidfile && s->cfg.pidfile[0]) {
        FILE *f = fopen(s->cfg.pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    klog(KLOG_NOTICE, "Keel %s starting, pid=%d, durability=%s, dir=%s", KEEL_VERSION,
         (int)getpid(),
         s->cfg.durability == DURABILITY_SYNC    ? "sync"
         : s->cfg.durability == DURABILITY_ASYNC ? "async"
                                                 : "off",
         s->cfg.dir);
    if (server_init(s) < 0)
        return 1;
    server_run(s);
    server_shutdown(s);
    return 0;
}
