/*
 * slots.c - the id table.
 *
 * Theory of operation
 * -------------------
 * An id is (generation << 20) | index.  A slot's generation is bumped when
 * the slot is freed, so every id handed out for a previous occupant becomes
 * stale: cp__slot_get() returns NULL for it, and the reactor answers -ESTALE
 * or drops the event.  Generations run 1..2047 so that ids stay positive
 * int32 and never 0.
 *
 * Freed indexes are reused in FIFO order, and only once CP__SLOT_SPARE of
 * them are waiting: an index comes back as late as possible, which pushes
 * the wrap-around of its generation far away.
 *
 * Retiring a slot (an object that ended during or between passes) puts it
 * on the retire list, linked through next_free, which a live slot does not
 * use: its object is freed and the slot joins the free list only at the
 * next cp__slots_flush() (the start of the next pass).  A slot retired
 * keeping its id (a child that ended) is still found by cp__slot_get()
 * until then; otherwise its generation is bumped at once.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>

#define CP__SLOT_BITS 20
#define CP__SLOT_MAX (1 << CP__SLOT_BITS)
#define CP__GEN_MAX 2047
#define CP__SLOT_SPARE 256

void cp__slots_init(cp__slots *s)
{
    s->v = NULL;
    s->size = s->cap = 0;
    s->free_head = s->free_tail = -1;
    s->retire_head = -1;
    s->nfree = 0;
    s->live = 0;
}

void cp__slots_fini(cp__slots *s)
{
    free(s->v);
    cp__slots_init(s);
}

int32_t cp__slot_alloc(cp__slots *s, int kind, void *obj)
{
    int32_t idx;
    if (s->nfree > CP__SLOT_SPARE || (s->size == CP__SLOT_MAX && s->nfree)) {
        idx = s->free_head;
        s->free_head = s->v[idx].next_free;
        if (s->free_head < 0)
            s->free_tail = -1;
        s->nfree--;
    } else {
        if (s->size == CP__SLOT_MAX)
            return -ENOSPC;
        if (s->size == s->cap) {
            int32_t cap = s->cap ? s->cap * 2 : 64;
            cp__slot *v = realloc(s->v, (size_t)cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            s->v = v;
            s->cap = cap;
        }
        idx = s->size++;
        s->v[idx].gen = 1;
    }
    s->v[idx].obj = obj;
    s->v[idx].kind = (uint8_t)kind;
    s->v[idx].retired = CP__R_NO;
    s->v[idx].next_free = -1;
    s->live++;
    return ((int32_t)s->v[idx].gen << CP__SLOT_BITS) | idx;
}

static cp__slot *slot_of(const cp__slots *s, int32_t id)
{
    int32_t idx = id & (CP__SLOT_MAX - 1);
    if (id <= 0 || idx >= s->size)
        return NULL;
    cp__slot *sl = &s->v[idx];
    if (sl->kind == CP__K_FREE || sl->gen != (id >> CP__SLOT_BITS))
        return NULL;
    return sl;
}

void *cp__slot_get(const cp__slots *s, int32_t id, int kind, int *kind_out)
{
    cp__slot *sl = slot_of(s, id);
    if (!sl || sl->retired == CP__R_STALE || (kind && sl->kind != kind))
        return NULL;
    if (kind_out)
        *kind_out = sl->kind;
    return sl->obj;
}

static void to_free_list(cp__slots *s, int32_t idx, int bump)
{
    cp__slot *sl = &s->v[idx];
    sl->kind = CP__K_FREE;
    sl->retired = CP__R_NO;
    sl->obj = NULL;
    if (bump)
        sl->gen = sl->gen == CP__GEN_MAX ? 1 : sl->gen + 1;
    sl->next_free = -1;
    if (s->free_tail >= 0)
        s->v[s->free_tail].next_free = idx;
    else
        s->free_head = idx;
    s->free_tail = idx;
    s->nfree++;
}

void cp__slot_free(cp__slots *s, int32_t id)
{
    cp__slot *sl = slot_of(s, id);
    if (!sl || sl->retired)
        return;
    to_free_list(s, id & (CP__SLOT_MAX - 1), 1);
    s->live--;
}

void cp__slot_retire(cp__slots *s, int32_t id, int keep_id)
{
    cp__slot *sl = slot_of(s, id);
    if (!sl || sl->retired)
        return;
    sl->retired = keep_id ? CP__R_KEEP_ID : CP__R_STALE;
    if (!keep_id)
        sl->gen = sl->gen == CP__GEN_MAX ? 1 : sl->gen + 1;
    sl->next_free = s->retire_head;
    s->retire_head = id & (CP__SLOT_MAX - 1);
    s->live--;
}

void cp__slots_flush(cp__slots *s, void (*free_obj)(void *, int, void *),
                     void *ctx)
{
    while (s->retire_head >= 0) {
        int32_t idx = s->retire_head;
        cp__slot *sl = &s->v[idx];
        s->retire_head = sl->next_free;
        int bump = sl->retired == CP__R_KEEP_ID;
        free_obj(ctx, sl->kind, sl->obj);
        to_free_list(s, idx, bump);
    }
}
