/* idfile.c - <dir>/keel.id, the data set's identity and clean-shutdown LSN (see idfile.h). */
#include "idfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kerr.h"
#include "wal.h"

#define IDFILE_LINE_MAX 4096 /* an epochs line of SNAP_EPOCHS_MAX pairs fits */

bool
idfile_parse_id(const char *s, uint8_t id[IDFILE_ID_SIZE]) {
    int n = 0;
    while (*s && n < IDFILE_ID_SIZE) {
        if (*s == '-') {
            s++;
            continue;
        }
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1 || !s[1])
            return false;
        id[n++] = (uint8_t)v;
        s += 2;
    }
    return n == IDFILE_ID_SIZE && *s == '\0';
}

static bool
parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

/* "e:l e:l ...": epochs strictly increasing, first LSNs >= 1 and never decreasing. */
static bool
parse_epochs(char *s, idfile_t *out) {
    out->nepochs = 0;
    for (char *save = NULL, *tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon || out->nepochs == SNAP_EPOCHS_MAX)
            return false;
        *colon = 0;
        snap_epoch_t e;
        if (!parse_u64(tok, &e.epoch) || !parse_u64(colon + 1, &e.first_lsn) || e.epoch == 0 ||
            e.first_lsn == 0)
            return false;
        if (out->nepochs) {
            const snap_epoch_t *prev = &out->epochs[out->nepochs - 1];
            if (e.epoch <= prev->epoch || e.first_lsn < prev->first_lsn)
                return false;
        }
        out->epochs[out->nepochs++] = e;
    }
    return out->nepochs > 0;
}

int
idfile_read(const char *dir, idfile_t *out, char *err, size_t errlen) {
    char path[4096], line[IDFILE_LINE_MAX];
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/%s", dir, IDFILE_NAME);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : KERR_SYS(errno);
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *val = strchr(line, ' ');
        if (!line[0] || line[0] == '#')
            continue;
        bool ok = val != NULL;
        if (ok) {
            *val++ = 0;
            if (!strcmp(line, "dataset_id"))
                ok = idfile_parse_id(val, out->dataset_id);
            else if (!strcmp(line, "epoch"))
                ok = parse_u64(val, &out->epoch);
            else if (!strcmp(line, "log_reached_lsn"))
                ok = parse_u64(val, &out->log_reached_lsn);
            else if (!strcmp(line, "epochs"))
                ok = parse_epochs(val, out);
        }
        if (!ok) {
            snprintf(err, errlen, "%s line %d does not parse ('name value' expected)", path,
                     lineno);
            rc = KERR_CORRUPT;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = KERR_SYS(errno ? errno : EIO);
    }
    fclose(f);
    out->present = rc == 0;
    return rc;
}

static int
fsync_path(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return KERR_SYS(errno);
    int rc = fsync(fd) < 0 ? KERR_SYS(errno) : 0;
    close(fd);
    return rc;
}

int
idfile_write(const char *dir, const idfile_t *in) {
    char path[4096], tmp[4100], id[37];
    snprintf(path, sizeof path, "%s/%s", dir, IDFILE_NAME);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    wal_dataset_id_str(in->dataset_id, id, sizeof id);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return KERR_SYS(errno);
    int w = fprintf(f,
                    "# Keel data set: which one this directory holds, and how far its log reached\n"
                    "# at the last start or clean shutdown. Written by keel-server; do not edit.\n"
                    "dataset_id %s\nepoch %" PRIu64 "\nlog_reached_lsn %" PRIu64 "\n",
                    id, in->epoch, in->log_reached_lsn);
    if (w >= 0 && in->nepochs) {
        w = fprintf(f, "epochs");
        for (uint32_t i = 0; w >= 0 && i < in->nepochs; i++)
            w = fprintf(f, " %" PRIu64 ":%" PRIu64, in->epochs[i].epoch, in->epochs[i].first_lsn);
        if (w >= 0)
            w = fprintf(f, "\n");
    }
    int rc = w < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0 ? KERR_SYS(errno ? errno : EIO) : 0;
    if (fclose(f) != 0 && rc == 0)
        rc = KERR_SYS(errno);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = KERR_SYS(errno);
    if (rc == 0)
        rc = fsync_path(dir, O_RDONLY | O_DIRECTORY);
    if (rc < 0)
        unlink(tmp);
    return rc;
}
