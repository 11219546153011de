/*
 * linebuf.c - line splitting.
 *
 * Theory of operation
 * -------------------
 * Input arrives in chunks; each stream keeps only the tail of an unfinished
 * line (cp__linebuf), so its memory follows the partial data it really has.
 * Output goes to the caller's buffer (the poll arena) as lines, each followed
 * by '\n'; the reader of a LINES record drops the very last '\n'.
 *
 * Rules (cp.h): split on '\n'; one '\r' right before the '\n' is trimmed; a
 * bare '\r' stays.  A final line without '\n' is delivered by
 * cp__lb_flush() at end of input, untrimmed.  A line whose content exceeds
 * line_max comes out in pieces of line_max bytes.  A tail is cut into pieces
 * as soon as its content is certain to exceed line_max, so it never holds
 * more than line_max + 1 bytes (the +1 being a '\r' that may yet be trimmed).
 *
 * Invariant: the result never depends on how the input was chunked, and
 * cp__lb_count() counts exactly the lines cp__lb_feed()/cp__lb_flush()
 * would produce for the same input.
 *
 * A long unfinished line may take the next read straight into its tail
 * (cp__lb_spare/cp__lb_feed_spare): a read that does not finish it then
 * costs no copy at all; one that does is fed as any other.
 *
 * Speed: a span of complete lines with no '\r' and too short to hold an
 * over-long line is copied with one memcpy and its lines counted by a loop
 * the compiler vectorizes; otherwise runs of ordinary lines are still copied
 * with one memcpy each, and only lines needing a trim or a cut are handled
 * one by one.
 */
#include "cp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cp__lb_init(cp__linebuf *lb)
{
    lb->buf = lb->inl;
    lb->len = 0;
    lb->cap = CP__TAIL_INLINE;
}

void cp__lb_free(cp__linebuf *lb)
{
    if (lb->buf != lb->inl)
        free(lb->buf);
    cp__lb_init(lb);
}

/* Give back heap memory once the tail is small again. */
static void tail_shrink(cp__linebuf *lb)
{
    if (lb->buf != lb->inl && lb->len <= CP__TAIL_INLINE) {
        memcpy(lb->inl, lb->buf, lb->len);
        free(lb->buf);
        lb->buf = lb->inl;
        lb->cap = CP__TAIL_INLINE;
    }
}

static int tail_reserve(cp__linebuf *lb, size_t need)
{
    if (need <= lb->cap)
        return 0;
    size_t cap = CP__MAX(need, (size_t)lb->cap * 2);
    char *b = lb->buf == lb->inl ? malloc(cap) : realloc(lb->buf, cap);
    if (!b)
        return -ENOMEM;
    if (lb->buf == lb->inl)
        memcpy(b, lb->inl, lb->len);
    lb->buf = b;
    lb->cap = (uint32_t)cap;
    return 0;
}

size_t cp__lb_bound(const cp__linebuf *lb, size_t n, size_t line_max)
{
    size_t total = lb->len + n;
    return total + total / line_max + 2;
}

