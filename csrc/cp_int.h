/*
 * cp_int.h - internal structures of the reactor, shared by csrc/ files only.
 *
 * Theory of operation
 * -------------------
 * Every object the reactor hands out (child, user fd, timer) sits in a slot
 * (slots.c) and is named by an id carrying the slot's generation.  Every fd
 * the reactor waits on is a cp__watch: the fd, what it wants (CP__IN,
 * CP__OUT), a back pointer to its owner and the owner's cp__watch_ops.  The
 * backends (backend_*.c) only know watches; reactor.c hands a ready watch
 * to its ops->serve, and timer.c a due timer to its ops->fire, without
 * knowing what the owner is.  What a slot holds is told by its kind; the
 * table of kinds (reactor.c) gives the functions that reach an object's
 * streams (cp_write & co, stream.c) and free its memory.  So dispatch is C
 * calling C through pointers set by each owner: child.c, userfd.c and
 * timer.c own their objects, watches and timers; reactor.c, timer.c and
 * stream.c never look inside them.
 *
 * One cp_poll() call is a "pass".  During a pass the records go into the
 * sink (r->ev / r->arena).  Work is done only when the sink has room for
 * every record that piece of work may produce (CP__WORK_RECS), so no record
 * is ever produced and then held back: work that does not fit is simply
 * left for the next pass (level-triggered readiness brings it back).
 * Objects that end (a child's EXIT, an abort, a user fd's last record) are
 * unlinked at once (their fds are closed, watch->fd = -1) but their slot is
 * only retired (cp__slot_retire): the memory is freed at the start of the
 * next cp_poll(), because the ready array may still point into it, and a
 * child's id stays valid until then, with its exit status, for Python
 * handling the batch that reported its end.
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

enum { CP__K_FREE = 0, CP__K_CHILD, CP__K_FD, CP__K_TIMER, CP__K_COUNT };

typedef struct cp__slot {
    void *obj;
    int32_t next_free;      /* free- or retire-list link (index), -1 at the end */
    uint16_t gen;
    uint8_t kind;
    uint8_t retired;        /* CP__R_*: on the retire list */
} cp__slot;

enum { CP__R_NO = 0, CP__R_KEEP_ID, CP__R_STALE };

typedef struct cp__slots {
    cp__slot *v;
    int32_t size, cap;
    int32_t free_head, free_tail, nfree;
    int32_t retire_head;    /* retired slots, freed by cp__slots_flush() */
    int32_t live;           /* allocated and not retired */
} cp__slots;

void cp__slots_init(cp__slots *s);
void cp__slots_fini(cp__slots *s);
int32_t cp__slot_alloc(cp__slots *s, int kind, void *obj);  /* id or -errno */
/* Free the slot now (its object is the caller's to free). */
void cp__slot_free(cp__slots *s, int32_t id);
/* The object of a live id of that kind (0: any kind, *kind_out set if not
 * NULL), else NULL.  A retired id is still found if retired keeping it. */
void *cp__slot_get(const cp__slots *s, int32_t id, int kind, int *kind_out);
/* Retire the slot: its object's memory stays and the slot is not reused
 * until cp__slots_flush(); with keep_id the id stays valid until then,
 * else it is stale now.  No longer counted as live either way. */
void cp__slot_retire(cp__slots *s, int32_t id, int keep_id);
/* Free every retired slot, handing each object to free_obj(ctx, kind, obj). */
void cp__slots_flush(cp__slots *s, void (*free_obj)(void *, int, void *),
                     void *ctx);

/* ------------------------------------------------------------------ */
/* heap.c: timer min-heap ordered by (deadline, seq) */

typedef struct cp__timer cp__timer;

/* What a timer does when due, set by its owner (timer.c for user timers,
 * child.c for timeouts, waitpid backoffs and the orphan reaper). */
typedef struct cp__timer_ops {
    int recs;               /* records fire() may emit */
    /* arena bytes fire() may use (NULL: none) */
    int (*need)(const cp_reactor *r, const cp__timer *t);
    /* the timer was taken off the heap: do its work (it may re-arm) */
    void (*fire)(cp_reactor *r, cp__timer *t);
} cp__timer_ops;

