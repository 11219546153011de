/*
 * fanout.c - spawn requests, fanout groups and refill.
 *
 * Theory of operation
 * -------------------
 * cp_spawn_batch() validates every request, copies what it needs (argv,
 * env, cwd packed in one block per request) and appends it to its group's
 * pending FIFO; it starts nothing itself.  A group (0 is the default) runs
 * at most `fanout` children at once.  A group that may start something is
 * put on r->refill, which every pass drains: it starts pending children
 * while the group has room, emitting START (or SPAWNERR) for each.  When a
 * child ends (EXIT or abort) its group goes back on r->refill, so the next
 * child starts in the same pass, with no round trip to Python.
 *
 * A child that cannot start (EMFILE included) gets a SPAWNERR and its place
 * goes to the next one: the caller decides what an fd shortage means.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CP__DEFAULT_FANOUT 64

int cp__groups_init(cp_reactor *r)
{
    r->groups = calloc(4, sizeof(*r->groups));
    r->refill = malloc(4 * sizeof(*r->refill));
    if (!r->groups || !r->refill)
        return -ENOMEM;
    r->ngroups = 4;
    r->groups[0].used = 1;
    r->groups[0].fanout = CP__DEFAULT_FANOUT;
    return 0;
}

static cp__group *group_get(cp_reactor *r, int32_t g)
{
    if (g < 0 || g >= r->ngroups || !r->groups[g].used)
        return NULL;
    return &r->groups[g];
}

/* r->refill has room for every group: each is on it at most once. */
void cp__group_refill_add(cp_reactor *r, int32_t g)
{
    cp__group *gr = &r->groups[g];
    if (!gr->queued && gr->phead) {
        r->refill[r->nrefill++] = g;
        gr->queued = 1;
    }
}

void cp__group_release(cp_reactor *r, int32_t g)
{
    r->groups[g].running--;
    cp__group_refill_add(r, g);
}

int cp_group_new(cp_reactor *r, int32_t fanout)
{
    int32_t g;
    for (g = 1; g < r->ngroups && r->groups[g].used; g++)
        ;
    if (g == r->ngroups) {
        int32_t cap = r->ngroups, rcap = r->ngroups;
        if (cp__grow((void **)&r->groups, &cap, r->ngroups + 1,
                     sizeof(*r->groups)) < 0
            || cp__grow((void **)&r->refill, &rcap, cap,
                        sizeof(*r->refill)) < 0)
            return -ENOMEM;
        memset(r->groups + r->ngroups, 0,
               (size_t)(cap - r->ngroups) * sizeof(*r->groups));
        r->ngroups = cap;
    }
    memset(&r->groups[g], 0, sizeof(r->groups[g]));
    r->groups[g].used = 1;
    r->groups[g].fanout = fanout;
    r->ngroups_live++;
    return g;
}

int cp_group_set_fanout(cp_reactor *r, int32_t group, int32_t fanout)
{
    cp__group *gr = group_get(r, group);
    if (!gr)
        return -EINVAL;
    gr->fanout = fanout;
    cp__group_refill_add(r, group);
    return 0;
}

int cp_group_free(cp_reactor *r, int32_t group)
{
    cp__group *gr = group_get(r, group);
    if (!gr || group == 0)
        return -EINVAL;
    if (gr->running || gr->phead)
        return -EBUSY;
    int32_t k = 0;
    for (int32_t i = 0; i < r->nrefill; i++)
        if (r->refill[i] != group)
            r->refill[k++] = r->refill[i];
    r->nrefill = k;
    gr->used = 0;
    gr->queued = 0;
    r->ngroups_live--;
    return 0;
}

/* Is the NUL-terminated string list [off, off + len) inside the blob? */
static int strings_ok(const char *blob, int64_t blob_len, int32_t off,
                      int32_t len, int need_one)
{
    if (len == 0)
        return !need_one;
    return off >= 0 && len > 0 && (int64_t)off + len <= blob_len
        && blob[off + len - 1] == '\0' && (!need_one || blob[off] != '\0');
}

static int request_ok(cp_reactor *r, const int32_t *d, const char *blob,
                      int64_t blob_len)
{
    if (!strings_ok(blob, blob_len, d[CP_SQ_ARGV_OFF], d[CP_SQ_ARGV_LEN], 1))
        return 0;
    if (d[CP_SQ_ENV_LEN] >= 0
        && !strings_ok(blob, blob_len, d[CP_SQ_ENV_OFF], d[CP_SQ_ENV_LEN], 0))
        return 0;
    int32_t cwd = d[CP_SQ_CWD_OFF];
    if (cwd >= 0 && (cwd >= blob_len
                     || !memchr(blob + cwd, '\0', (size_t)(blob_len - cwd))))
        return 0;
    int fl = d[CP_SQ_FLAGS];
    if ((fl & ~63) || ((fl & CP_SPAWN_OUT_RAW) && (fl & CP_SPAWN_OUT_DISCARD))
        || ((fl & CP_SPAWN_ERR_RAW) && (fl & CP_SPAWN_ERR_DISCARD)))
        return 0;
    return group_get(r, d[CP_SQ_GROUP]) != NULL;
}

