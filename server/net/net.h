/*
 * net.h - TCP listener and client connections: accept, read + parse, write, close.
 *
 * The read path (client_read_parse) and the write path (client_write) touch only a client's
 * buffers, so they are the units that I/O threads will take over (DESIGN.md section 8).
 */
#ifndef KEEL_NET_H
#define KEEL_NET_H

#include "server.h"

int net_listen(server_t *s);
client_t *client_create(server_t *s, int fd);  /* fd -1: a fake client (replay, tests) */
void client_free(client_t *c);
void client_close_async(client_t *c);          /* CLIENT KILL, limits: closed before sleep */
/* Flush pending writes, release parked replies, close clients marked to close. Before sleep. */
void net_before_sleep(server_t *s);
/* Check output limits and idle timeouts; called from cron. */
void net_clients_cron(server_t *s);
/* The durable LSN advanced: release parked replies up to it. */
void net_release_parked(server_t *s);
/* The log failed for good: every parked reply is replaced by an error, as DESIGN section 3 says. */
void net_fail_parked(server_t *s, const char *why);
/* reply.c: the client got output; put it on the pending-write list. */
void server_client_has_output(client_t *c);
/* Close the client soon if its output is over client-output-buffer-limit. */
void net_check_output_limit(client_t *c);
/* Continue parsing input a client left unprocessed (unblocked, parked replies drained). */
void net_resume_client(client_t *c);
/* The RESP bytes the running command arrived as, when its arguments are still exactly those
 * bytes (a multibulk command in the query buffer, not an inline or a queued one): lets the log
 * copy a verbatim write as it came instead of encoding it again. */
bool net_raw_command(const client_t *c, const char **resp, size_t *len);
/* Format one CLIENT LIST line (no trailing newline) into buf. */
int net_client_info(client_t *c, char *buf, size_t len);

#endif
