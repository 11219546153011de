/*
 * heap.c - the timer min-heap.
 *
 * Theory of operation
 * -------------------
 * An array binary heap of cp__timer pointers ordered by (deadline, seq).
 * seq is a counter taken each time a timer is armed, so timers with equal
 * deadlines come out in the order they were armed (FIFO), and re-arming a
 * timer puts it behind those already armed for the same deadline.
 * Each timer knows its own index (hidx, -1 when not armed), which makes
 * removal and re-arming O(log n) without searching.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>

void cp__heap_init(cp__heap *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
    h->seq = 0;
}

void cp__heap_fini(cp__heap *h)
{
    for (int32_t i = 0; i < h->n; i++)
        h->v[i]->hidx = -1;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

static int before(const cp__timer *a, const cp__timer *b)
{
    return a->deadline < b->deadline
        || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(cp__heap *h, int32_t i, cp__timer *t)
{
    h->v[i] = t;
    t->hidx = i;
}

static void sift_up(cp__heap *h, int32_t i, cp__timer *t)
{
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (!before(t, h->v[p]))
            break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, t);
}

static void sift_down(cp__heap *h, int32_t i, cp__timer *t)
{
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(h->v[c + 1], h->v[c]))
            c++;
        if (!before(h->v[c], t))
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

void cp__heap_remove(cp__heap *h, cp__timer *t)
{
    int32_t i = t->hidx;
    if (i < 0)
        return;
    t->hidx = -1;
    cp__timer *last = h->v[--h->n];
    if (last == t)
        return;
    /* the last element fills the hole: it may go either way */
    if (i > 0 && before(last, h->v[(i - 1) / 2]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

int cp__heap_arm(cp__heap *h, cp__timer *t, int64_t deadline)
{
    cp__heap_remove(h, t);
    if (h->n == h->cap) {
        int rc = cp__grow((void **)&h->v, &h->cap, h->n + 1, sizeof(*h->v));
        if (rc < 0)
            return rc;
    }
    t->deadline = deadline;
    t->seq = h->seq++;
    sift_up(h, h->n++, t);
    return 0;
}
