/*
 * writeq.c - write queues.
 *
 * Theory of operation
 * -------------------
 * Data to write is copied once into a refcounted chunk; a queue is a FIFO
 * of (chunk, offset) nodes.  cp_write_many() makes one chunk with one
 * reference per target queue, so broadcasting to N children stores the
 * data once.  A chunk is freed when the last queue holding it has written
 * or dropped it.  Draining uses writev() over several nodes and stops at
 * EAGAIN, at an error, or after `max` bytes (fairness between streams).
 */
#include "cp_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define CP__IOV 16

cp__chunk *cp__chunk_new(const char *data, int64_t len)
{
    cp__chunk *c = malloc(sizeof(*c) + (size_t)len);
    if (!c)
        return NULL;
    c->refs = 0;
    c->len = len;
    memcpy(c->data, data, (size_t)len);
    return c;
}

void cp__chunk_unref(cp__chunk *c)
{
    if (--c->refs <= 0)
        free(c);
}

void cp__chunk_unref_if_unused(cp__chunk *c)
{
    if (c->refs == 0)
        free(c);
}

int cp__wq_push(cp__writeq *q, cp__chunk *c)
{
    cp__wnode *n = malloc(sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->next = NULL;
    n->chunk = c;
    n->off = 0;
    c->refs++;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->bytes += c->len;
    return 0;
}

static void pop(cp__writeq *q)
{
    cp__wnode *n = q->head;
    q->head = n->next;
    if (!q->head)
        q->tail = NULL;
    cp__chunk_unref(n->chunk);
    free(n);
}

int64_t cp__wq_clear(cp__writeq *q)
{
    int64_t dropped = q->bytes;
    while (q->head)
        pop(q);
    q->bytes = 0;
    return dropped;
}

int64_t cp__wq_drain(cp__writeq *q, int fd, int64_t max, int *err)
{
    int64_t total = 0;
    *err = 0;
    while (q->head && total < max) {
        struct iovec iov[CP__IOV];
        int niov = 0;
        int64_t want = 0;
        for (cp__wnode *n = q->head; n && niov < CP__IOV && want < max - total;
             n = n->next) {
            int64_t len = CP__MIN(n->chunk->len - n->off, max - total - want);
            iov[niov].iov_base = n->chunk->data + n->off;
            iov[niov].iov_len = (size_t)len;
            niov++;
            want += len;
        }
        ssize_t w = writev(fd, iov, niov);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                *err = errno;
            break;
        }
        total += w;
        q->bytes -= w;
        int full = w < want;    /* the fd took less than offered */
        while (w > 0) {
            cp__wnode *n = q->head;
            int64_t left = n->chunk->len - n->off;
            if (w < left) {
                n->off += w;
                break;
            }
            w -= left;
            pop(q);
        }
        if (full)
            break;
    }
    return total;
}
