/* Timer heap (a binary heap beside a sorted ring): order, FIFO among equal
 * deadlines, removal, re-arming, the ring's holes and growth, and a
 * randomized comparison against a plain reference. */
#include "../../csrc/cp_int.h"
#include "check.h"

#define N 1000

static int in_ring(const cp__timer *t)
{
    return t->hidx >= 0 && (t->hidx & CP__IN_RING);
}

static int32_t ring_live(const cp__heap *h)
{
    return h->n - h->hn;
}

static cp__timer *pop(cp__heap *h)
{
    cp__timer *t = cp__heap_top(h);
    if (t)
        cp__heap_remove(h, t);
    return t;
}

static void test_order(void)
{
    static cp__timer t[N];
    cp__heap h;
    cp__heap_init(&h);
    for (int i = 0; i < N; i++) {
        t[i].hidx = -1;
        t[i].id = i;
        /* deadlines in a scrambled order, with many ties */
        CHECK_EQ(cp__heap_arm(&h, &t[i], (i * 7919) % 97), 0);
    }
    CHECK_EQ(h.n, N);
    CHECK(h.hn > 0 && ring_live(&h) > 0);   /* both halves in use */
    int64_t last = -1;
    int32_t last_id = -1;
    int ok = 1;
    for (int i = 0; i < N; i++) {
        cp__timer *x = pop(&h);
        if (!x || x->deadline < last
            || (x->deadline == last && x->id < last_id))
            ok = 0;     /* ties come out in arming (= id) order */
        last = x ? x->deadline : last;
        last_id = x ? x->id : last_id;
        if (x)
            CHECK_EQ(x->hidx, -1);
    }
    CHECK(ok);
    CHECK(pop(&h) == NULL);
    cp__heap_fini(&h);
}

static void test_remove_rearm(void)
{
    static cp__timer t[N];
    cp__heap h;
    cp__heap_init(&h);
    for (int i = 0; i < N; i++) {
        t[i].hidx = -1;
        t[i].id = i;
        cp__heap_arm(&h, &t[i], 1000 + i % 10);
    }
    /* cancel every third, re-arm every fifth to a later time */
    for (int i = 0; i < N; i += 3)
        cp__heap_remove(&h, &t[i]);
    cp__heap_remove(&h, &t[0]);         /* removing twice is harmless */
    for (int i = 0; i < N; i += 5)
        if (i % 3)
            cp__heap_arm(&h, &t[i], 5000);
    int expect = 0;
    for (int i = 0; i < N; i++)
        expect += i % 3 != 0;
    CHECK_EQ(h.n, expect);
    int64_t last = -1;
    int ok = 1, rearmed_seen = 0, n = 0;
    cp__timer *x;
    while ((x = pop(&h))) {
        n++;
        if (x->deadline < last || x->id % 3 == 0)
            ok = 0;
        if (x->deadline == 5000) {
            rearmed_seen++;
            if (x->id % 5)
                ok = 0;
        }
        last = x->deadline;
    }
    CHECK(ok);
    CHECK_EQ(n, expect);
    CHECK_EQ(rearmed_seen, 133);        /* multiples of 5 not of 3 below N */

    /* re-arming at an equal deadline goes behind the others (FIFO) */
    for (int i = 0; i < 3; i++)
        cp__heap_arm(&h, &t[i], 7);
    cp__heap_arm(&h, &t[0], 7);
    CHECK_EQ(pop(&h)->id, 1);
    CHECK_EQ(pop(&h)->id, 2);
    CHECK_EQ(pop(&h)->id, 0);
    cp__heap_fini(&h);
}

/* equal deadlines all go to the ring and come out in arm order, also
 * interleaved with earlier ones that go to the heap */
static void test_equal_deadlines(void)
{
    static cp__timer t[N];
    cp__heap h;
    cp__heap_init(&h);
    for (int i = 0; i < N; i++) {
        t[i].hidx = -1;
        t[i].id = i;
        /* odd ones earlier than the ring's tail: the heap */
        CHECK_EQ(cp__heap_arm(&h, &t[i], i % 2 ? 5 : 10), 0);
    }
    CHECK_EQ(h.n, N);
    CHECK_EQ(h.hn, N / 2);          /* each odd one came after a 10 */
    CHECK(in_ring(&t[0]) && in_ring(&t[2]) && !in_ring(&t[3]));
    int ok = 1;
    for (int i = 1; i < N; i += 2)
        ok &= pop(&h) == &t[i];
    for (int i = 0; i < N; i += 2)
        ok &= pop(&h) == &t[i];
    CHECK(ok);
    CHECK_EQ(h.n, 0);
    CHECK(pop(&h) == NULL);
    cp__heap_fini(&h);
}

