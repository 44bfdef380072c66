/*
 * idfile.h - <dir>/keel.id: the data directory's record of which data set it holds and where
 * its log stood at the last start or clean shutdown.
 *
 * Format: text, one "name value" per line, written whole to keel.id.tmp, fsynced, renamed over
 * keel.id and the directory fsynced (a crash leaves the old or the new file, never a mix):
 *   dataset_id 1b4e28ba-2fa1-11d2-883f-0016d3cca427
 *   epoch 1
 *   log_reached_lsn 12345
 *   epochs 1:1 112233445566778899:5001
 * log_reached_lsn: the log held every record through this LSN when the server last started or
 * last shut down cleanly; a later start refuses a log that ends before it.
 * epochs: the epoch history, oldest first, as epoch:first LSN (the LSN of the epoch's first
 * record); epoch numbers strictly increase, first LSNs never decrease; at most SNAP_EPOCHS_MAX
 * (the newest). Written, durably, before the first record of a new epoch is logged, so it is
 * the newest record of the history (snapshots hold it as of their LSN). Builds before 0.2.0
 * wrote no such line (and ignore it).
 * Unknown names are ignored (a newer build may add lines); a line that does not parse makes the
 * file unreadable, and the server refuses to start rather than guess.
 *
 * Why a file besides the ids in the segments and snapshots: it survives the loss of the whole
 * log (a deleted or mistyped wal-dir), and it remembers how far the log reached, which makes a
 * log that ends earlier (a deleted or truncated newest segment) a refusal, not silence.
 */
#ifndef KEEL_IDFILE_H
#define KEEL_IDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

#define IDFILE_NAME    "keel.id"
#define IDFILE_ID_SIZE 16

typedef struct idfile {
    bool present; /* the file existed */
    uint8_t dataset_id[IDFILE_ID_SIZE];
    uint64_t epoch;
    uint64_t log_reached_lsn; /* the log held every record through it (see above) */
    uint32_t nepochs;         /* 0: the file names no history (written before 0.2.0) */
    snap_epoch_t epochs[SNAP_EPOCHS_MAX];
} idfile_t;

/* Reads <dir>/keel.id; a missing file gives present = false and returns 0. A file that does not
 * parse returns KERR_CORRUPT with a message naming the file and line. */
int idfile_read(const char *dir, idfile_t *out, char *err, size_t errlen);
/* Replaces <dir>/keel.id durably (see above). */
int idfile_write(const char *dir, const idfile_t *in);
/* An id prints with wal_dataset_id_str (the UUID form this file holds), and is unknown when
 * snap_id_is_zero. This reads it back (hex digits, dashes anywhere); false when it is not one. */
bool idfile_parse_id(const char *s, uint8_t id[IDFILE_ID_SIZE]);

#endif