static cp__child *child_new(const int32_t *d, const char *blob)
{
    int32_t cwd_len = d[CP_SQ_CWD_OFF] >= 0
        ? (int32_t)strlen(blob + d[CP_SQ_CWD_OFF]) + 1 : -1;
    int32_t env_len = d[CP_SQ_ENV_LEN];
    cp__child *c = malloc(sizeof(*c) + (size_t)d[CP_SQ_ARGV_LEN]
                          + (size_t)CP__MAX(env_len, 0)
                          + (size_t)CP__MAX(cwd_len, 0));
    if (!c)
        return NULL;
    memset(c, 0, sizeof(*c));
    char *p = c->req;
    memcpy(p, blob + d[CP_SQ_ARGV_OFF], (size_t)d[CP_SQ_ARGV_LEN]);
    p += d[CP_SQ_ARGV_LEN];
    if (env_len > 0) {
        memcpy(p, blob + d[CP_SQ_ENV_OFF], (size_t)env_len);
        p += env_len;
    }
    if (cwd_len > 0)
        memcpy(p, blob + d[CP_SQ_CWD_OFF], (size_t)cwd_len);
    c->argv_len = d[CP_SQ_ARGV_LEN];
    c->env_len = env_len;
    c->cwd_len = cwd_len;
    c->flags = (uint8_t)d[CP_SQ_FLAGS];
    c->group = d[CP_SQ_GROUP];
    c->timeout_ms = d[CP_SQ_TIMEOUT_MS];
    c->state = CP__C_PENDING;
    return c;
}

static void pending_push(cp_reactor *r, cp__child *c)
{
    cp__group *gr = &r->groups[c->group];
    c->next = NULL;
    c->prev = gr->ptail;
    if (gr->ptail)
        gr->ptail->next = c;
    else
        gr->phead = c;
    gr->ptail = c;
    gr->npending++;
    r->npending++;
}

void cp__pending_remove(cp_reactor *r, cp__child *c)
{
    cp__group *gr = &r->groups[c->group];
    if (c->prev)
        c->prev->next = c->next;
    else
        gr->phead = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        gr->ptail = c->prev;
    c->prev = c->next = NULL;
    gr->npending--;
    r->npending--;
}

int cp_spawn_batch(cp_reactor *r, const int32_t *desc, int32_t n,
                   const char *blob, int64_t blob_len, int32_t *ids_out)
{
    if (n < 0 || (n && (!desc || !ids_out)) || blob_len < 0
        || (blob_len && !blob))
        return -EINVAL;
    for (int32_t i = 0; i < n; i++)
        if (!request_ok(r, desc + i * CP_SQ_WORDS, blob, blob_len))
            return -EINVAL;
    int32_t i;
    for (i = 0; i < n; i++) {
        cp__child *c = child_new(desc + i * CP_SQ_WORDS, blob);
        int32_t id = c ? cp__slot_alloc(&r->slots, CP__K_CHILD, c) : -ENOMEM;
        if (id < 0) {
            if (c)
                cp__child_free(r, c);
            break;
        }
        c->id = ids_out[i] = id;
        pending_push(r, c);
    }
    if (i < n) {
        /* out of memory: undo this batch, newest first */
        while (i-- > 0) {
            cp__child *c = cp__slot_get(&r->slots, ids_out[i], CP__K_CHILD, NULL);
            cp__pending_remove(r, c);
            cp__slot_free(&r->slots, c->id);
            cp__child_free(r, c);
        }
        return -ENOMEM;
    }
    for (i = 0; i < n; i++)
        cp__group_refill_add(r, desc[i * CP_SQ_WORDS + CP_SQ_GROUP]);
    return n;
}

int cp__refill(cp_reactor *r)
{
    int32_t i = 0;
    int rc = 0;
    for (; i < r->nrefill; i++) {
        cp__group *gr = &r->groups[r->refill[i]];
        /* an idle group starts a few first, reported at once */
        int32_t budget = gr->running ? INT32_MAX : CP__STARTS_PER_PASS;
        while (gr->used && gr->phead
               && (gr->fanout <= 0 || gr->running < gr->fanout)) {
            if (!cp__room(r, 1) || budget-- <= 0) {
                rc = -1;
                goto stop;
            }
            cp__child *c = gr->phead;
            cp__pending_remove(r, c);
            if (cp__child_start(r, c) == 0)
                gr->running++;
        }
        gr->queued = 0;
    }
stop:
    memmove(r->refill, r->refill + i, (size_t)(r->nrefill - i) * sizeof(int32_t));
    r->nrefill -= i;
    return rc;
}

/* Has the refill phase something to do right now? */
int cp__refill_ready(const cp_reactor *r)
{
    return r->nrefill != 0;
}

void cp__pending_drop_all(cp_reactor *r)
{
    for (int32_t g = 0; g < r->ngroups; g++) {
        cp__group *gr = &r->groups[g];
        while (gr->phead) {
            cp__child *c = gr->phead;
            cp__pending_remove(r, c);
            cp__slot_free(&r->slots, c->id);
            cp__child_free(r, c);
        }
    }
}

void cp__groups_reset(cp_reactor *r)
{
    for (int32_t g = 1; g < r->ngroups; g++)
        r->groups[g].used = 0;
    for (int32_t g = 0; g < r->ngroups; g++) {
        r->groups[g].queued = 0;
        r->groups[g].running = 0;
    }
    r->ngroups_live = 0;
    r->nrefill = 0;
}
