/*
 * stream.c - reading and writing one stream during a pass.
 *
 * Theory of operation
 * -------------------
 * Read side (cp__rstream): one read() of at most CP__READ_MAX bytes per
 * ready stream per pass, so that a flooding child cannot starve the others.
 * LINES and DISCARD modes read into the reactor's scratch buffer; LINES
 * then copies complete lines into the arena (linebuf.c) and keeps only the
 * unfinished line; DISCARD only counts.  A LINES stream in the middle of a
 * long line reads straight into that line's tail instead (cp__lb_spare).  RAW reads straight into the arena.
 * A read is sized so its output always fits the arena; when the arena is
 * nearly full the stream is left for the next pass instead.
 *
 * Write side (cp__wstream): the queue is written as the fd accepts it;
 * each pass that wrote something emits one WRITTEN record.  An empty queue
 * stops watching for writability (an idle pipe must not wake the loop), and
 * an empty queue with EOF requested closes the write side.  A write error
 * (EPIPE: the reader went away) drops the queue and closes the side with
 * WCLOSED carrying the errno.
 *
 * Public entry points cp_write, cp_write_many, cp_write_eof and
 * cp_stream_mode are here too: they resolve an id to a stream through the
 * kind of its slot (cp__kind.stream: a child's in child.c, a user fd's in
 * userfd.c), without knowing what owns it.
 */
#include "cp_int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define CP__READ_MIN 4096       /* below this, wait for a fresh arena */

static int32_t sat32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

void cp__rs_init(cp__rstream *s, int mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = (uint8_t)mode;
    cp__lb_init(&s->lb);
}

void cp__rs_fini(cp__rstream *s)
{
    cp__lb_free(&s->lb);
    s->open = 0;
}

int cp__rs_set_mode(cp__rstream *s, int mode)
{
    if (mode < CP_MODE_LINES || mode > CP_MODE_DISCARD)
        return -EINVAL;
    if (mode == CP_MODE_DISCARD && s->mode != CP_MODE_DISCARD && s->lb.len) {
        /* the unfinished line is now only counted */
        s->cur = s->lb.len;
        s->cr = s->lb.buf[s->lb.len - 1] == '\r';
        cp__lb_free(&s->lb);
    } else if (mode != CP_MODE_DISCARD) {
        s->cur = 0;
        s->cr = 0;
    }
    s->mode = (uint8_t)mode;
    return 0;
}

static void emit_lines(cp_reactor *r, int32_t id, int stream, int64_t k)
{
    if (k > 0) {
        cp__emit(r, CP_EV_LINES, stream, id, r->arena_used, (int32_t)k - 1);
        r->arena_used += (int32_t)k;
    }
}

int cp__rs_flush_need(const cp__rstream *s, int32_t line_max)
{
    if (s->mode != CP_MODE_LINES || !s->lb.len)
        return 0;
    return (int)cp__lb_bound(&s->lb, 0, (size_t)line_max);
}

void cp__rs_flush(cp_reactor *r, cp__rstream *s, int32_t id, int stream)
{
    if (s->mode == CP_MODE_LINES) {
        size_t k = cp__lb_flush(&s->lb, (size_t)r->line_max,
                                r->arena + r->arena_used, &s->lines);
        emit_lines(r, id, stream, (int64_t)k);
    } else if (s->mode == CP_MODE_DISCARD) {
        s->lines += cp__lb_count_flush((size_t)r->line_max, &s->cur, &s->cr);
    } else if (s->lb.len) {
        /* raw mode, left over from a switch out of LINES mode */
        memcpy(r->arena + r->arena_used, s->lb.buf, s->lb.len);
        cp__emit(r, CP_EV_DATA, stream, id, r->arena_used, (int32_t)s->lb.len);
        r->arena_used += (int32_t)s->lb.len;
        cp__lb_free(&s->lb);
    }
}

