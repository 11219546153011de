/*
 * cp_int.h - internal structures of the reactor, shared by csrc/ files only.
 *
 * Theory of operation
 * -------------------
 * Every object the reactor hands out (child, user fd, timer) sits in a slot
 * (slots.c) and is named by an id carrying the slot's generation.  Every fd
 * the reactor waits on is a cp__watch: the fd, what it wants (CP__IN,
 * CP__OUT) and a back pointer to its owner.  The backends (backend_*.c) only
 * know watches; reactor.c turns ready watches into work on their owners.
 *
 * One cp_poll() call is a "pass".  During a pass the records go into the
 * sink (r->ev / r->arena).  Work is done only when the sink has room for
 * every record that piece of work may produce (CP__WORK_RECS), so no record
 * is ever produced and then held back: work that does not fit is simply
 * left for the next pass (level-triggered readiness brings it back).
 * Objects that die during a pass are unlinked at once (their id goes stale,
 * their fds are closed, watch->fd = -1) but their memory is freed at the end
 * of the pass, because the ready array may still point into them.
 *
 * This header is included first by every C file of the core: it sets
 * _GNU_SOURCE before any system header.
 */
#ifndef CLUSTERPY_CP_INT_H
#define CLUSTERPY_CP_INT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cp.h"

/* ------------------------------------------------------------------ */
/* small helpers */

#define CP__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CP__MAX(a, b) ((a) > (b) ? (a) : (b))
#define CP__READ_MAX (64 * 1024)       /* bytes read per stream per pass */
#define CP__WRITE_MAX (256 * 1024)     /* bytes written per stream per pass */
#define CP__WORK_RECS 4                /* records one piece of work may emit */
#define CP__STARTS_PER_PASS 8          /* children a pass starts in an idle group */

/* util.c */
int64_t cp__now_ns(void);
int cp__set_nonblock(int fd);
void cp__close_fd(int fd);            /* close() if >= 0, no EINTR retry */

/* ------------------------------------------------------------------ */
/* slots.c: ids = (generation << 20) | index */

enum { CP__K_FREE = 0, CP__K_CHILD, CP__K_FD, CP__K_TIMER };

typedef struct cp__slot {
    void *obj;
    int32_t next_free;      /* free-list link (index), -1 at the end */
    uint16_t gen;
    uint8_t kind;
} cp__slot;

typedef struct cp__slots {
    cp__slot *v;
    int32_t size, cap;
    int32_t free_head, free_tail, nfree;
    int32_t live;
} cp__slots;

void cp__slots_init(cp__slots *s);
void cp__slots_fini(cp__slots *s);
int32_t cp__slot_alloc(cp__slots *s, int kind, void *obj);  /* id or -errno */
void cp__slot_free(cp__slots *s, int32_t id);
void *cp__slot_get(const cp__slots *s, int32_t id, int kind);

/* ------------------------------------------------------------------ */
/* heap.c: timer min-heap ordered by (deadline, seq) */

enum { CP__T_USER = 1, CP__T_TIMEOUT, CP__T_REAP, CP__T_ORPHANS };

typedef struct cp__timer {
    int64_t deadline;       /* CLOCK_MONOTONIC ns */
    uint64_t seq;           /* arming order: FIFO among equal deadlines */
    int64_t interval;       /* ns, 0 = one-shot */
    int32_t hidx;           /* index in the heap, -1 when not armed */
    int32_t id;             /* user timers: the slot id */
    uint8_t kind;
    void *owner;            /* child for TIMEOUT/REAP */
} cp__timer;

typedef struct cp__heap {
    cp__timer **v;
    int32_t n, cap;
    uint64_t seq;
} cp__heap;

void cp__heap_init(cp__heap *h);
void cp__heap_fini(cp__heap *h);
/* Arm t at `deadline` (removing it first if armed): 0 or -ENOMEM. */
int cp__heap_arm(cp__heap *h, cp__timer *t, int64_t deadline);
void cp__heap_remove(cp__heap *h, cp__timer *t);
static inline cp__timer *cp__heap_top(const cp__heap *h)
{
    return h->n ? h->v[0] : NULL;
}

/* ------------------------------------------------------------------ */
/* linebuf.c: line splitting with a per-stream partial tail */

#define CP__TAIL_INLINE 40

typedef struct cp__linebuf {
    char *buf;              /* == inl, or malloc'd when larger */
    uint32_t len, cap;
    char inl[CP__TAIL_INLINE];
} cp__linebuf;