/* Number of '\n' in [p, p + n). */
static int64_t count_nl(const char *p, size_t n)
{
    int64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* Lines needed for content length c (an empty line is still a line). */
static int64_t pieces(size_t c, size_t line_max)
{
    return c ? (int64_t)((c + line_max - 1) / line_max) : 1;
}

/* The l bytes at w are one line: trim (if asked) a final '\r', cut it into
 * line_max pieces in place, terminate each with '\n'.  Returns the end. */
static char *put_line(char *w, size_t l, size_t line_max, int trim,
                      int64_t *nlines)
{
    if (trim && l && w[l - 1] == '\r')
        l--;
    if (l <= line_max) {
        w[l] = '\n';
        (*nlines)++;
        return w + l + 1;
    }
    size_t k = (l + line_max - 1) / line_max;
    /* back to front, so that no piece overwrites one not yet moved */
    for (size_t i = k; i-- > 0;) {
        size_t len = i == k - 1 ? l - i * line_max : line_max;
        memmove(w + i * (line_max + 1), w + i * line_max, len);
        w[i * (line_max + 1) + len] = '\n';
    }
    *nlines += (int64_t)k;
    return w + l + k;
}

/* Is an unfinished line of r bytes ending with `last` certain to be over
 * line_max once its '\n' comes? */
static int over(size_t r, char last, size_t line_max)
{
    return r > line_max + 1 || (r == line_max + 1 && last != '\r');
}

/* Append data (no '\n' in it) to the tail, cutting certain pieces out to w;
 * the tail has room for what stays (see cp__lb_feed).  Returns the new end
 * of output. */
static char *tail_append(cp__linebuf *lb, const char *data, size_t n,
                         size_t line_max, char *w, int64_t *nlines)
{
    size_t r = lb->len + n;
    if (r == 0)
        return w;
    char last = n ? data[n - 1] : lb->buf[lb->len - 1];
    size_t k = 0;
    while (over(r, last, line_max)) {
        r -= line_max;
        k++;
    }
    if (k) {
        /* the first k * line_max bytes of tail + data become k pieces */
        size_t cut = k * line_max;
        size_t from_tail = CP__MIN(cut, (size_t)lb->len);
        memcpy(w, lb->buf, from_tail);
        memcpy(w + from_tail, data, cut - from_tail);
        w = put_line(w, cut, line_max, 0, nlines);
        memmove(lb->buf, lb->buf + from_tail, lb->len - from_tail);
        lb->len -= (uint32_t)from_tail;
        data += cut - from_tail;
        n -= cut - from_tail;
    }
    memcpy(lb->buf + lb->len, data, n);
    lb->len += (uint32_t)n;
    return w;
}

int64_t cp__lb_feed(cp__linebuf *lb, const char *data, size_t n,
                    size_t line_max, char *out, int64_t *nlines)
{
    const char *p = data, *end = data + n;
    const char *last = n ? memrchr(data, '\n', n) : NULL;
    char *w = out;

    /* room for the tail that stays, first: past this point nothing fails */
    size_t rest = last ? (size_t)(end - last - 1) : lb->len + n;
    if (tail_reserve(lb, CP__MIN(rest, line_max + 1)) < 0)
        return -ENOMEM;
    if (last) {
        const char *nl = memchr(p, '\n', n);
        if (lb->len) {
            /* the first line completes the tail */
            size_t l = lb->len + (size_t)(nl - p);
            memcpy(w, lb->buf, lb->len);
            memcpy(w + lb->len, p, (size_t)(nl - p));
            w = put_line(w, l, line_max, 1, nlines);
            lb->len = 0;
            p = nl + 1;
            nl = p <= last ? memchr(p, '\n', (size_t)(last + 1 - p)) : NULL;
        }
        size_t span = (size_t)(last + 1 - p);
        if (nl && span <= line_max + 1 && !memchr(p, '\r', span)) {
            /* the usual case: nothing to trim, nothing to cut */
            memcpy(w, p, span);
            w += span;
            *nlines += count_nl(p, span);
            p = last + 1;
            nl = NULL;
        }
        const char *run = p;        /* ordinary lines not yet copied */
        int64_t plain = 0;
        while (nl) {
            size_t l = (size_t)(nl - p);
            if (l > line_max || (l && nl[-1] == '\r')) {
                memcpy(w, run, (size_t)(p - run));
                w += p - run;
                memcpy(w, p, l);
                w = put_line(w, l, line_max, 1, nlines);
                run = nl + 1;
            } else {
                plain++;
            }
            p = nl + 1;
            nl = p <= last ? memchr(p, '\n', (size_t)(last + 1 - p)) : NULL;
        }
        memcpy(w, run, (size_t)(p - run));
        w += p - run;
        *nlines += plain;
    }
    w = tail_append(lb, p, (size_t)(end - p), line_max, w, nlines);
    tail_shrink(lb);
    return w - out;
}

char *cp__lb_spare(cp__linebuf *lb, size_t n, size_t line_max)
{
    if (lb->len <= CP__TAIL_INLINE || lb->len + n > line_max)
        return NULL;
    if (tail_reserve(lb, lb->len + n) < 0)
        return NULL;
    return lb->buf + lb->len;
}

int64_t cp__lb_feed_spare(cp__linebuf *lb, size_t n, size_t line_max,
                          char *scratch, char *out, int64_t *nlines)
{
    char *data = lb->buf + lb->len;
    if (!memchr(data, '\n', n)) {
        /* what tail_append() would do: the tail stays <= line_max */
        lb->len += (uint32_t)n;
        return 0;
    }
    memcpy(scratch, data, n);
    return cp__lb_feed(lb, scratch, n, line_max, out, nlines);
}

size_t cp__lb_flush(cp__linebuf *lb, size_t line_max, char *out,
                    int64_t *nlines)
{
    if (!lb->len)
        return 0;
    memcpy(out, lb->buf, lb->len);
    char *w = put_line(out, lb->len, line_max, 0, nlines);
    cp__lb_free(lb);
    return (size_t)(w - out);
}

int64_t cp__lb_count(const char *data, size_t n, size_t line_max,
                     int64_t *cur, int *cr)
{
    const char *p = data, *end = data + n, *nl;
    int64_t count = 0;
    if ((size_t)*cur + n <= line_max && n) {
        /* no line here can need cutting: count the '\n' */
        const char *last = memrchr(data, '\n', n);
        if (last) {
            count = count_nl(data, (size_t)(last + 1 - data));
            *cur = 0;
            *cr = 0;
            p = last + 1;
        }
    }
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
        size_t seg = (size_t)(nl - p);
        size_t c = (size_t)*cur + seg;
        if (seg ? nl[-1] == '\r' : *cr)
            c--;
        count += c <= line_max ? 1 : pieces(c, line_max);
        *cur = 0;
        *cr = 0;
        p = nl + 1;
    }
    if (p < end) {
        *cur += end - p;
        *cr = end[-1] == '\r';
    }
    return count;
}

int64_t cp__lb_count_flush(size_t line_max, int64_t *cur, int *cr)
{
    int64_t count = *cur ? pieces((size_t)*cur, line_max) : 0;
    *cur = 0;
    *cr = 0;
    return count;
}
