/*
 * heap.c - the armed timers, in (deadline, seq) order.
 *
 * Theory of operation
 * -------------------
 * Timers are ordered by (deadline, seq).  seq is a counter taken each time
 * a timer is armed, so timers with equal deadlines come out in the order
 * they were armed (FIFO), and re-arming a timer puts it behind those
 * already armed for the same deadline.
 *
 * They live in one of two places:
 *
 *  - the ring, a sorted run: a circular array of pointers.  A timer armed
 *    for a deadline at or after the deadline of the ring's last entry is
 *    appended to it; its seq is the newest, so the ring stays sorted by
 *    (deadline, seq).  This is the common case (a burst of timers, equal
 *    delays, a timeout per child), and then arming and popping are O(1)
 *    and pops read the array in order instead of walking ~log2(n) levels
 *    of a heap through pointers to scattered timers.
 *  - the heap, an array binary min-heap, for the other timers (armed
 *    earlier than the ring's last deadline).
 *
 * The top is the earlier of the ring's head and the heap's root, so the
 * fire order is exactly the one of a single heap.
 *
 * Each timer knows where it is (hidx: -1 when not armed, a heap index, or
 * CP__IN_RING | a ring position), which makes removal and re-arming
 * O(log n) in the heap and O(1) in the ring without searching.  Removing
 * from the ring leaves a hole (NULL); holes at either end are trimmed at
 * once, so the ring's head and last entry are always timers, and holes in
 * the middle are skipped when the head passes them and squeezed out when
 * the ring is full (it grows by doubling only when at least half of it
 * holds timers).  Positions are the free-running head/tail counters masked
 * by the capacity, a power of two.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>

#define RING_MIN 16

void cp__heap_init(cp__heap *h)
{
    h->hv = NULL;
    h->hn = h->hcap = 0;
    h->ring = NULL;
    h->rhead = h->rtail = h->rmask = 0;
    h->n = 0;
    h->seq = 0;
}

void cp__heap_clear(cp__heap *h, void (*each)(void *ctx, cp__timer *t),
                    void *ctx)
{
    for (int32_t i = 0; i < h->hn; i++) {
        cp__timer *t = h->hv[i];
        t->hidx = -1;
        if (each)
            each(ctx, t);
    }
    h->hn = 0;
    for (uint32_t p = h->rhead; p != h->rtail; p++) {
        cp__timer *t = h->ring[p & h->rmask];
        if (!t)
            continue;
        t->hidx = -1;
        if (each)
            each(ctx, t);
    }
    h->rhead = h->rtail = 0;
    h->n = 0;
}

void cp__heap_fini(cp__heap *h)
{
    cp__heap_clear(h, NULL, NULL);
    free(h->hv);
    free(h->ring);
    cp__heap_init(h);
}

/* ------------------------------------------------------------------ */
/* the heap */

#define before cp__timer_before

static void place(cp__heap *h, int32_t i, cp__timer *t)
{
    h->hv[i] = t;
    t->hidx = i;
}

static void sift_up(cp__heap *h, int32_t i, cp__timer *t)
{
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (!before(t, h->hv[p]))
            break;
        place(h, i, h->hv[p]);
        i = p;
    }
    place(h, i, t);
}

static void sift_down(cp__heap *h, int32_t i, cp__timer *t)
{
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= h->hn)
            break;
        if (c + 1 < h->hn && before(h->hv[c + 1], h->hv[c]))
            c++;
        if (!before(h->hv[c], t))
            break;
        place(h, i, h->hv[c]);
        i = c;
    }
    place(h, i, t);
}

static void heap_remove(cp__heap *h, cp__timer *t, int32_t i)
{
    cp__timer *last = h->hv[--h->hn];
    if (last == t)
        return;
    /* the last element fills the hole: it may go either way */
    if (i > 0 && before(last, h->hv[(i - 1) / 2]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

static int heap_push(cp__heap *h, cp__timer *t)
{
    if (h->hn == h->hcap) {
        if (h->hn >= CP__IN_RING - 1)
            return -ENOMEM;
        int rc = cp__grow((void **)&h->hv, &h->hcap, h->hn + 1,
                          sizeof(*h->hv));
        if (rc < 0)
            return rc;
    }
    sift_up(h, h->hn++, t);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the ring */

static void ring_remove(cp__heap *h, uint32_t p)
{
    uint32_t m = h->rmask;
    h->ring[p] = NULL;
    if (p == (h->rhead & m)) {
        while (h->rhead != h->rtail && !h->ring[h->rhead & m])
            h->rhead++;
    } else if (p == ((h->rtail - 1) & m)) {
        while (h->rtail != h->rhead && !h->ring[(h->rtail - 1) & m])
            h->rtail--;
    }
    if (h->rhead == h->rtail)
        h->rhead = h->rtail = 0;
}

/* The ring is full: move its timers, holes squeezed out, to the start of
 * a new array, twice as large unless half of it or more were holes. */
static int ring_relayout(cp__heap *h)
{
    uint32_t live = (uint32_t)(h->n - h->hn);
    uint32_t cap = h->ring ? h->rmask + 1 : RING_MIN;
    if (h->ring && live >= cap / 2) {
        if (cap >= CP__IN_RING)
            return -ENOMEM;
        cap *= 2;
    }
    cp__timer **v = malloc(cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    uint32_t k = 0;
    for (uint32_t p = h->rhead; p != h->rtail; p++) {
        cp__timer *t = h->ring[p & h->rmask];
        if (t) {
            t->hidx = (int32_t)(CP__IN_RING | k);
            v[k++] = t;
        }
    }
    free(h->ring);
    h->ring = v;
    h->rmask = cap - 1;
    h->rhead = 0;
    h->rtail = k;
    return 0;
}

static int ring_push(cp__heap *h, cp__timer *t)
{
    if (!h->ring || h->rtail - h->rhead == h->rmask + 1) {
        int rc = ring_relayout(h);
        if (rc < 0)
            return rc;
    }
    uint32_t p = h->rtail++ & h->rmask;
    h->ring[p] = t;
    t->hidx = (int32_t)(CP__IN_RING | p);
    return 0;
}

/* ------------------------------------------------------------------ */

void cp__heap_remove(cp__heap *h, cp__timer *t)
{
    int32_t i = t->hidx;
    if (i < 0)
        return;
    t->hidx = -1;
    h->n--;
    if (i & CP__IN_RING)
        ring_remove(h, (uint32_t)(i & ~CP__IN_RING));
    else
        heap_remove(h, t, i);
}

int cp__heap_arm(cp__heap *h, cp__timer *t, int64_t deadline)
{
    cp__heap_remove(h, t);
    t->deadline = deadline;
    t->seq = h->seq;
    int rc;
    if (h->rhead == h->rtail
        || deadline >= h->ring[(h->rtail - 1) & h->rmask]->deadline)
        rc = ring_push(h, t);
    else
        rc = heap_push(h, t);
    if (rc < 0)
        return rc;
    h->seq++;
    h->n++;
    return 0;
}
