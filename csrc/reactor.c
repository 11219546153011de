/*
 * reactor.c - the reactor's life and its poll pass.
 *
 * Theory of operation
 * -------------------
 * cp_poll() is one pass:
 *   0. free what was retired since the last pass (the ids of children
 *      that ended go stale now: Python has seen their batch);
 *   1. choose the wait: 0 when work is already at hand (the last pass ran
 *      out of room, a refill is possible), else the caller's timeout capped
 *      by the next timer;
 *   2. wait (the only place that returns -EINTR: Python runs its signal
 *      handlers, then calls again);
 *   3. hand each ready watch to its owner (w->ops->serve: the wake-up
 *      eventfd here, child pipes and pidfds in child.c, user fds in
 *      userfd.c), in the order the backend reported them;
 *   4. fire due timers (timer.c, each through its t->ops), child timeouts
 *      included;
 *   5. refill the fanout groups (fanout.c): children that ended in this
 *      pass are replaced before the pass returns; a group with none
 *      running starts CP__STARTS_PER_PASS of them only (the next pass
 *      goes on at once), so that the first starts are reported within
 *      milliseconds.
 * Each step does a piece of work only if the sink has room for all the
 * records it may produce; otherwise the pass ends early with r->more set,
 * and the next pass does not block.  Readiness is level-triggered, so what
 * was not served is reported again.
 *
 * Objects that end during the pass are freed at the start of the next one
 * (see cp_int.h).  reactor.c knows the kinds of objects only as the table
 * below and, in cp_reactor_close(), as the modules it closes.
 * The eventfd behind cp_wake() is the reactor's own, like the epoll fd:
 * neither is counted in cp_counters.fds, and both live until
 * cp_reactor_free(), so that a late cp_wake() from another thread after
 * cp_reactor_close() stays harmless.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CP__ARENA_SLACK 64      /* arena_cap >= line_max + this */
#define CP__LINE_MAX_DEFAULT (1 << 20)

int cp__watch_set(cp_reactor *r, cp__watch *w, uint32_t want)
{
    w->want = want;
    if (w->fd < 0 || (w->have == want && (w->reg || !want)))
        return 0;
    int rc = r->be->update(r, w);
    if (rc == -EEXIST && w->ops && w->ops->rewatch)
        rc = w->ops->rewatch(r, w);
    return rc;
}

void cp__watch_close(cp_reactor *r, cp__watch *w)
{
    if (w->fd < 0)
        return;
    cp__watch_set(r, w, 0);
    close(w->fd);
    w->fd = -1;
    r->nfds--;
}

void cp__emit(cp_reactor *r, int type, int stream, int32_t id, int32_t a,
              int32_t b)
{
    int32_t *e = r->ev + (size_t)r->ev_n * CP_REC_WORDS;
    e[0] = type | (stream << 8);
    e[1] = id;
    e[2] = a;
    e[3] = b;
    r->ev_n++;
}

/* ------------------------------------------------------------------ */
/* kinds of slots, retired slots */

static const cp__kind *const kinds[CP__K_COUNT] = {
    [CP__K_CHILD] = &cp__child_kind,
    [CP__K_FD] = &cp__ufd_kind,
    [CP__K_TIMER] = &cp__timer_kind,
};

const cp__kind *cp__kind_of(int kind)
{
    return kind > 0 && kind < CP__K_COUNT ? kinds[kind] : NULL;
}

static void free_retired(void *ctx, int kind, void *obj)
{
    const cp__kind *k = cp__kind_of(kind);
    if (k && k->free)
        k->free(ctx, obj);
}

void cp__retired_flush(cp_reactor *r)
{
    cp__slots_flush(&r->slots, free_retired, r);
}

/* ------------------------------------------------------------------ */
/* life of a reactor */

static int serve_wake(cp_reactor *r, cp__watch *w, uint32_t ev);

static const cp__watch_ops wake_ops = {serve_wake, NULL};