void cp__lb_init(cp__linebuf *lb);
void cp__lb_free(cp__linebuf *lb);
/* Output bound for feeding n more bytes (then flushing). */
size_t cp__lb_bound(const cp__linebuf *lb, size_t n, size_t line_max);
/* Split tail + data into complete lines written to out, each followed by
 * '\n'; keep the unfinished rest as the new tail.  Returns bytes written
 * (needs cp__lb_bound() room), adds the lines produced to *nlines, or
 * -ENOMEM (nothing consumed). */
int64_t cp__lb_feed(cp__linebuf *lb, const char *data, size_t n,
                    size_t line_max, char *out, int64_t *nlines);
/* Reading straight into the tail: for an unfinished line longer than the
 * inline tail that n more bytes leave at most line_max long, grow the tail
 * to take them and return where they go (else NULL).  Then feed_spare()
 * with the n' <= n bytes read there: without '\n' they only lengthen the
 * tail (no copy); with one they go through scratch (>= n' bytes) and
 * cp__lb_feed(), which gives the same result as feeding them directly. */
char *cp__lb_spare(cp__linebuf *lb, size_t n, size_t line_max);
int64_t cp__lb_feed_spare(cp__linebuf *lb, size_t n, size_t line_max,
                          char *scratch, char *out, int64_t *nlines);
/* End of input: the tail becomes a final line. */
size_t cp__lb_flush(cp__linebuf *lb, size_t line_max, char *out,
                    int64_t *nlines);
/* Discard mode: count the lines of data without keeping any of it; *cur
 * is the length of the unfinished line so far, *cr whether it ends in \r. */
int64_t cp__lb_count(const char *data, size_t n, size_t line_max,
                     int64_t *cur, int *cr);
int64_t cp__lb_count_flush(size_t line_max, int64_t *cur, int *cr);

/* ------------------------------------------------------------------ */
/* writeq.c: write queues of refcounted chunks */

typedef struct cp__chunk {
    int32_t refs;
    int64_t len;
    char data[];
} cp__chunk;

typedef struct cp__wnode {
    struct cp__wnode *next;
    cp__chunk *chunk;
    int64_t off;
} cp__wnode;

typedef struct cp__writeq {
    cp__wnode *head, *tail;
    int64_t bytes;          /* still queued */
} cp__writeq;

cp__chunk *cp__chunk_new(const char *data, int64_t len);  /* no reference */
void cp__chunk_unref(cp__chunk *c);
void cp__chunk_unref_if_unused(cp__chunk *c);   /* free it if never queued */
int cp__wq_push(cp__writeq *q, cp__chunk *c);   /* takes one reference */
/* Drop everything; returns the bytes dropped. */
int64_t cp__wq_clear(cp__writeq *q);
/* Write as much as fd takes (at most `max` bytes).  Returns bytes written
 * (>= 0, EAGAIN stops silently) or -errno if nothing could be written. */
int64_t cp__wq_drain(cp__writeq *q, int fd, int64_t max, int *err);

/* ------------------------------------------------------------------ */
/* watches and backends */

#define CP__IN 1u
#define CP__OUT 2u

enum { CP__W_WAKE = 1, CP__W_PIDFD, CP__W_OUT, CP__W_IN, CP__W_USER };

typedef struct cp__watch {
    int fd;
    uint8_t type;
    uint8_t sub;            /* CP__W_OUT: which stream (1 or 2) */
    uint8_t always;         /* backend cannot wait on it: always ready */
    uint8_t reg;            /* registered with the backend */
    uint32_t want;          /* CP__IN | CP__OUT, 0 = not watched */
    uint32_t have;          /* what the backend was last told */
    int32_t bidx;           /* backend-private index */
    void *owner;
} cp__watch;

typedef struct cp__ready {
    cp__watch *w;
    uint32_t ev;            /* CP__IN | CP__OUT */
} cp__ready;

typedef struct cp__backend {
    int (*init)(cp_reactor *r);
    void (*fini)(cp_reactor *r);
    /* Make the backend watch w->want (0: stop watching).  Returns 0 or
     * -errno. */
    int (*update)(cp_reactor *r, cp__watch *w);
    /* Wait and fill r->ready; returns the count or -errno. */
    int (*wait)(cp_reactor *r, int timeout_ms);
    /* The pass stopped, out of room, before serving w (may be NULL). */
    void (*stopped)(cp_reactor *r, cp__watch *w);
    /* A descriptor readable when some watch is ready (cp_reactor_fd()). */
    int (*fd)(cp_reactor *r);
    /* Watches that fd cannot report: they are always ready. */
    int32_t (*always)(const cp_reactor *r);
} cp__backend;

