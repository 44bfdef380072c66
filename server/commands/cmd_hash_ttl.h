/*
 * cmd_hash_ttl.h - the hash-field expiry commands (cmd_hash_ttl.c), listed in the hash group's
 * table (cmd_hash.c).
 */
#ifndef KEEL_CMD_HASH_TTL_H
#define KEEL_CMD_HASH_TTL_H

#include "client.h"

void cmd_hexpire(client_t *c);
void cmd_hpexpire(client_t *c);
void cmd_hexpireat(client_t *c);
void cmd_hpexpireat(client_t *c);
void cmd_httl(client_t *c);
void cmd_hpttl(client_t *c);
void cmd_hexpiretime(client_t *c);
void cmd_hpexpiretime(client_t *c);
void cmd_hpersist(client_t *c);
void cmd_hgetex(client_t *c);
void cmd_hsetex(client_t *c);

#endif
