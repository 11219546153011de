/*
 * backend_poll.c - the poll() backend (fallback, and a second opinion in
 * tests).
 *
 * Theory of operation
 * -------------------
 * A pollfd array with a parallel array of watches; each registered watch
 * knows its index (bidx), so removal swaps the last entry into the hole in
 * O(1).  poll() is level-triggered like our epoll use.  The array order is
 * stable, so the scan for ready entries starts where the reactor last had
 * to stop for lack of room (cp__backend.stopped), and every fd gets its
 * turn when more are ready than one pass can serve.
 */
#include "cp_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct pl_state {
    struct pollfd *pfd;
    cp__watch **pw;
    int32_t n, cap, pwcap;
    int32_t start;
    int mirror;                     /* epoll mirror for cp_reactor_fd(), or -1 */
    int32_t nalways;                /* watches the mirror cannot hold */
} pl_state;

static int pl_init(cp_reactor *r)
{
    pl_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->mirror = -1;
    r->bs = s;
    return 0;
}

static void pl_fini(cp_reactor *r)
{
    pl_state *s = r->bs;
    if (!s)
        return;
    if (s->mirror >= 0)
        close(s->mirror);
    free(s->pfd);
    free(s->pw);
    free(s);
    r->bs = NULL;
}

/* Make the mirror watch what w wants (want 0: forget it). */
static int mirror_update(pl_state *s, cp__watch *w, int was_reg)
{
    if (!w->want) {
        if (w->always) {
            w->always = 0;
            s->nalways--;
        } else if (was_reg) {
            epoll_ctl(s->mirror, EPOLL_CTL_DEL, w->fd, NULL);
        }
        return 0;
    }
    if (w->always)
        return 0;
    struct epoll_event ev;
    ev.events = ((w->want & CP__IN) ? EPOLLIN : 0)
              | ((w->want & CP__OUT) ? EPOLLOUT : 0);
    ev.data.ptr = w;
    if (epoll_ctl(s->mirror, was_reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd,
                  &ev) == 0)
        return 0;
    if (errno != EPERM)
        return -errno;
    w->always = 1;
    s->nalways++;
    return 0;
}

static int pl_update(cp_reactor *r, cp__watch *w)
{
    pl_state *s = r->bs;
    if (s->mirror >= 0) {
        int rc = mirror_update(s, w, w->reg);
        if (rc < 0)
            return rc;
    }
    if (!w->want) {
        if (w->reg) {
            int32_t i = w->bidx;
            s->n--;
            s->pfd[i] = s->pfd[s->n];
            s->pw[i] = s->pw[s->n];
            s->pw[i]->bidx = i;
            w->reg = 0;
            w->bidx = -1;
            r->nwatched--;
        }
        w->have = 0;
        return 0;
    }
    if (!w->reg) {
        if (cp__grow((void **)&s->pfd, &s->cap, s->n + 1, sizeof(*s->pfd)) < 0
            || cp__grow((void **)&s->pw, &s->pwcap, s->n + 1,
                        sizeof(*s->pw)) < 0)
            return -ENOMEM;
        w->bidx = s->n++;
        s->pw[w->bidx] = w;
        s->pfd[w->bidx].fd = w->fd;
        w->reg = 1;
        r->nwatched++;
    }
    s->pfd[w->bidx].events = (short)(((w->want & CP__IN) ? POLLIN : 0)
                                     | ((w->want & CP__OUT) ? POLLOUT : 0));
    w->have = w->want;
    return 0;
}

static int pl_wait(cp_reactor *r, int timeout_ms)
{
    pl_state *s = r->bs;
    int n = poll(s->pfd, (nfds_t)s->n, timeout_ms);
    if (n < 0)
        return -errno;
    if (cp__grow((void **)&r->ready, &r->ready_cap, n, sizeof(*r->ready)) < 0)
        return -ENOMEM;
    int32_t k = 0;
    int32_t start = s->start < s->n ? s->start : 0;
    for (int32_t j = 0; j < s->n && k < n; j++) {
        int32_t i = start + j < s->n ? start + j : start + j - s->n;
        short e = s->pfd[i].revents;
        if (!e)
            continue;
        cp__watch *w = s->pw[i];
        uint32_t ev = 0;
        if (e & (POLLERR | POLLHUP | POLLNVAL))
            ev = w->want;
        if (e & POLLIN)
            ev |= CP__IN;
        if (e & POLLOUT)
            ev |= CP__OUT;
        r->ready[k].w = w;
        r->ready[k++].ev = ev & w->want;
    }
    s->start = 0;
    return k;
}

static void pl_stopped(cp_reactor *r, cp__watch *w)
{
    pl_state *s = r->bs;
    if (w->reg)
        s->start = w->bidx;
}

static int pl_fd(cp_reactor *r)
{
    pl_state *s = r->bs;
    if (s->mirror >= 0)
        return s->mirror;
    s->mirror = epoll_create1(EPOLL_CLOEXEC);
    if (s->mirror < 0) {
        s->mirror = -1;
        return -errno;
    }
    for (int32_t i = 0; i < s->n; i++) {
        int rc = mirror_update(s, s->pw[i], 0);
        if (rc < 0) {
            for (int32_t j = 0; j < s->n; j++)
                s->pw[j]->always = 0;
            s->nalways = 0;
            close(s->mirror);
            s->mirror = -1;
            return rc;
        }
    }
    return s->mirror;
}

static int32_t pl_always(const cp_reactor *r)
{
    return ((const pl_state *)r->bs)->nalways;
}

const cp__backend cp__backend_poll = {
    pl_init, pl_fini, pl_update, pl_wait, pl_stopped, pl_fd, pl_always,
};