extern const cp__backend cp__backend_epoll;
extern const cp__backend cp__backend_poll;

/* ------------------------------------------------------------------ */
/* streams */

typedef struct cp__rstream {       /* the read side of a stream */
    uint8_t open;
    uint8_t mode;                   /* CP_MODE_* */
    int cr;                         /* discard mode: partial line ends \r */
    int64_t cur;                    /* discard mode: partial line length */
    int64_t lines;
    cp__linebuf lb;
} cp__rstream;

typedef struct cp__wstream {       /* the write side of a stream */
    uint8_t open;                   /* takes data (a pending child's too) */
    uint8_t eof;                    /* close once drained */
    cp__writeq q;
} cp__wstream;

/* ------------------------------------------------------------------ */
/* children */

enum { CP__C_PENDING = 1, CP__C_RUNNING, CP__C_DEAD };

/* What a child needs once started: its watches, streams and timers.  A
 * pending child has none of it (io == NULL) unless Python touched one of
 * its streams first (stdin data, a read mode): tens of thousands of pending
 * children cost only their cp__child and request. */
typedef struct cp__childio {
    cp__watch pidw;                 /* pidfd */
    cp__watch inw;                  /* stdin pipe */
    cp__watch outw[2];              /* stdout, stderr pipes */
    cp__wstream in;
    cp__rstream out[2];
    cp__timer timeout;
    cp__timer reap;
    int reap_delay_ms;              /* waitpid backoff (no pidfd) */
} cp__childio;

typedef struct cp__child {
    int32_t id;
    uint8_t state;
    uint8_t reaped;
    uint8_t flags;                  /* CP_SPAWN_* (6 bits) */
    int32_t group;
    int32_t timeout_ms;
    pid_t pid;
    int status;                     /* exit code or -signal once reaped */
    cp__childio *io;                /* NULL until needed (start at latest) */
    struct cp__child *prev, *next;      /* r->children or group pending */
    struct cp__child *dead_next;        /* graveyard */
    /* the request: argv, env, cwd packed (kept until the child is freed) */
    int32_t argv_len, env_len, cwd_len; /* env_len < 0: inherit */
    char req[];
} cp__child;

typedef struct cp__ufd {
    int32_t id;
    int flags;                      /* CP_FD_* */
    int fd;                         /* the user's fd */
    int dupfd;                      /* our dup of it if it was watched twice */
    cp__watch w;
    cp__rstream rd;
    cp__wstream wr;
    struct cp__ufd *prev, *next;
    struct cp__ufd *dead_next;
} cp__ufd;

typedef struct cp__group {
    int32_t fanout;                 /* <= 0 unlimited */
    int32_t running;
    int32_t npending;
    uint8_t used;
    uint8_t queued;                 /* on r->refill */
    cp__child *phead, *ptail;       /* pending FIFO */
} cp__group;

/* ------------------------------------------------------------------ */
/* the reactor */

struct cp_reactor {
    const cp__backend *be;
    void *bs;                       /* backend state */
    int backend;
    int no_pidfd;                   /* CP_R_NO_PIDFD or pidfd_open missing */
    int32_t line_max;
    cp__watch wakew;                /* eventfd */

    cp__slots slots;
    cp__heap heap;

    cp__ready *ready;
    int32_t nready, ready_cap;
    int32_t nwatched;               /* watches registered with the backend */

    /* the sink of the current pass */
    int32_t *ev;
    int32_t ev_n, ev_cap;
    char *arena;
    int32_t arena_used, arena_cap;
    int in_pass;
    int more;                       /* the last pass left work behind */

    cp__child *children;            /* started, not yet ended */
    cp__ufd *ufds;
    cp__child *dead_children;       /* graveyard, freed after the pass */
    cp__ufd *dead_ufds;

    cp__group *groups;
    int32_t ngroups;                /* array size (used or not) */
    int32_t *refill;                /* groups to refill, FIFO, room for all */
    int32_t nrefill;

    pid_t *orphans;                 /* aborted children not reaped yet */
    int32_t norphans, orphans_cap;
    cp__timer orphan_timer;

