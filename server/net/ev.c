/* ev.c - epoll event loop (see ev.h). */
#include "ev.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "kmem.h"
#include "util.h"

typedef struct ev_fd {
    int mask;
    ev_fd_cb cb;
    void *data;
} ev_fd_t;

struct ev_loop {
    int epfd;
    int setsize;
    ev_fd_t *fds;
    struct epoll_event *events;
    int stop;
    uint64_t period_ms;
    uint64_t next_timer_us;
    ev_timer_cb timer_cb;
    void *timer_data;
    int max_wait_ms; /* -1: none; set by ev_set_max_wait_ms for the next wait only */
    ev_timer_cb before_sleep;
    void *before_sleep_data;
    ev_timer_cb after_event; /* after every fd callback: cheap checks only */
    void *after_event_data;
};

ev_loop_t *
ev_create(int setsize) {
    ev_loop_t *l = kcalloc(1, sizeof *l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        kfree(l);
        return NULL;
    }
    l->setsize = setsize;
    l->max_wait_ms = -1;
    l->fds = kcalloc((size_t)setsize, sizeof *l->fds);
    l->events = kcalloc((size_t)setsize, sizeof *l->events);
    return l;
}

void
ev_free(ev_loop_t *l) {
    if (!l)
        return;
    close(l->epfd);
    kfree(l->fds);
    kfree(l->events);
    kfree(l);
}

int
ev_setsize(const ev_loop_t *l) {
    return l->setsize;
}

static uint32_t
to_epoll(int mask) {
    return (mask & EV_READ ? EPOLLIN : 0) | (mask & EV_WRITE ? EPOLLOUT : 0);
}

int
ev_add(ev_loop_t *l, int fd, int mask, ev_fd_cb cb, void *data) {
    if (fd < 0 || fd >= l->setsize)
        return -ERANGE;
    ev_fd_t *f = &l->fds[fd];
    f->cb = cb;
    f->data = data;
    if ((f->mask & mask) == mask)
        return 0; /* already watched: no syscall */
    struct epoll_event ee = {.events = to_epoll(f->mask | mask), .data.fd = fd};
    int op = f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, fd, &ee) < 0)
        return -errno;
    f->mask |= mask;
    return 0;
}

void
ev_del(ev_loop_t *l, int fd, int mask) {
    if (fd < 0 || fd >= l->setsize)
        return;
    ev_fd_t *f = &l->fds[fd];
    if (!(f->mask & mask))
        return; /* nothing to remove: no syscall (client_write calls this after every write) */
    int left = f->mask & ~mask;
    struct epoll_event ee = {.events = to_epoll(left), .data.fd = fd};
    epoll_ctl(l->epfd, left ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ee);
    f->mask = left;
}

void
ev_set_timer(ev_loop_t *l, uint64_t period_ms, ev_timer_cb cb, void *data) {
    l->period_ms = period_ms;
    l->timer_cb = cb;
    l->timer_data = data;
    l->next_timer_us = util_mono_us() + period_ms * 1000;
}

void
ev_set_before_sleep(ev_loop_t *l, ev_timer_cb cb, void *data) {
    l->before_sleep = cb;
    l->before_sleep_data = data;
}

void
ev_set_after_event(ev_loop_t *l, ev_timer_cb cb, void *data) {
    l->after_event = cb;
    l->after_event_data = data;
}

void
ev_set_max_wait_ms(ev_loop_t *l, int ms) {
    l->max_wait_ms = ms < 0 ? 0 : ms;
}

void
ev_stop(ev_loop_t *l) {
    l->stop = 1;
}

static void
run_timer(ev_loop_t *l) {
    uint64_t now = util_mono_us();
    if (!l->timer_cb || now < l->next_timer_us)
        return;
    l->next_timer_us = now + l->period_ms * 1000;
    l->timer_cb(l, l->timer_data);
}

/* One epoll_wait and the callbacks of what it returned; -1 when the wait failed. */
static int
dispatch(ev_loop_t *l, int timeout) {
    int n = epoll_wait(l->epfd, l->events, l->setsize, timeout);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        int fd = l->events[i].data.fd;
        ev_fd_t *f = &l->fds[fd];
        uint32_t e = l->events[i].events;
        int mask = 0;
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
            mask |= EV_READ;
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            mask |= EV_WRITE;
        mask &= f->mask;
        if (mask && f->cb)
            f->cb(l, fd, f->data, mask);
        if (l->after_event)
            l->after_event(l, l->after_event_data);
    }
    return 0;
}

void
ev_poll(ev_loop_t *l, int timeout_ms) {
    (void)dispatch(l, timeout_ms);
}

void
ev_run(ev_loop_t *l) {
    while (!l->stop) {
        if (l->before_sleep)
            l->before_sleep(l, l->before_sleep_data);
        int timeout = -1;
        if (l->timer_cb) {
            uint64_t now = util_mono_us();
            timeout = now >= l->next_timer_us ? 0 : (int)((l->next_timer_us - now + 999) / 1000);
        }
        if (l->max_wait_ms >= 0 && (timeout < 0 || l->max_wait_ms < timeout))
            timeout = l->max_wait_ms;
        l->max_wait_ms = -1;
        if (dispatch(l, timeout) < 0)
            break;
        run_timer(l);
    }
}
