/*
 * timer.c - user timers and the timer phase of a pass.
 *
 * Theory of operation
 * -------------------
 * One heap (heap.c) holds every armed timer: user timers (each with an id),
 * child timeouts, waitpid backoffs and the orphan reaper.  The timer phase
 * first takes out every timer due now (as many as the sink has room for),
 * then fires them: so a repeating timer fires at most once per pass even
 * when it is late, and re-arms at its previous deadline plus its interval
 * (a late timer catches up one firing per pass, without a storm).
 * A one-shot user timer's id ends with its TIMER record; cp_timer_cancel()
 * ends an id too.
 *
 * The timer phase does not know what a timer is for: each carries the ops
 * its owner set (cp__timer_ops: the records and arena bytes it may need,
 * and what to do when due).  User timers' ops are here; child timeouts,
 * waitpid backoffs and the orphan reaper are child.c's.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>

static int64_t to_ns(double s)
{
    if (!(s > 0))           /* negative or NaN: now */
        return 0;
    if (s > 9.0e9)          /* ~285 years: far enough */
        s = 9.0e9;
    return (int64_t)(s * 1e9);
}

int cp__timer_arm_ms(cp_reactor *r, cp__timer *t, int64_t ms)
{
    return cp__heap_arm(&r->heap, t, cp__now_ns() + ms * 1000000);
}

static void user_free(cp_reactor *r, cp__timer *t);

static void user_fire(cp_reactor *r, cp__timer *t)
{
    cp__emit(r, CP_EV_TIMER, 0, t->id, t->interval > 0, 0);
    if (t->interval > 0)
        cp__heap_arm(&r->heap, t, t->deadline + t->interval);
    else
        user_free(r, t);
}

static const cp__timer_ops user_ops = {1, NULL, user_fire};

/* user timers are freed at once, never retired, and have no streams */
const cp__kind cp__timer_kind = {NULL, NULL};

int cp_timer_add(cp_reactor *r, double delay, double interval)
{
    cp__timer *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->hidx = -1;
    t->ops = &user_ops;
    t->interval = to_ns(interval);
    int32_t id = cp__slot_alloc(&r->slots, CP__K_TIMER, t);
    if (id < 0 || cp__heap_arm(&r->heap, t, cp__now_ns() + to_ns(delay)) < 0) {
        if (id >= 0)
            cp__slot_free(&r->slots, id);
        free(t);
        return id < 0 ? id : -ENOMEM;
    }
    t->id = id;
    return id;
}

int cp_timer_add_many(cp_reactor *r, const double *spec, int32_t n,
                      int32_t *ids_out)
{
    if (n < 0)
        return -EINVAL;
    for (int32_t i = 0; i < n; i++) {
        int32_t id = cp_timer_add(r, spec[2 * i], spec[2 * i + 1]);
        if (id < 0) {
            while (i-- > 0)
                cp_timer_cancel(r, ids_out[i]);
            return id;
        }
        ids_out[i] = id;
    }
    return n;
}

int cp_timer_set(cp_reactor *r, int32_t id, double delay, double interval)
{
    cp__timer *t = cp__slot_get(&r->slots, id, CP__K_TIMER, NULL);
    if (!t)
        return -ESTALE;
    t->interval = to_ns(interval);
    return cp__heap_arm(&r->heap, t, cp__now_ns() + to_ns(delay));
}

static void user_free(cp_reactor *r, cp__timer *t)
{
    cp__heap_remove(&r->heap, t);
    cp__slot_free(&r->slots, t->id);
    free(t);
}

int cp_timer_cancel(cp_reactor *r, int32_t id)
{
    cp__timer *t = cp__slot_get(&r->slots, id, CP__K_TIMER, NULL);
    if (!t)
        return -ESTALE;
    user_free(r, t);
    return 0;
}

void cp__timers_drop_all(cp_reactor *r)
{
    for (int32_t i = 0; i < r->heap.n; i++) {
        cp__timer *t = r->heap.v[i];
        t->hidx = -1;
        if (t->ops == &user_ops) {
            cp__slot_free(&r->slots, t->id);
            free(t);
        }
    }
    r->heap.n = 0;
}

int cp__timers_expire(cp_reactor *r)
{
    int64_t now = cp__now_ns();
    int32_t n = 0, recs = 0;
    int64_t bytes = r->arena_used;
    int rc = 0;
    cp__timer *t;
    while ((t = cp__heap_top(&r->heap)) && t->deadline <= now) {
        const cp__timer_ops *ops = t->ops;
        int need = ops->need ? ops->need(r, t) : 0;
        if (!cp__room(r, recs + ops->recs) || bytes + need > r->arena_cap
            || cp__grow((void **)&r->expired, &r->expired_cap, n + 1,
                        sizeof(*r->expired)) < 0) {
            rc = -1;
            break;
        }
        recs += ops->recs;
        bytes += need;
        cp__heap_remove(&r->heap, t);
        r->expired[n++] = t;
    }
    for (int32_t i = 0; i < n; i++) {
        t = r->expired[i];
        t->ops->fire(r, t);
    }
    return rc;
}
