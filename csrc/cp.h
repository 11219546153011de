/*
 * cp.h - the one public header of clusterpy's C reactor.
 *
 * Theory of operation
 * -------------------
 * A cp_reactor owns every resource it hands out: child processes, the pipes
 * to them, user fds registered with it, timers and a wake-up eventfd.  Python
 * (clusterpy/_reactor.py) never sees an fd or a pointer from it, only integer
 * ids, and never receives a callback: once per loop pass it calls cp_poll(),
 * which waits, does all per-node work in C (reads, line splitting, writes,
 * fanout refill, timer expiry, reaping) and fills two caller-owned buffers:
 * an array of fixed-size event records and a byte arena holding line data.
 * Both stay valid until the next cp_poll() call.
 *
 * Conventions
 * - Functions return >= 0 on success or -errno; nobody reads errno.
 * - Ids are int32 > 0: (generation << 20) | slot index.  An id whose slot was
 *   freed or reused is stale; calls with a stale id return -ESTALE and events
 *   for it are never produced.  0 is never a valid id.
 * - A child's id outlives its end until the next cp_poll() call: after its
 *   EXIT or SPAWNERR record, or cp_abort()/cp_abort_many(), and until the
 *   next pass starts, cp_child_status() and cp_abort() give its status,
 *   cp_kill() returns -ESRCH, writes -EPIPE; no event comes for it.  So a
 *   handler of the batch that reported the end, or of a later record of
 *   it, can still ask.  Then the id is stale.  (Other ids end at once.)
 * - Time is CLOCK_MONOTONIC.
 * - Only cp_wake() may be called from a thread other than the owner's.
 *
 * The cffi cdef is the text between the CDEF-BEGIN and CDEF-END markers, with
 * preprocessor lines removed, so the compiler checks cdef and code against
 * each other.  Keep that part to plain declarations and enums with literal
 * values.
 */
#ifndef CLUSTERPY_CP_H
#define CLUSTERPY_CP_H

#include <stdint.h>

/* CDEF-BEGIN */

typedef struct cp_reactor cp_reactor;

/* cp_reactor_new() backends and flags */
enum {
    CP_BACKEND_EPOLL = 0,
    CP_BACKEND_POLL = 1,

    CP_R_NO_PIDFD = 1          /* force the waitpid(pid, WNOHANG) exit path */
};

/* Streams of a child.  User fd slots use stream 0 in their events. */
enum {
    CP_STDIN = 0,
    CP_STDOUT = 1,
    CP_STDERR = 2
};

/*
 * Event records: CP_REC_WORDS int32 words each, {kind, id, a, b}, where
 * kind = type | (stream << 8).
 *
 *  CP_EV_LINES    a = arena offset, b = length.  One or more complete lines
 *                 of one stream, joined by '\n' without a trailing one, so
 *                 that arena[a:a+b].split(b"\n") gives the lines (b == 0 is
 *                 one empty line).  Lines split on '\n'; one '\r' before the
 *                 '\n' is trimmed; a bare '\r' stays.  A final line without
 *                 '\n' is delivered at EOF; a line longer than the reactor's
 *                 line_max is delivered in line_max pieces.
 *  CP_EV_DATA     a = arena offset, b = length: a raw chunk (raw mode).
 *  CP_EV_EOF      the read side of the stream reached end of file (C has
 *                 closed it); a = lines seen on it (saturating), b = 0.
 *  CP_EV_WRITTEN  a = bytes written from the stream's queue since the last
 *                 record for it, b = bytes still queued (saturating).  At
 *                 most one per stream per pass.
 *  CP_EV_WCLOSED  the write side is closed: after cp_write_eof() drained the
 *                 queue (a = 0), or the reader went away (a = EPIPE or
 *                 another errno; queued data was dropped).  b = 0.
 *  CP_EV_START    a child left the fanout queue and runs: a = pid.
 *  CP_EV_SPAWNERR a child could not be started: a = errno (ENOENT, EACCES,
 *                 ...).  No other event follows; the id ends with it (its
 *                 status is CP_NOT_STARTED until the next cp_poll()).
 *  CP_EV_TIMEOUT  the child's timeout expired: its process group got
 *                 SIGKILL, its partial lines were flushed, its read streams
 *                 closed without EOF records.  CP_EV_EXIT follows.
 *  CP_EV_EXIT     the child was reaped and all its output streams are closed
 *                 (every LINES/DATA/EOF record for it came before):
 *                 a = exit code (0-255), or -signal number when a signal
 *                 killed it (0 if someone else reaped it: ECHILD, as
 *                 Python's subprocess does).  Its stdin, if still open, is
 *                 closed without a record.  The id ends with it (valid,
 *                 with its status, until the next cp_poll()).
 *  CP_EV_TIMER    a timer fired; a = 1 if it repeats (still armed), else 0
 *                 (a one-shot timer's id is stale after it).
 *  CP_EV_WAKE     cp_wake() was called (coalesced: one record per pass);
 *                 id = 0.
 */
