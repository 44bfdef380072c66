/* mem.c - process memory facts for INFO: resident set size, allocator name (see mem.h). */
#include "server/core/mem.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef KEEL_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

size_t
kmem_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (size_t)sysconf(_SC_PAGESIZE);
}

const char *
kmem_allocator(void)
{
#ifdef KEEL_JEMALLOC
    static char name[64];
    const char *v = NULL;
    size_t sz = sizeof v;
    if (!name[0]) {
        if (mallctl("version", &v, &sz, NULL, 0) == 0 && v) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%s", v);
            tmp[strcspn(tmp, "-")] = 0; /* "5.3.0-0-g54eaed1d..." -> "5.3.0" */
            snprintf(name, sizeof name, "jemalloc-%s", tmp);
        } else {
            snprintf(name, sizeof name, "jemalloc");
        }
    }
    return name;
#else
    return "libc";
#endif
}
