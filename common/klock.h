/*
 * klock.h - who owns a directory: an flock on KLOCK_FILE inside it.
 *
 * The server holds an exclusive lock on its data directory and on every log copy for its whole
 * life, with its PID written in the file; a second server on the same directory is refused,
 * naming that PID. Tools that only read take a shared lock, so that no server starts under them,
 * and learn when a live server owns the directory. The lock dies with the process (flock), so a
 * crash never leaves a stale lock behind; the PID in the file is only for the message.
 */
#ifndef KEEL_KLOCK_H
#define KEEL_KLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define KLOCK_FILE "keel.lock"

typedef struct klock {
    int fd; /* -1 when not held */
} klock_t;

/* Lock <dir>/keel.lock (created if missing), exclusive or shared, without waiting.
 * Returns 0, KERR_BUSY when another process holds a conflicting lock (*holder_pid its PID as
 * written in the file, 0 if unknown), or a negative errno. An exclusive lock writes our PID. */
int klock_acquire(klock_t *l, const char *dir, bool exclusive, pid_t *holder_pid);
void klock_release(klock_t *l);

#endif