enum {
    CP_REC_WORDS = 4,

    CP_EV_LINES = 1,
    CP_EV_DATA = 2,
    CP_EV_EOF = 3,
    CP_EV_WRITTEN = 4,
    CP_EV_WCLOSED = 5,
    CP_EV_START = 6,
    CP_EV_SPAWNERR = 7,
    CP_EV_TIMEOUT = 8,
    CP_EV_EXIT = 9,
    CP_EV_TIMER = 10,
    CP_EV_WAKE = 11
};

/*
 * Spawn requests go in as one batch: an int32 array of CP_SQ_WORDS words per
 * request and one byte blob that the offsets point into.  The reactor copies
 * what it keeps; the caller's buffers are only read during the call.
 *
 *  ARGV_OFF/ARGV_LEN  argv strings, each NUL-terminated, packed end to end
 *                     (b"\0".join(args) + b"\0"); argv[0] is looked up in
 *                     PATH like execvp.
 *  ENV_OFF/ENV_LEN    "K=V" strings packed the same way; ENV_LEN < 0 means
 *                     inherit the reactor's process environment.
 *  CWD_OFF            offset of a NUL-terminated directory, < 0 to inherit.
 *  FLAGS              CP_SPAWN_* below.
 *  GROUP              fanout group (0 = the default group).
 *  TIMEOUT_MS         kill after this long once started; <= 0 means none.
 */
enum {
    CP_SQ_ARGV_OFF = 0,
    CP_SQ_ARGV_LEN = 1,
    CP_SQ_ENV_OFF = 2,
    CP_SQ_ENV_LEN = 3,
    CP_SQ_CWD_OFF = 4,
    CP_SQ_FLAGS = 5,
    CP_SQ_GROUP = 6,
    CP_SQ_TIMEOUT_MS = 7,
    CP_SQ_WORDS = 8
};

enum {
    CP_SPAWN_STDERR_MERGE = 1,   /* stderr goes into the stdout pipe */
    CP_SPAWN_STDIN_NULL = 2,     /* stdin is /dev/null: no stdin pipe */
    CP_SPAWN_OUT_RAW = 4,        /* stdout: DATA records instead of LINES */
    CP_SPAWN_OUT_DISCARD = 8,    /* stdout: read, count lines, emit nothing */
    CP_SPAWN_ERR_RAW = 16,
    CP_SPAWN_ERR_DISCARD = 32
};

/* Read modes, for cp_stream_mode() */
enum {
    CP_MODE_LINES = 0,
    CP_MODE_RAW = 1,
    CP_MODE_DISCARD = 2
};

/* cp_fd_add() flags */
enum {
    CP_FD_READ = 1,
    CP_FD_WRITE = 2,
    CP_FD_RAW = 4,               /* read side delivers DATA records */
    CP_FD_DISCARD = 8,           /* read side counts lines only */
    CP_FD_CLOSE = 16             /* the reactor closes the fd when done */
};

/* Child statuses besides exit codes (0-255) and -signal numbers */
enum {
    CP_NOT_STARTED = -1000,     /* never ran: aborted pending, or SPAWNERR */
    CP_NO_CHILD = -1001         /* cp_abort_many(): a stale id, not a child */
};

