/*
 * backend_epoll.c - the epoll backend (the default).
 *
 * Theory of operation
 * -------------------
 * Level-triggered epoll: a watch stays reported as long as it is ready, so
 * work the reactor leaves behind when its sink is full comes back by itself
 * at the next wait.  epoll re-queues reported entries at the end of its
 * ready list, which rotates service between many ready fds.
 *
 * epoll refuses regular files (EPERM): such a watch goes to the "always"
 * list instead and is reported ready at every wait, with a zero timeout,
 * which is what poll() says of regular files too.
 *
 * The caller removes a watch (want = 0) before closing its fd: an fd shared
 * with another process would otherwise stay in the epoll set.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CP__EP_MAXEV 1024

typedef struct ep_state {
    int epfd;
    struct epoll_event *evs;
    int32_t evcap;
    cp__watch **always;
    int32_t nalways, always_cap;
} ep_state;

static int ep_init(cp_reactor *r)
{
    ep_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        int err = errno;
        free(s);
        return -err;
    }
    r->bs = s;
    return 0;
}

static void ep_fini(cp_reactor *r)
{
    ep_state *s = r->bs;
    if (!s)
        return;
    close(s->epfd);
    free(s->evs);
    free(s->always);
    free(s);
    r->bs = NULL;
}

static int always_add(ep_state *s, cp__watch *w)
{
    int rc = cp__grow((void **)&s->always, &s->always_cap, s->nalways + 1,
                      sizeof(*s->always));
    if (rc < 0)
        return rc;
    w->bidx = s->nalways;
    s->always[s->nalways++] = w;
    w->always = 1;
    return 0;
}

static void always_del(ep_state *s, cp__watch *w)
{
    cp__watch *last = s->always[--s->nalways];
    s->always[w->bidx] = last;
    last->bidx = w->bidx;
    w->always = 0;
    w->bidx = -1;
}

static int ep_update(cp_reactor *r, cp__watch *w)
{
    ep_state *s = r->bs;
    if (!w->want) {
        if (w->reg) {
            if (w->always)
                always_del(s, w);
            else
                epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->fd, NULL);
            w->reg = 0;
            r->nwatched--;
        }
        w->have = 0;
        return 0;
    }
    struct epoll_event ev;
    ev.events = ((w->want & CP__IN) ? EPOLLIN : 0)
              | ((w->want & CP__OUT) ? EPOLLOUT : 0);
    ev.data.ptr = w;
    if (!w->reg) {
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
            int err = errno;
            if (err != EPERM)
                return -err;
            err = always_add(s, w);
            if (err < 0)
                return err;
        }
        w->reg = 1;
        r->nwatched++;
    } else if (w->have != w->want && !w->always) {
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
            return -errno;
    }
    w->have = w->want;
    return 0;
}

static int ep_wait(cp_reactor *r, int timeout_ms)
{
    ep_state *s = r->bs;
    if (s->nalways)
        timeout_ms = 0;
    int32_t want = CP__MIN(CP__MAX(r->nwatched, 16), CP__EP_MAXEV);
    if (cp__grow((void **)&s->evs, &s->evcap, want, sizeof(*s->evs)) < 0
        && !s->evcap)
        return -ENOMEM;
    int n = epoll_wait(s->epfd, s->evs, s->evcap, timeout_ms);
    if (n < 0)
        return -errno;
    if (cp__grow((void **)&r->ready, &r->ready_cap, n + s->nalways,
                 sizeof(*r->ready)) < 0)
        return -ENOMEM;
    int32_t k = 0;
    for (int i = 0; i < n; i++) {
        cp__watch *w = s->evs[i].data.ptr;
        uint32_t e = s->evs[i].events, ev = 0;
        if (e & (EPOLLERR | EPOLLHUP))
            ev = w->want;
        if (e & EPOLLIN)
            ev |= CP__IN;
        if (e & EPOLLOUT)
            ev |= CP__OUT;
        r->ready[k].w = w;
        r->ready[k++].ev = ev & w->want;
    }
    for (int32_t i = 0; i < s->nalways; i++) {
        r->ready[k].w = s->always[i];
        r->ready[k++].ev = s->always[i]->want;
    }
    return k;
}

static int ep_fd(cp_reactor *r)
{
    return ((ep_state *)r->bs)->epfd;
}

static int32_t ep_always(const cp_reactor *r)
{
    return ((const ep_state *)r->bs)->nalways;
}

const cp__backend cp__backend_epoll = {
    ep_init, ep_fini, ep_update, ep_wait, NULL, ep_fd, ep_always,
};
