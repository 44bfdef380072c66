/*
 * server.h - the top level (server.c): start the layers, run the event loop, shut down.
 */
#ifndef KEEL_SERVER_H
#define KEEL_SERVER_H

#include "engine.h"

int server_init(engine_t *s);
void server_run(engine_t *s);
void server_shutdown(engine_t *s);

#endif