struct cp_counters {
    int32_t slots;        /* live ids of any kind (not counting ended
                             children kept until the next cp_poll()) */
    int32_t fds;          /* fds owned or watched (pipes, pidfds, user fds) */
    int32_t children;     /* started and not yet reaped */
    int32_t pending;      /* spawn requests waiting for fanout room */
    int32_t timers;       /* armed timers, child timeouts included */
    int32_t groups;       /* fanout groups besides the default one */
    int64_t queued;       /* bytes waiting in write queues */
};

/* Create a reactor; *out is set on success. */
int cp_reactor_new(cp_reactor **out, int backend, int flags);
/* Kill (SIGKILL to each process group) and reap every child, close every fd,
 * drop timers and pending requests.  Idempotent; the reactor stays usable as
 * an empty one. */
void cp_reactor_close(cp_reactor *r);
/* cp_reactor_close() then free the memory.  r may be NULL. */
void cp_reactor_free(cp_reactor *r);
/* Which backend runs (CP_BACKEND_*). */
int cp_reactor_backend(cp_reactor *r);

/* Longest line delivered whole (default 1 MiB, at least 64). */
int cp_set_line_max(cp_reactor *r, int32_t line_max);

/* Fanout groups: at most `fanout` children of a group run at once (<= 0:
 * unlimited).  Group 0 always exists (default fanout 64).  cp_group_free()
 * returns -EBUSY while the group has running or pending children. */
int cp_group_new(cp_reactor *r, int32_t fanout);
int cp_group_set_fanout(cp_reactor *r, int32_t group, int32_t fanout);
int cp_group_free(cp_reactor *r, int32_t group);

/* Queue n spawn requests (see CP_SQ_*); ids_out receives their n ids.
 * Returns n or -errno; on error nothing was queued. */
int cp_spawn_batch(cp_reactor *r, const int32_t *desc, int32_t n,
                   const char *blob, int64_t blob_len, int32_t *ids_out);

/* Signal a running child's process group.  -ESRCH if it is not running. */
int cp_kill(cp_reactor *r, int32_t id, int sig);

/* End a child now: drop it if still pending, else SIGKILL its process group,
 * close its streams dropping unread and unwritten data, and reap it (waiting
 * at most about one second; a child that outlives that is reaped later, out
 * of sight, its status -SIGKILL).  *status receives the exit code, -signal,
 * or CP_NOT_STARTED.  No further event is produced for the id.  A child
 * that already ended (EXIT, SPAWNERR or an abort since the last cp_poll())
 * gives its status again: 0, nothing done. */
int cp_abort(cp_reactor *r, int32_t id, int32_t *status);
/* cp_abort() of n children at once: SIGKILL to every process group first,
 * streams closed, then all reaped together, waiting at most about one
 * second for the whole call, whatever n.  No records.  status_out (NULL or
 * room for n) receives what cp_abort() would give for each id, CP_NO_CHILD
 * for a stale one.  Returns the number of ids that named a child, or
 * -EINVAL. */
int cp_abort_many(cp_reactor *r, const int32_t *ids, int32_t n,
                  int32_t *status_out);
/* Has the child ended?  1 with *status set (as cp_abort() gives it) when
 * its EXIT or SPAWNERR record came or it was aborted, since the last
 * cp_poll() at most (see the id rules above); 0 while pending or running
 * (*status untouched); -ESTALE. */
int cp_child_status(cp_reactor *r, int32_t id, int32_t *status);

/* Change how a child's output stream (or a user fd's read side) is read.
 * Leaving DISCARD mode mid-line delivers only the rest of that line. */
int cp_stream_mode(cp_reactor *r, int32_t id, int stream, int mode);

/* Take the unfinished last line of a read stream in lines mode (the bytes
 * after its last '\n', untrimmed) into out, leaving it empty: what a caller
 * about to drop the stream still wants to deliver.  Returns its length (0 if
 * none, or in raw or discard mode), -ENOSPC if cap is too small (nothing
 * taken), -EINVAL for a stream that is not read. */
