/*
 * ev.h - a small epoll event loop: fd readiness callbacks, one periodic timer, a before-sleep
 * hook. The main thread runs it; nothing else touches it.
 */
#ifndef KEEL_EV_H
#define KEEL_EV_H

#include <stdint.h>

#define EV_READ  1
#define EV_WRITE 2

typedef struct ev_loop ev_loop_t;
typedef void (*ev_fd_cb)(ev_loop_t *l, int fd, void *data, int mask);
typedef void (*ev_timer_cb)(ev_loop_t *l, void *data);

ev_loop_t *ev_create(int setsize);
void ev_free(ev_loop_t *l);
int ev_setsize(const ev_loop_t *l);
/* Add interest in mask (EV_READ/EV_WRITE) for fd; the callback and data are per fd. */
int ev_add(ev_loop_t *l, int fd, int mask, ev_fd_cb cb, void *data);
void ev_del(ev_loop_t *l, int fd, int mask);
void ev_set_timer(ev_loop_t *l, uint64_t period_ms, ev_timer_cb cb, void *data);
void ev_set_before_sleep(ev_loop_t *l, ev_timer_cb cb, void *data);
/* cb runs after every fd callback of a loop turn, before the next one: for checks that must
 * not wait for the end of a long turn (one atomic load when there is nothing to do). */
void ev_set_after_event(ev_loop_t *l, ev_timer_cb cb, void *data);
/* The next wait for events lasts at most ms (from a before-sleep hook; applies once). */
void ev_set_max_wait_ms(ev_loop_t *l, int ms);
void ev_run(ev_loop_t *l);
/* One wait of at most timeout_ms for fd events, and their callbacks; no timer, no before-sleep
 * hook. For a caller that must keep the loop turning from inside a long callback (a busy
 * script, script/): it runs only what is ready. */
void ev_poll(ev_loop_t *l, int timeout_ms);
void ev_stop(ev_loop_t *l);

#endif
