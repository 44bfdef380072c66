/* klog.c - log lines (see klog.h). */
#include "klog.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Process-wide logging settings: pointers into the configuration, set once at start. */
static char *const *level_setting;
static char *const *file_setting;

void
klog_use_settings(char *const *level, char *const *file) {
    level_setting = level;
    file_setting = file;
}

static int
min_level(void) {
    const char *l = level_setting ? *level_setting : NULL;
    if (!l || !strcmp(l, "notice"))
        return KLOG_NOTICE;
    if (!strcmp(l, "debug"))
        return KLOG_DEBUG;
    if (!strcmp(l, "verbose"))
        return KLOG_VERBOSE;
    if (!strcmp(l, "warning"))
        return KLOG_WARNING;
    return KLOG_WARNING + 1; /* "nothing" */
}

int
klog(int level, const char *fmt, ...) {
    if (level < min_level())
        return 0;
    FILE *f = stdout;
    const char *path = file_setting ? *file_setting : NULL;
    bool close_it = false;
    if (path && path[0]) {
        f = fopen(path, "a");
        if (!f)
            return -1;
        close_it = true;
    }
    char ts[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    localtime_r(&now.tv_sec, &tm);
    size_t off = strftime(ts, sizeof ts, "%d %b %Y %H:%M:%S", &tm);
    snprintf(ts + off, sizeof ts - off, ".%03ld", now.tv_nsec / 1000000);
    const char marks[] = ".-*#";
    fprintf(f, "%d:M %s %c ", (int)getpid(), ts, marks[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
    if (close_it)
        fclose(f);
    return 0;
}