int cp__rs_read(cp_reactor *r, cp__rstream *s, cp__watch *w, int32_t id,
                int stream)
{
    if (!cp__room(r, CP__WORK_RECS))
        return -1;
    int64_t room = r->arena_cap - r->arena_used;
    size_t lm = (size_t)r->line_max;
    int64_t n;
    char *buf = r->scratch;
    if (s->mode == CP_MODE_LINES)   /* so that cp__lb_bound() <= room */
        n = (room - 2) * (int64_t)lm / (int64_t)(lm + 1) - s->lb.len;
    else if (s->mode == CP_MODE_RAW)
        n = room - s->lb.len;
    else
        n = CP__READ_MAX;
    if (n < CP__READ_MIN && r->arena_used > 0)
        return -1;
    if (n < 1)
        return -1;      /* cannot happen with arena_cap >= line_max + 64 */
    n = CP__MIN(n, CP__READ_MAX);
    char *spare = NULL;    /* LINES: reading straight into a long tail */
    if (s->mode == CP_MODE_RAW) {
        buf = r->arena + r->arena_used;
        memcpy(buf, s->lb.buf, s->lb.len);
    } else if (s->mode == CP_MODE_LINES) {
        spare = cp__lb_spare(&s->lb, (size_t)n, lm);
    }

    ssize_t got;
    do
        got = read(w->fd, spare ? spare
                   : buf + (s->mode == CP_MODE_RAW ? s->lb.len : 0), (size_t)n);
    while (got < 0 && errno == EINTR);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (got <= 0) {
        /* end of file; a read error ends the stream the same way */
        cp__rs_flush(r, s, id, stream);
        cp__emit(r, CP_EV_EOF, stream, id, sat32(s->lines), 0);
        return 1;
    }
    if (s->mode == CP_MODE_LINES) {
        char *out = r->arena + r->arena_used;
        int64_t k = spare
            ? cp__lb_feed_spare(&s->lb, (size_t)got, lm, r->scratch, out, &s->lines)
            : cp__lb_feed(&s->lb, buf, (size_t)got, lm, out, &s->lines);
        if (k < 0) {    /* ENOMEM for the tail: end the stream, say so */
            cp__emit(r, CP_EV_EOF, stream, id, sat32(s->lines), 0);
            return 1;
        }
        emit_lines(r, id, stream, k);
    } else if (s->mode == CP_MODE_RAW) {
        int32_t len = (int32_t)(s->lb.len + got);
        cp__lb_free(&s->lb);
        cp__emit(r, CP_EV_DATA, stream, id, r->arena_used, len);
        r->arena_used += len;
    } else {
        s->lines += cp__lb_count(buf, (size_t)got, lm, &s->cur, &s->cr);
    }
    return 0;
}

void cp__ws_init(cp__wstream *s, int open)
{
    memset(s, 0, sizeof(*s));
    s->open = (uint8_t)open;
}

void cp__ws_fini(cp_reactor *r, cp__wstream *s)
{
    r->queued -= cp__wq_clear(&s->q);
    s->open = 0;
}