struct cp__timer {
    int64_t deadline;       /* CLOCK_MONOTONIC ns */
    uint64_t seq;           /* arming order: FIFO among equal deadlines */
    int64_t interval;       /* ns, 0 = one-shot */
    int32_t hidx;           /* index in the heap, -1 when not armed */
    int32_t id;             /* user timers: the slot id */
    const cp__timer_ops *ops;
    void *owner;            /* the owner's object (a child for its timers) */
};

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

typedef struct cp__watch cp__watch;

/* What a ready watch does, set by its owner (reactor.c for the wake-up
 * eventfd, child.c for a child's pipes and pidfd, userfd.c for user fds). */
typedef struct cp__watch_ops {
    /* Serve readiness ev (CP__IN | CP__OUT): 0, or -1 when the sink has no
     * room (nothing done; the pass stops and the next one comes back). */
    int (*serve)(cp_reactor *r, cp__watch *w, uint32_t ev);
    /* The backend refused the fd with -EEXIST (watched by another watch):
     * watch something else or fail (NULL: fail). */
    int (*rewatch)(cp_reactor *r, cp__watch *w);
} cp__watch_ops;

struct cp__watch {
    int fd;
    uint8_t sub;            /* owner's use (a child's output: stream 1 or 2) */
    uint8_t always;         /* backend cannot wait on it: always ready */
    uint8_t reg;            /* registered with the backend */
    uint32_t want;          /* CP__IN | CP__OUT, 0 = not watched */
    uint32_t have;          /* what the backend was last told */
    int32_t bidx;           /* backend-private index */
    const cp__watch_ops *ops;
    void *owner;
};

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

/* DYING: killed by cp_abort_many(), being reaped; DEAD: ended, its id kept
 * until the next pass (status set) */
enum { CP__C_PENDING = 1, CP__C_RUNNING, CP__C_DYING, CP__C_DEAD };

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
    int status;                     /* exit code or -signal once reaped,
                                       CP_NOT_STARTED if it never ran */
    cp__childio *io;                /* NULL until needed (start at latest) */
    struct cp__child *prev, *next;      /* r->children or group pending */
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
    int more;                       /* the last pass left work behind */

    cp__child *children;            /* started, not yet ended */
    cp__ufd *ufds;

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

/* kinds of slot objects: what generic code may do with one */
typedef struct cp__sref {          /* a stream of an object, resolved */
    cp__rstream *rs;                /* its read side, or NULL */
    cp__wstream *ws;                /* its write side, or NULL */
    cp__watch *w;                   /* the watch of the write side */
} cp__sref;

typedef struct cp__kind {
    /* Resolve stream `stream` of obj for cp_write & co (stream.c): 0 (ref
     * filled), 1 when the id is valid but the stream has nothing and takes
     * nothing (an ended child, or a pending one's untouched streams when
     * alloc is 0), or -errno (-EINVAL for a stream it does not have).
     * NULL: the kind has no streams (-ESTALE). */
    int (*stream)(cp_reactor *r, void *obj, int stream, cp__sref *ref,
                  int alloc);
    /* Free a retired object (cp__slots_flush()); NULL: never retired. */
    void (*free)(cp_reactor *r, void *obj);
} cp__kind;

extern const cp__kind cp__child_kind;      /* child.c */
extern const cp__kind cp__ufd_kind;        /* userfd.c */
extern const cp__kind cp__timer_kind;      /* timer.c */
/* reactor.c: the kind of each CP__K_* */
const cp__kind *cp__kind_of(int kind);
/* reactor.c: free the retired slots (start of a pass, close) */
void cp__retired_flush(cp_reactor *r);

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
 * (failed, EMFILE included: SPAWNERR emitted, id retired). */
int cp__child_start(cp_reactor *r, cp__child *c);
/* Free a child and its io now, taking its queued stdin data off r->queued
 * (the caller freed or retires its slot). */
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
void cp__ufds_close(cp_reactor *r);

#endif /* CLUSTERPY_CP_INT_H */