/* removal from the ring's head, middle and tail; holes are skipped */
static void test_ring_remove(void)
{
    static cp__timer t[10];
    cp__heap h;
    cp__heap_init(&h);
    for (int i = 0; i < 10; i++) {
        t[i].hidx = -1;
        t[i].id = i;
        cp__heap_arm(&h, &t[i], 100 + i);
    }
    CHECK_EQ(h.hn, 0);
    CHECK_EQ(h.rtail - h.rhead, 10);
    cp__heap_remove(&h, &t[0]);             /* head */
    CHECK_EQ(t[0].hidx, -1);
    CHECK_EQ(h.rhead, 1);
    cp__heap_remove(&h, &t[9]);             /* tail */
    CHECK_EQ(h.rtail, 9);
    cp__heap_remove(&h, &t[4]);             /* middle: a hole */
    cp__heap_remove(&h, &t[5]);
    CHECK_EQ(h.rtail - h.rhead, 8);
    CHECK_EQ(h.n, 6);
    cp__heap_remove(&h, &t[8]);             /* tail, then a hole-free end */
    cp__heap_remove(&h, &t[7]);
    cp__heap_remove(&h, &t[6]);             /* trims the holes 5, 4 too */
    CHECK_EQ(h.rtail, 4);
    CHECK_EQ(h.n, 3);
    /* the ring's tail is now 103: 103.5 goes to the ring, 50 to the heap */
    cp__heap_arm(&h, &t[9], 103);
    cp__heap_arm(&h, &t[0], 50);
    CHECK(in_ring(&t[9]) && !in_ring(&t[0]) && t[0].hidx == 0);
    cp__heap_remove(&h, &t[2]);             /* a middle hole, then the head */
    CHECK_EQ(pop(&h)->id, 0);
    CHECK_EQ(pop(&h)->id, 1);               /* skips the hole of 2 */
    CHECK_EQ(h.rtail - h.rhead, 2);
    CHECK_EQ(pop(&h)->id, 3);
    CHECK_EQ(pop(&h)->id, 9);
    CHECK(pop(&h) == NULL);
    CHECK_EQ(h.rhead, 0);                   /* an empty ring starts over */
    CHECK_EQ(h.rtail, 0);
    /* removing the only entry */
    cp__heap_arm(&h, &t[1], 1);
    cp__heap_remove(&h, &t[1]);
    CHECK_EQ(h.n, 0);
    CHECK(cp__heap_top(&h) == NULL);
    cp__heap_fini(&h);
}

/* the ring doubles when full of timers, and squeezes its holes out instead
 * when half of it or more are holes; positions wrap around */
static void test_ring_growth(void)
{
    static cp__timer t[N];
    cp__heap h;
    cp__heap_init(&h);
    for (int i = 0; i < N; i++) {
        t[i].hidx = -1;
        t[i].id = i;
    }
    for (int i = 0; i < 16; i++)
        cp__heap_arm(&h, &t[i], i);
    CHECK_EQ(h.rmask, 15);
    cp__heap_arm(&h, &t[16], 16);
    CHECK_EQ(h.rmask, 31);                  /* doubled */
    /* pop 10, arm 23 more: positions wrap around the array's end */
    for (int i = 0; i < 10; i++)
        CHECK_EQ(pop(&h)->id, i);
    for (int i = 17; i < 40; i++)
        cp__heap_arm(&h, &t[i], i);
    CHECK_EQ(h.rmask, 31);                  /* 30 live in 32: no growth */
    CHECK_EQ(h.n, 30);
    CHECK(h.rtail > 32);
    CHECK_EQ(t[39].hidx, CP__IN_RING | (39 & 31));
    /* holes: cancel the odd ones and 12, 14, 16, leaving 12 timers; when
     * the ring is full again (32 entries, 15 timers) it squeezes the holes
     * out and stays 32 long */
    for (int i = 11; i < 40; i += 2)
        cp__heap_remove(&h, &t[i]);
    for (int i = 12; i <= 16; i += 2)
        cp__heap_remove(&h, &t[i]);
    CHECK_EQ(h.n, 12);
    CHECK_EQ(h.rtail - h.rhead, 29);        /* holes inside */
    for (int i = 40; i < 43; i++)
        cp__heap_arm(&h, &t[i], i);
    CHECK_EQ(h.rtail - h.rhead, 32);        /* full */
    cp__heap_arm(&h, &t[43], 43);
    CHECK_EQ(h.rmask, 31);                  /* squeezed, not grown */
    CHECK_EQ(h.rhead, 0);
    CHECK_EQ(h.rtail, 16);
    CHECK_EQ(t[43].hidx, CP__IN_RING | 15);
    for (int i = 44; i < 60; i++)
        cp__heap_arm(&h, &t[i], i);
    CHECK_EQ(h.rmask, 31);
    CHECK_EQ(h.n, 32);
    CHECK_EQ(h.rtail - h.rhead, 32);
    int ok = 1;
    for (int i = 10; i < 60; i++)
        if (i >= 40 || (i % 2 == 0 && (i < 12 || i > 16)))
            ok &= pop(&h) == &t[i];
    CHECK(ok);
    CHECK_EQ(h.n, 0);
    /* a big burst */
    for (int i = 0; i < N; i++)
        cp__heap_arm(&h, &t[i], 7);
    CHECK_EQ(h.rmask, 1023);
    CHECK_EQ(h.hn, 0);
    ok = 1;
    for (int i = 0; i < N; i++)
        ok &= pop(&h) == &t[i];
    CHECK(ok);
    cp__heap_fini(&h);
}