int cp_reactor_new(cp_reactor **out, int backend, int flags)
{
    if (!out || (backend != CP_BACKEND_EPOLL && backend != CP_BACKEND_POLL)
        || (flags & ~CP_R_NO_PIDFD))
        return -EINVAL;
    cp_reactor *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->backend = backend;
    r->be = backend == CP_BACKEND_POLL ? &cp__backend_poll : &cp__backend_epoll;
    r->no_pidfd = (flags & CP_R_NO_PIDFD) != 0;
    r->line_max = CP__LINE_MAX_DEFAULT;
    r->wakew.fd = -1;
    r->wakew.ops = &wake_ops;
    r->wakew.bidx = -1;
    r->orphan_timer.hidx = -1;
    cp__slots_init(&r->slots);
    cp__heap_init(&r->heap);
    int rc = r->be->init(r);
    if (!rc)
        rc = cp__groups_init(r);
    if (!rc && !(r->scratch = malloc(CP__READ_MAX)))
        rc = -ENOMEM;
    if (!rc) {
        r->wakew.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        rc = r->wakew.fd < 0 ? -errno : cp__watch_set(r, &r->wakew, CP__IN);
    }
    if (rc) {
        cp_reactor_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void cp_reactor_close(cp_reactor *r)
{
    if (!r)
        return;
    cp__children_close(r);
    cp__pending_drop_all(r);
    cp__ufds_close(r);
    cp__timers_drop_all(r);
    cp__groups_reset(r);
    cp__retired_flush(r);
    r->more = 0;
}

void cp_reactor_free(cp_reactor *r)
{
    if (!r)
        return;
    cp_reactor_close(r);
    if (r->wakew.fd >= 0) {
        cp__watch_set(r, &r->wakew, 0);
        close(r->wakew.fd);
    }
    if (r->bs)
        r->be->fini(r);
    cp__slots_fini(&r->slots);
    cp__heap_fini(&r->heap);
    free(r->ready);
    free(r->groups);
    free(r->refill);
    free(r->orphans);
    free(r->expired);
    free(r->argvec);
    free(r->scratch);
    free(r);
}

int cp_reactor_backend(cp_reactor *r)
{
    return r->backend;
}

int cp_set_line_max(cp_reactor *r, int32_t line_max)
{
    if (line_max < 64)
        return -EINVAL;
    r->line_max = line_max;
    return 0;
}

int cp_wake(cp_reactor *r)
{
    uint64_t one = 1;
    ssize_t w;
    do
        w = write(r->wakew.fd, &one, sizeof(one));
    while (w < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, a wake-up is pending anyway */
    return w < 0 && errno != EAGAIN ? -errno : 0;
}

void cp_get_counters(cp_reactor *r, struct cp_counters *out)
{
    out->slots = r->slots.live;
    out->fds = r->nfds;
    out->children = r->nchildren;
    out->pending = r->npending;
    out->timers = r->heap.n;
    out->groups = r->ngroups_live;
    out->queued = r->queued;
}

int cp_reactor_fd(cp_reactor *r)
{
    return r->be->fd(r);
}

int64_t cp_poll_due(cp_reactor *r)
{
    if (r->more || cp__refill_ready(r) || r->be->always(r))
        return 0;
    cp__timer *t = cp__heap_top(&r->heap);
    return t ? (t->deadline > 0 ? t->deadline : 0) : -1;
}

/* ------------------------------------------------------------------ */
/* the pass */

static int wait_timeout(cp_reactor *r, int timeout_ms)
{
    if (r->more || cp__refill_ready(r))
        return 0;
    cp__timer *t = cp__heap_top(&r->heap);
    if (t) {
        int64_t left = t->deadline - cp__now_ns();
        if (left <= 0)
            return 0;
        int64_t ms = (left + 999999) / 1000000;    /* never wake early */
        if (timeout_ms < 0 || ms < timeout_ms)
            return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
    }
    return timeout_ms;
}

static int serve_wake(cp_reactor *r, cp__watch *w, uint32_t ev)
{
    uint64_t v;
    (void)w;
    (void)ev;
    if (!cp__room(r, 1))
        return -1;
    while (read(r->wakew.fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    cp__emit(r, CP_EV_WAKE, 0, 0, 0, 0);
    return 0;
}

int cp_poll(cp_reactor *r, int timeout_ms, int32_t *ev, int32_t ev_cap,
            char *arena, int32_t arena_cap, int32_t *arena_used)
{
    if (arena_used)
        *arena_used = 0;
    if (!ev || ev_cap < CP__WORK_RECS || !arena || !arena_used
        || arena_cap < r->line_max + CP__ARENA_SLACK)
        return -EINVAL;
    cp__retired_flush(r);
    int n = r->be->wait(r, wait_timeout(r, timeout_ms));
    if (n < 0)
        return n;

    r->ev = ev;
    r->ev_cap = ev_cap;
    r->ev_n = 0;
    r->arena = arena;
    r->arena_cap = arena_cap;
    r->arena_used = 0;
    r->more = 0;
    for (int i = 0; i < n; i++) {
        cp__watch *w = r->ready[i].w;
        uint32_t e = r->ready[i].ev & w->want;
        if (w->fd < 0 || !e)
            continue;           /* closed or changed earlier in this pass */
        if (w->ops->serve(r, w, e) < 0) {
            r->more = 1;
            if (r->be->stopped)
                r->be->stopped(r, w);
            break;
        }
    }
    if (cp__timers_expire(r) < 0)
        r->more = 1;
    if (cp__refill(r) < 0)
        r->more = 1;
    *arena_used = r->arena_used;
    r->ev = NULL;
    r->arena = NULL;
    return r->ev_n;
}