int cp__ws_write(cp_reactor *r, cp__wstream *s, cp__watch *w, int32_t id,
                 int stream)
{
    if (!cp__room(r, 2))
        return -1;
    if (!s->open)
        return 0;
    if (s->q.head) {
        int err;
        int64_t got = cp__wq_drain(&s->q, w->fd, CP__WRITE_MAX, &err);
        r->queued -= got;
        if (got)
            cp__emit(r, CP_EV_WRITTEN, stream, id, sat32(got),
                     sat32(s->q.bytes));
        if (err) {
            cp__ws_fini(r, s);
            cp__emit(r, CP_EV_WCLOSED, stream, id, err, 0);
            return 1;
        }
    }
    if (!s->q.head) {
        if (s->eof) {
            s->open = 0;
            cp__emit(r, CP_EV_WCLOSED, stream, id, 0, 0);
            return 1;
        }
        cp__watch_set(r, w, w->want & ~CP__OUT);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* public entry points */

/* 0, 1 for a valid id whose stream has nothing and takes nothing (an
 * ended child, or a pending child's untouched stream when `alloc` is 0),
 * or -errno. */
static int resolve(cp_reactor *r, int32_t id, int stream, cp__sref *ref,
                   int alloc)
{
    ref->rs = NULL;
    ref->ws = NULL;
    ref->w = NULL;
    int kind;
    void *obj = cp__slot_get(&r->slots, id, 0, &kind);
    const cp__kind *k = obj ? cp__kind_of(kind) : NULL;
    if (!k || !k->stream)
        return -ESTALE;
    return k->stream(r, obj, stream, ref, alloc);
}

static int queue(cp_reactor *r, const cp__sref *ref, cp__chunk *c)
{
    int rc = cp__wq_push(&ref->ws->q, c);
    if (rc < 0)
        return rc;
    r->queued += c->len;
    if (ref->w->fd >= 0 && !(ref->w->want & CP__OUT))
        return cp__watch_set(r, ref->w, ref->w->want | CP__OUT);
    return 0;
}

static int writable(cp_reactor *r, int32_t id, int stream, cp__sref *ref)
{
    int rc = resolve(r, id, stream, ref, 1);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return -EPIPE;      /* an ended child */
    if (!ref->ws)
        return -EINVAL;
    if (!ref->ws->open || ref->ws->eof)
        return -EPIPE;
    return 0;
}

int cp_write(cp_reactor *r, int32_t id, int stream, const char *data,
             int64_t len)
{
    cp__sref ref;
    int rc = writable(r, id, stream, &ref);
    if (rc < 0)
        return rc;
    if (len < 0 || (len && !data))
        return -EINVAL;
    if (!len)
        return 0;
    cp__chunk *c = cp__chunk_new(data, len);
    if (!c)
        return -ENOMEM;
    rc = queue(r, &ref, c);
    cp__chunk_unref_if_unused(c);   /* when the push failed */
    return rc;
}

int cp_write_many(cp_reactor *r, const int32_t *ids, int32_t n, int stream,
                  const char *data, int64_t len)
{
    if (n < 0 || len < 0 || (len && !data) || (n && !ids))
        return -EINVAL;
    if (!len || !n)
        return 0;
    cp__chunk *c = cp__chunk_new(data, len);
    if (!c)
        return -ENOMEM;
    int count = 0;
    for (int32_t i = 0; i < n; i++) {
        cp__sref ref;
        if (writable(r, ids[i], stream, &ref) == 0 && queue(r, &ref, c) == 0)
            count++;
    }
    cp__chunk_unref_if_unused(c);
    return count;
}

int cp_write_eof(cp_reactor *r, int32_t id, int stream)
{
    cp__sref ref;
    int rc = resolve(r, id, stream, &ref, 1);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return -EPIPE;      /* an ended child */
    if (!ref.ws)
        return -EINVAL;
    if (!ref.ws->open)
        return -EPIPE;
    ref.ws->eof = 1;
    /* the pass closes it once writable with an empty queue */
    if (ref.w->fd >= 0 && !(ref.w->want & CP__OUT))
        return cp__watch_set(r, ref.w, ref.w->want | CP__OUT);
    return 0;
}

int cp_stream_partial(cp_reactor *r, int32_t id, int stream, char *out,
                      int32_t cap)
{
    cp__sref ref;
    int rc = resolve(r, id, stream, &ref, 0);
    if (rc)     /* 1: a pending child's stream, empty so far */
        return rc < 0 ? rc : stream == CP_STDIN ? -EINVAL : 0;
    if (!ref.rs)
        return -EINVAL;
    cp__linebuf *lb = &ref.rs->lb;
    if (ref.rs->mode != CP_MODE_LINES || !lb->len)
        return 0;
    if (cap < 0 || lb->len > (uint32_t)cap)
        return -ENOSPC;
    int32_t n = (int32_t)lb->len;
    memcpy(out, lb->buf, lb->len);
    cp__lb_free(lb);
    return n;
}

int cp_stream_mode(cp_reactor *r, int32_t id, int stream, int mode)
{
    cp__sref ref;
    int rc = resolve(r, id, stream, &ref, 1);
    if (rc < 0)
        return rc;
    if (rc == 1)            /* an ended child: nothing more is read */
        return mode < CP_MODE_LINES || mode > CP_MODE_DISCARD ? -EINVAL : 0;
    if (!ref.rs)
        return -EINVAL;
    return cp__rs_set_mode(ref.rs, mode);
}
