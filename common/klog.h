/*
 * klog.h - the server's log lines, in Valkey's format: "pid:M 07 Dec 2026 08:00:00.123 * text".
 *
 * Every layer logs through klog(); the level and the file are process-wide settings that the
 * configuration points at (klog_use_settings), so CONFIG SET loglevel takes effect at once.
 * Without settings, lines at notice level and above go to stdout.
 */
#ifndef KEEL_KLOG_H
#define KEEL_KLOG_H

enum { KLOG_DEBUG = 0, KLOG_VERBOSE, KLOG_NOTICE, KLOG_WARNING };

/* Read *level ("debug", "verbose", "notice", "warning", "nothing") and *file ("" or NULL:
 * stdout) at every line. The pointers must stay valid while logging happens. */
void klog_use_settings(char *const *level, char *const *file);
int klog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