    cp__timer **expired;            /* scratch for the timer phase */
    int32_t expired_cap;
    char **argvec;                  /* scratch for spawn argv/envp */
    int32_t argvec_cap;
    char *scratch;                  /* discard-mode reads */

    /* counters */
    int32_t nfds, nchildren, npending, ngroups_live;
    int64_t queued;
};

/* reactor.c */
int cp__watch_set(cp_reactor *r, cp__watch *w, uint32_t want);
void cp__watch_close(cp_reactor *r, cp__watch *w);   /* unwatch + close */
/* Append a record; the caller made sure of the room (cp__room). */
void cp__emit(cp_reactor *r, int type, int stream, int32_t id, int32_t a,
              int32_t b);
static inline int cp__room(const cp_reactor *r, int recs)
{
    return r->ev_n + recs <= r->ev_cap;
}

/* util.c */
int cp__grow(void **v, int32_t *cap, int32_t need, size_t elem);

/* stream.c */
void cp__rs_init(cp__rstream *s, int mode);
void cp__rs_fini(cp__rstream *s);
int cp__rs_set_mode(cp__rstream *s, int mode);
/* Read once from w and emit its records.  Returns 1 at end of file (the
 * EOF record is out; the caller closes), 0, or -1 when the sink has no room
 * (nothing done). */
int cp__rs_read(cp_reactor *r, cp__rstream *s, cp__watch *w, int32_t id,
                int stream);
/* Arena bytes cp__rs_flush() needs; then emit the unfinished line. */
int cp__rs_flush_need(const cp__rstream *s, int32_t line_max);
void cp__rs_flush(cp_reactor *r, cp__rstream *s, int32_t id, int stream);
void cp__ws_init(cp__wstream *s, int open);
void cp__ws_fini(cp_reactor *r, cp__wstream *s);   /* drop the queue */
/* Write what w takes.  Returns 1 when the write side closed (WCLOSED is
 * out; the caller closes the fd), 0, or -1 when the sink has no room. */
int cp__ws_write(cp_reactor *r, cp__wstream *s, cp__watch *w, int32_t id,
                 int stream);

/* child.c */
/* Start a child taken off its pending queue: 0 (START emitted) or 1
 * (failed, EMFILE included: SPAWNERR emitted, child freed). */
int cp__child_start(cp_reactor *r, cp__child *c);
int cp__child_event(cp_reactor *r, cp__watch *w, uint32_t ev);
int cp__child_timer(cp_reactor *r, cp__timer *t);
int cp__child_timer_need(const cp_reactor *r, const cp__timer *t);
/* Free a child and its io, taking its queued stdin data off r->queued. */
void cp__child_free(cp_reactor *r, cp__child *c);
/* The child's io, allocated on first use; NULL when out of memory. */
cp__childio *cp__child_io(cp__child *c);
void cp__children_close(cp_reactor *r);
void cp__orphans_reap(cp_reactor *r, int block);

/* fanout.c */
int cp__groups_init(cp_reactor *r);
void cp__groups_reset(cp_reactor *r);
void cp__group_release(cp_reactor *r, int32_t group);
void cp__group_refill_add(cp_reactor *r, int32_t group);
int cp__refill(cp_reactor *r);      /* -1 when out of room */
int cp__refill_ready(const cp_reactor *r);
void cp__pending_remove(cp_reactor *r, cp__child *c);
void cp__pending_drop_all(cp_reactor *r);

/* spawn.c */
typedef struct cp__spawn_out {
    pid_t pid;
    int in_fd, out_fd, err_fd;     /* parent ends, -1 when absent */
} cp__spawn_out;

int cp__spawn(char *const argv[], char *const envp[], const char *cwd,
              int flags, cp__spawn_out *out);

/* timer.c */
int cp__timers_expire(cp_reactor *r);   /* -1 when out of room */
void cp__timers_drop_all(cp_reactor *r);
int cp__timer_arm_ms(cp_reactor *r, cp__timer *t, int64_t ms);

/* userfd.c */
int cp__ufd_event(cp_reactor *r, cp__watch *w, uint32_t ev);
int cp__ufd_rewatch(cp_reactor *r, cp__watch *w);
void cp__ufd_destroy(cp_reactor *r, cp__ufd *u);
void cp__ufd_free(cp__ufd *u);
void cp__ufds_close(cp_reactor *r);

#endif /* CLUSTERPY_CP_INT_H */