/* clear() disarms all, calling back for each, heap and ring alike */
static int cleared;
static void count_one(void *ctx, cp__timer *t)
{
    CHECK(ctx == &cleared);
    CHECK_EQ(t->hidx, -1);
    cleared++;
}

static void test_clear(void)
{
    static cp__timer t[100];
    cp__heap h;
    cp__heap_init(&h);
    for (int i = 0; i < 100; i++) {
        t[i].hidx = -1;
        cp__heap_arm(&h, &t[i], (i * 37) % 11);
    }
    cp__heap_remove(&h, &t[50]);
    CHECK(h.hn > 0 && ring_live(&h) > 0);
    cleared = 0;
    cp__heap_clear(&h, count_one, &cleared);
    CHECK_EQ(cleared, 99);
    CHECK_EQ(h.n, 0);
    CHECK(cp__heap_top(&h) == NULL);
    int ok = 1;
    for (int i = 0; i < 100; i++)
        ok &= t[i].hidx == -1;
    CHECK(ok);
    cp__heap_arm(&h, &t[3], 1);             /* still usable */
    CHECK(cp__heap_top(&h) == &t[3]);
    cp__heap_fini(&h);
    CHECK_EQ(t[3].hidx, -1);
}

/* random arm / cancel / re-arm / pop sequences against a reference that
 * keeps (deadline, order of arming) per timer and scans for the minimum */
static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

#define RN 300

static void test_random(void)
{
    static cp__timer t[RN];
    static int64_t ref_dl[RN];
    static uint64_t ref_seq[RN];
    static int ref_on[RN];
    cp__heap h;
    cp__heap_init(&h);
    for (int i = 0; i < RN; i++) {
        t[i].hidx = -1;
        t[i].id = i;
        ref_on[i] = 0;
    }
    uint64_t order = 0;
    int64_t now = 0;
    int bad = 0, pops = 0, used_heap = 0, used_ring = 0;
    for (int step = 0; step < 200000; step++) {
        int i = (int)rnd(RN);
        uint32_t op = rnd(10);
        if (op < 5) {                       /* arm / re-arm */
            int64_t dl;
            switch (rnd(4)) {
            case 0: dl = now + rnd(1000); break;        /* anywhere */
            case 1: dl = now + 500; break;              /* equal delays */
            default: dl = now + 500 + rnd(3); break;    /* a burst */
            }
            if (cp__heap_arm(&h, &t[i], dl) < 0)
                bad++;
            ref_dl[i] = dl;
            ref_seq[i] = order++;
            ref_on[i] = 1;
            used_ring += in_ring(&t[i]);
            used_heap += !in_ring(&t[i]);
        } else if (op < 7) {                /* cancel */
            cp__heap_remove(&h, &t[i]);
            ref_on[i] = 0;
        } else {                            /* pop the top */
            int best = -1, live = 0;
            for (int k = 0; k < RN; k++) {
                if (!ref_on[k])
                    continue;
                live++;
                if (best < 0 || ref_dl[k] < ref_dl[best]
                    || (ref_dl[k] == ref_dl[best]
                        && ref_seq[k] < ref_seq[best]))
                    best = k;
            }
            if (h.n != live)
                bad++;
            cp__timer *x = pop(&h);
            if (best < 0) {
                bad += x != NULL;
                continue;
            }
            pops++;
            if (x != &t[best])
                bad++;
            ref_on[best] = 0;
            now = ref_dl[best];
        }
        if (step % 1000 == 0)               /* hidx says armed or not */
            for (int k = 0; k < RN; k++)
                bad += (t[k].hidx >= 0) != ref_on[k];
    }
    CHECK_EQ(bad, 0);
    CHECK(pops > 10000);
    CHECK(used_heap > 1000 && used_ring > 1000);
    cp__heap_fini(&h);
}

int main(void)
{
    test_order();
    test_remove_rearm();
    test_equal_deadlines();
    test_ring_remove();
    test_ring_growth();
    test_clear();
    test_random();
    CHECK_DONE("test_heap");
}
