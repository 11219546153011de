/* Timer heap: order, FIFO among equal deadlines, removal, re-arming. */
#include "../../csrc/cp_int.h"
#include "check.h"

#define N 1000

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

int main(void)
{
    test_order();
    test_remove_rearm();
    CHECK_DONE("test_heap");
}