int cp_stream_partial(cp_reactor *r, int32_t id, int stream, char *out,
                      int32_t cap);

/* Queue data for a child's stdin or a user fd's write side; allowed while
 * the child is still pending.  The data is copied.  Writing happens inside
 * cp_poll().  -EPIPE if that write side is closed, has EOF requested, or
 * does not exist (CP_SPAWN_STDIN_NULL); -EINVAL for a stream that is not
 * written (a child's stdout, a user fd without CP_FD_WRITE). */
int cp_write(cp_reactor *r, int32_t id, int stream, const char *data,
             int64_t len);
/* The same data queued for n ids, stored once.  Stale ids are skipped.
 * Returns the number of ids it was queued for. */
int cp_write_many(cp_reactor *r, const int32_t *ids, int32_t n, int stream,
                  const char *data, int64_t len);
/* Close the write side once its queue has drained (CP_EV_WCLOSED follows). */
int cp_write_eof(cp_reactor *r, int32_t id, int stream);

/* Watch a user fd (made non-blocking).  The slot ends by itself, after its
 * last EOF/WCLOSED record, once each side it watches is closed. */
int cp_fd_add(cp_reactor *r, int fd, int flags);
/* Stop watching now (closing the fd if CP_FD_CLOSE); no further event. */
int cp_fd_remove(cp_reactor *r, int32_t id);

/* Timers: delay and interval in seconds; interval <= 0 means one-shot.
 * Equal deadlines fire in the order they were armed.  A repeating timer's
 * next deadline is its previous one plus the interval; a timer fires at
 * most once per cp_poll() (a late one catches up one interval per pass).
 * cp_timer_set() re-arms an armed timer (a fired one-shot's id is stale);
 * cp_timer_cancel() ends the id. */
int cp_timer_add(cp_reactor *r, double delay, double interval);
/* n timers at once: spec holds (delay, interval) pairs; ids_out receives
 * their n ids.  Returns n, or -errno with none of them armed. */
int cp_timer_add_many(cp_reactor *r, const double *spec, int32_t n,
                      int32_t *ids_out);
int cp_timer_set(cp_reactor *r, int32_t id, double delay, double interval);
int cp_timer_cancel(cp_reactor *r, int32_t id);

/* Thread-safe: make the current or next cp_poll() return a CP_EV_WAKE. */
int cp_wake(cp_reactor *r);

/* One loop pass.  Waits up to timeout_ms (-1: no limit, 0: do not block)
 * unless work is already at hand, then fills ev (room for ev_cap records,
 * at least 4) and arena (arena_cap bytes, at least line_max + 64: -EINVAL
 * otherwise) and sets *arena_used.
 * Returns the number of records, 0 on timeout, -EINTR when a signal
 * interrupted the wait (call again after Python ran its handlers), or
 * another -errno.  Work that does not fit stays queued for the next call,
 * which then does not block. */
int cp_poll(cp_reactor *r, int timeout_ms, int32_t *ev, int32_t ev_cap,
            char *arena, int32_t arena_cap, int32_t *arena_used);

/*
 * For a caller running the reactor from another event loop (asyncio): a
 * descriptor that polls readable whenever a watch of the reactor is ready
 * (cp_poll() with timeout 0 then has work), and when the next pass is due
 * without it.  The descriptor is the reactor's own (epoll set; the poll
 * backend keeps an epoll mirror of its set, made on first call) and lives
 * until cp_reactor_free(); do not close it.  Returns it or -errno.
 */
int cp_reactor_fd(cp_reactor *r);
/* When the next cp_poll() is due regardless of that descriptor: 0 if now
 * (work left over by the last pass, a fanout refill, an fd that cannot be
 * waited on), else the CLOCK_MONOTONIC deadline in ns of the next timer,
 * or -1 if only readiness can bring work. */
int64_t cp_poll_due(cp_reactor *r);

void cp_get_counters(cp_reactor *r, struct cp_counters *out);

/* CDEF-END */

#endif /* CLUSTERPY_CP_H */
