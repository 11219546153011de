/*
 * child.c - a child process from start to EXIT.
 *
 * Theory of operation
 * -------------------
 * A child leaves the fanout queue in cp__child_start() (START or SPAWNERR
 * record), then owns up to four watches: stdin (written only while it has
 * something to say), stdout, stderr and its pidfd.  It ends with one EXIT
 * record, emitted once both hold:
 *   - it was reaped (waitpid by pid, never -1: other children of the
 *     process are not ours to reap), and
 *   - every output stream is closed (EOF, or dropped by a timeout),
 * so that Python has every line before the exit status.  EXIT closes what
 * is left (stdin) and releases the fanout slot: the same pass starts the
 * next pending child (fanout.c).  The id is retired keeping it valid: until
 * the next cp_poll(), cp_child_status() and cp_abort() give the exit status
 * (CP_NOT_STARTED after SPAWNERR or an abort before the start), cp_kill()
 * says -ESRCH and writes -EPIPE, so that a handler of the batch that
 * reported the end still reaches it without searching the batch.
 *
 * Dispatch: the child's watches and timers carry this file's ops (pipes,
 * pidfd; timeout, waitpid backoff, orphan reaper), and its slot kind
 * (cp__child_kind) gives its streams to stream.c: the reactor's pass calls
 * in without knowing what a child is.
 *
 * Exit detection: the pidfd turns readable when the child exits.  Without
 * pidfds (CP_R_NO_PIDFD, or a kernel without pidfd_open), waitpid(WNOHANG)
 * is tried when the last output stream closes, then on a backoff timer.
 * No SIGCHLD handler is ever installed.  ECHILD (someone else reaped it, or
 * SIGCHLD is ignored) counts as exit status 0, as Python's subprocess does.
 *
 * Kills go to the process group (each child leads its own), so a command's
 * own children die with it.
 *
 * Aborts (cp_abort, cp_abort_many) emit no record: every child of the call
 * gets SIGKILL first, its streams are closed dropping data, then all are
 * reaped together, waiting at most CP__ABORT_WAIT_MS for the whole call
 * (not per child: a pidfd poll over all of them, or a short backoff without
 * pidfds); one that outlives that becomes an orphan, reaped out of sight
 * by a timer, its status -SIGKILL.
 *
 * Memory: a pending child is only its cp__child and packed request; its
 * watches, streams and timers (cp__childio) are allocated when it starts,
 * or earlier if Python writes to its stdin or sets a read mode.
 */
#include "cp_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CP__REAP_FIRST_MS 1
#define CP__REAP_MAX_MS 50
#define CP__ABORT_WAIT_MS 1000
#define CP__ORPHAN_MS 50

extern char **environ;

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int decode_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return -WTERMSIG(st);
    return 255;
}

/* waitpid(pid) without blocking (or blocking); 1 when reaped. */
static int reap(cp_reactor *r, cp__child *c, int block)
{
    if (c->reaped)
        return 1;
    int st = 0;
    pid_t p;
    do
        p = waitpid(c->pid, &st, block ? 0 : WNOHANG);
    while (p < 0 && errno == EINTR);
    if (p == 0)
        return 0;
    c->status = p < 0 ? 0 : decode_status(st);  /* p < 0: ECHILD */
    c->reaped = 1;
    r->nchildren--;
    cp__watch_close(r, &c->io->pidw);
    cp__heap_remove(&r->heap, &c->io->reap);
    return 1;
}

static void kill_group(cp__child *c, int sig)
{
    kill(-c->pid, sig);
    if (!c->reaped)
        kill(c->pid, sig);
}

/* Close everything the child still has open, dropping data. */
static void close_streams(cp_reactor *r, cp__child *c)
{
    for (int i = 0; i < 2; i++) {
        cp__watch_close(r, &c->io->outw[i]);
        cp__rs_fini(&c->io->out[i]);
    }
    cp__watch_close(r, &c->io->inw);
    cp__ws_fini(r, &c->io->in);
    cp__heap_remove(&r->heap, &c->io->timeout);
}

static int serve_pidfd(cp_reactor *r, cp__watch *w, uint32_t ev);
static int serve_out(cp_reactor *r, cp__watch *w, uint32_t ev);
static int serve_in(cp_reactor *r, cp__watch *w, uint32_t ev);
static void fire_timeout(cp_reactor *r, cp__timer *t);
static int need_timeout(const cp_reactor *r, const cp__timer *t);
static void fire_reap(cp_reactor *r, cp__timer *t);
static void fire_orphans(cp_reactor *r, cp__timer *t);

static const cp__watch_ops pidfd_ops = {serve_pidfd, NULL};
static const cp__watch_ops out_ops = {serve_out, NULL};
static const cp__watch_ops in_ops = {serve_in, NULL};
/* a timeout: lines of both streams, TIMEOUT, EXIT */
static const cp__timer_ops timeout_ops = {CP__WORK_RECS, need_timeout,
                                          fire_timeout};
static const cp__timer_ops reap_ops = {1, NULL, fire_reap};
static const cp__timer_ops orphan_ops = {0, NULL, fire_orphans};

static void watch_init(cp__watch *w, const cp__watch_ops *ops, int sub,
                       void *owner)
{
    w->fd = -1;
    w->ops = ops;
    w->sub = (uint8_t)sub;
    w->bidx = -1;
    w->owner = owner;
}

static void timer_init(cp__timer *t, const cp__timer_ops *ops, void *owner)
{
    t->hidx = -1;
    t->ops = ops;
    t->owner = owner;
}

static int read_mode(int flags, int raw, int discard)
{
    return (flags & raw) ? CP_MODE_RAW
         : (flags & discard) ? CP_MODE_DISCARD : CP_MODE_LINES;
}

cp__childio *cp__child_io(cp__child *c)
{
    if (c->io)
        return c->io;
    cp__childio *io = calloc(1, sizeof(*io));
    if (!io)
        return NULL;
    watch_init(&io->pidw, &pidfd_ops, 0, c);
    watch_init(&io->inw, &in_ops, 0, c);
    watch_init(&io->outw[0], &out_ops, CP_STDOUT, c);
    watch_init(&io->outw[1], &out_ops, CP_STDERR, c);
    cp__rs_init(&io->out[0], read_mode(c->flags, CP_SPAWN_OUT_RAW,
                                       CP_SPAWN_OUT_DISCARD));
    cp__rs_init(&io->out[1], read_mode(c->flags, CP_SPAWN_ERR_RAW,
                                       CP_SPAWN_ERR_DISCARD));
    cp__ws_init(&io->in, !(c->flags & CP_SPAWN_STDIN_NULL));
    timer_init(&io->timeout, &timeout_ops, c);
    timer_init(&io->reap, &reap_ops, c);
    c->io = io;
    return io;
}

void cp__child_free(cp_reactor *r, cp__child *c)
{
    if (c->io) {
        for (int i = 0; i < 2; i++)
            cp__rs_fini(&c->io->out[i]);
        cp__ws_fini(r, &c->io->in);     /* stdin data still queued */
        free(c->io);
    }
    free(c);
}

static void unlink_running(cp_reactor *r, cp__child *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        r->children = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Retire an ended child's id, keeping it valid until the next pass; drop
 * what the counters see (queued stdin data, line tails) now. */
static void retire(cp_reactor *r, cp__child *c, int status)
{
    c->state = CP__C_DEAD;
    c->status = status;
    if (c->io) {
        for (int i = 0; i < 2; i++)
            cp__rs_fini(&c->io->out[i]);
        cp__ws_fini(r, &c->io->in);
    }
    cp__slot_retire(&r->slots, c->id, 1);
}

/* The child is over for Python: release its fanout slot, retire its id. */
static void finish(cp_reactor *r, cp__child *c)
{
    unlink_running(r, c);
    cp__group_release(r, c->group);
    retire(r, c, c->status);
}

static int outputs_open(const cp__child *c)
{
    return c->io->outw[0].fd >= 0 || c->io->outw[1].fd >= 0;
}

/* Emit EXIT if both conditions hold; otherwise make sure reaping goes on. */
static void check_end(cp_reactor *r, cp__child *c)
{
    if (outputs_open(c))
        return;
    if (!c->reaped && !reap(r, c, 0)) {
        if (c->io->pidw.fd < 0 && c->io->reap.hidx < 0) {
            c->io->reap_delay_ms = CP__REAP_FIRST_MS;
            cp__timer_arm_ms(r, &c->io->reap, c->io->reap_delay_ms);
        }
        return;
    }
    close_streams(r, c);
    cp__emit(r, CP_EV_EXIT, 0, c->id, c->status, 0);
    finish(r, c);
}

/* Count NUL-terminated strings packed in [p, p + len). */
static int32_t count_strings(const char *p, int32_t len)
{
    int32_t n = 0;
    for (const char *e = p + len; p < e; p += strlen(p) + 1)
        n++;
    return n;
}

static char **fill_vector(char **v, char *p, int32_t len)
{
    for (char *e = p + len; p < e; p += strlen(p) + 1)
        *v++ = p;
    *v++ = NULL;
    return v;
}

static int open_watch(cp_reactor *r, cp__watch *w, int fd, uint32_t want)
{
    w->fd = fd;
    r->nfds++;
    return want ? cp__watch_set(r, w, want) : 0;
}

/* Register the started child's fds; -errno if the backend refused. */
static int attach(cp_reactor *r, cp__child *c, const cp__spawn_out *o)
{
    int rc = open_watch(r, &c->io->outw[0], o->out_fd, CP__IN);
    c->io->out[0].open = 1;
    if (o->err_fd >= 0) {
        int rc2 = open_watch(r, &c->io->outw[1], o->err_fd, CP__IN);
        c->io->out[1].open = 1;
        rc = rc ? rc : rc2;
    }
    if (o->in_fd >= 0) {
        int busy = c->io->in.q.head || c->io->in.eof;
        int rc2 = open_watch(r, &c->io->inw, o->in_fd, busy ? CP__OUT : 0);
        rc = rc ? rc : rc2;
    }
    if (!r->no_pidfd) {
        int pfd = pidfd_open_(c->pid);
        if (pfd >= 0) {
            int rc2 = open_watch(r, &c->io->pidw, pfd, CP__IN);
            rc = rc ? rc : rc2;
        } else if (errno == ENOSYS) {
            r->no_pidfd = 1;
        }
    }
    if (c->timeout_ms > 0) {
        int rc2 = cp__timer_arm_ms(r, &c->io->timeout, c->timeout_ms);
        rc = rc ? rc : rc2;
    }
    return rc;
}

int cp__child_start(cp_reactor *r, cp__child *c)
{
    int32_t nargv = count_strings(c->req, c->argv_len);
    int32_t nenv = c->env_len >= 0
        ? count_strings(c->req + c->argv_len, c->env_len) : 0;
    int rc = cp__grow((void **)&r->argvec, &r->argvec_cap, nargv + nenv + 2,
                      sizeof(char *));
    cp__spawn_out o = {0, -1, -1, -1};
    if (!rc && !cp__child_io(c))
        rc = -ENOMEM;
    if (!rc) {
        char **envp = fill_vector(r->argvec, c->req, c->argv_len);
        if (c->env_len >= 0)
            fill_vector(envp, c->req + c->argv_len, c->env_len);
        else
            envp = environ;
        const char *cwd = c->cwd_len >= 0
            ? c->req + c->argv_len + CP__MAX(c->env_len, 0) : NULL;
        rc = cp__spawn(r->argvec, envp, cwd, c->flags, &o);
    }
    if (!rc) {
        c->pid = o.pid;
        c->state = CP__C_RUNNING;
        r->nchildren++;
        c->next = r->children;
        if (r->children)
            r->children->prev = c;
        r->children = c;
        rc = attach(r, c, &o);
        if (!rc) {
            cp__emit(r, CP_EV_START, 0, c->id, c->pid, 0);
            return 0;
        }
        /* the backend refused an fd: undo the start, report the error */
        kill_group(c, SIGKILL);
        close_streams(r, c);
        reap(r, c, 1);
        unlink_running(r, c);
    }
    cp__emit(r, CP_EV_SPAWNERR, 0, c->id, -rc, 0);
    retire(r, c, CP_NOT_STARTED);
    return 1;
}

static int serve_pidfd(cp_reactor *r, cp__watch *w, uint32_t ev)
{
    cp__child *c = w->owner;
    (void)ev;
    if (!cp__room(r, CP__WORK_RECS))
        return -1;
    if (reap(r, c, 0))
        check_end(r, c);
    return 0;
}

static int serve_out(cp_reactor *r, cp__watch *w, uint32_t ev)
{
    cp__child *c = w->owner;
    (void)ev;
    if (!cp__room(r, CP__WORK_RECS))
        return -1;
    int rc = cp__rs_read(r, &c->io->out[w->sub - 1], w, c->id, w->sub);
    if (rc == 1) {
        cp__watch_close(r, w);
        cp__rs_fini(&c->io->out[w->sub - 1]);
        check_end(r, c);
    }
    return rc < 0 ? -1 : 0;
}

static int serve_in(cp_reactor *r, cp__watch *w, uint32_t ev)
{
    cp__child *c = w->owner;
    (void)ev;
    if (!cp__room(r, CP__WORK_RECS))
        return -1;
    int rc = cp__ws_write(r, &c->io->in, w, c->id, CP_STDIN);
    if (rc == 1)
        cp__watch_close(r, w);
    return rc < 0 ? -1 : 0;
}

/* The waitpid backoff (no pidfd). */
static void fire_reap(cp_reactor *r, cp__timer *t)
{
    cp__child *c = t->owner;
    if (c->state != CP__C_RUNNING)
        return;
    if (reap(r, c, 0)) {
        check_end(r, c);
    } else {
        c->io->reap_delay_ms = CP__MIN(c->io->reap_delay_ms * 2,
                                       CP__REAP_MAX_MS);
        cp__timer_arm_ms(r, &c->io->reap, c->io->reap_delay_ms);
    }
}

/* The timeout: kill, flush what was read, drop the rest. */
static void fire_timeout(cp_reactor *r, cp__timer *t)
{
    cp__child *c = t->owner;
    if (c->state != CP__C_RUNNING)
        return;
    kill_group(c, SIGKILL);
    for (int i = 0; i < 2; i++) {
        if (c->io->outw[i].fd >= 0) {
            cp__rs_flush(r, &c->io->out[i], c->id, i + 1);
            cp__watch_close(r, &c->io->outw[i]);
            cp__rs_fini(&c->io->out[i]);
        }
    }
    cp__watch_close(r, &c->io->inw);
    cp__ws_fini(r, &c->io->in);
    cp__emit(r, CP_EV_TIMEOUT, 0, c->id, 0, 0);
    check_end(r, c);
}

/* Arena bytes the timeout needs: the unfinished lines it flushes. */
static int need_timeout(const cp_reactor *r, const cp__timer *t)
{
    const cp__child *c = t->owner;
    if (c->state != CP__C_RUNNING)
        return 0;
    return cp__rs_flush_need(&c->io->out[0], r->line_max)
         + cp__rs_flush_need(&c->io->out[1], r->line_max);
}

static int orphan_add(cp_reactor *r, pid_t pid)
{
    int rc = cp__grow((void **)&r->orphans, &r->orphans_cap, r->norphans + 1,
                      sizeof(*r->orphans));
    if (rc < 0)
        return rc;
    r->orphans[r->norphans++] = pid;
    r->orphan_timer.ops = &orphan_ops;
    if (r->orphan_timer.hidx < 0)
        cp__timer_arm_ms(r, &r->orphan_timer, CP__ORPHAN_MS);
    return 0;
}

static void fire_orphans(cp_reactor *r, cp__timer *t)
{
    (void)t;
    cp__orphans_reap(r, 0);
}

void cp__orphans_reap(cp_reactor *r, int block)
{
    int32_t k = 0;
    for (int32_t i = 0; i < r->norphans; i++) {
        pid_t p;
        do
            p = waitpid(r->orphans[i], NULL, block ? 0 : WNOHANG);
        while (p < 0 && errno == EINTR);
        if (p == 0)
            r->orphans[k++] = r->orphans[i];
        else
            r->nchildren--;
    }
    r->norphans = k;
    if (k)
        cp__timer_arm_ms(r, &r->orphan_timer, CP__ORPHAN_MS);
    else
        cp__heap_remove(&r->heap, &r->orphan_timer);
}

void cp__children_close(cp_reactor *r)
{
    for (cp__child *c = r->children; c; c = c->next)
        kill_group(c, SIGKILL);     /* all first: they die in parallel */
    while (r->children) {
        cp__child *c = r->children;
        close_streams(r, c);
        reap(r, c, 1);
        finish(r, c);
    }
    cp__orphans_reap(r, 1);
}

int cp_kill(cp_reactor *r, int32_t id, int sig)
{
    cp__child *c = cp__slot_get(&r->slots, id, CP__K_CHILD, NULL);
    if (!c)
        return -ESTALE;
    if (c->state != CP__C_RUNNING)
        return -ESRCH;
    if (kill(-c->pid, sig) == 0)
        return 0;
    int err = errno;
    if (!c->reaped && kill(c->pid, sig) == 0)
        return 0;
    return -err;
}

int cp_child_status(cp_reactor *r, int32_t id, int32_t *status)
{
    cp__child *c = cp__slot_get(&r->slots, id, CP__K_CHILD, NULL);
    if (!c)
        return -ESTALE;
    if (c->state != CP__C_DEAD)
        return 0;
    if (status)
        *status = c->status;
    return 1;
}

/* ------------------------------------------------------------------ */
/* aborts: kill all, then reap all (see the top of the file) */

#define CP__ABORT_STACK 16      /* children handled without malloc */

/* Step one: SIGKILL, close the streams dropping data. */
static void abort_start(cp_reactor *r, cp__child *c)
{
    kill_group(c, SIGKILL);
    close_streams(r, c);
    cp__heap_remove(&r->heap, &c->io->reap);
    c->state = CP__C_DYING;
}

/* Step two: reap the n killed children of v together, waiting at most ms
 * for all of them.  v is reordered (the ones still unreaped first). */
static void reap_all(cp_reactor *r, cp__child **v, int32_t n, int ms)
{
    int64_t end = cp__now_ns() + (int64_t)ms * 1000000;
    struct pollfd stackpf[CP__ABORT_STACK];
    struct pollfd *pf = n <= CP__ABORT_STACK ? stackpf
                      : malloc((size_t)n * sizeof(*pf));
    int polled = 0;         /* pf[i] is v[i]'s pidfd, after a poll() */
    int nap_us = 100;
    int32_t left = n;
    for (;;) {
        int32_t k = 0;
        for (int32_t i = 0; i < left; i++) {
            /* only what the poll saw ready is worth a waitpid() */
            if ((polled && !pf[i].revents) || !reap(r, v[i], 0)) {
                cp__child *t = v[k];
                v[k++] = v[i];
                v[i] = t;
            }
        }
        left = k;
        polled = 0;
        int64_t wait_ns = end - cp__now_ns();
        if (!left || wait_ns <= 0)
            break;
        int pidfds = pf != NULL;
        for (int32_t i = 0; pidfds && i < left; i++) {
            pf[i].fd = v[i]->io->pidw.fd;
            pf[i].events = POLLIN;
            pf[i].revents = 0;
            pidfds = pf[i].fd >= 0;
        }
        if (pidfds) {
            if (poll(pf, (nfds_t)left, (int)(wait_ns / 1000000) + 1) > 0)
                polled = 1;
        } else {
            struct timespec ts = {0, (long)nap_us * 1000};
            nanosleep(&ts, NULL);
            nap_us = CP__MIN(nap_us * 2, 10000);
        }
    }
    if (pf != stackpf)
        free(pf);
}

/* Step three: reaped, or an orphan now (status -SIGKILL); over. */
static void abort_end(cp_reactor *r, cp__child *c)
{
    if (!c->reaped) {
        c->status = -SIGKILL;
        cp__watch_close(r, &c->io->pidw);
        if (orphan_add(r, c->pid) < 0)
            reap(r, c, 1);          /* no memory to remember it: wait */
    }
    finish(r, c);
}

int cp_abort_many(cp_reactor *r, const int32_t *ids, int32_t n,
                  int32_t *status_out)
{
    if (n < 0 || (n && !ids))
        return -EINVAL;
    int32_t nrun = 0, found = 0;
    for (int32_t i = 0; i < n; i++) {
        cp__child *c = cp__slot_get(&r->slots, ids[i], CP__K_CHILD, NULL);
        nrun += c && c->state == CP__C_RUNNING;
    }
    cp__child *stackv[CP__ABORT_STACK];
    cp__child **v = stackv;
    int32_t cap = CP__ABORT_STACK;
    if (nrun > cap && (v = malloc((size_t)nrun * sizeof(*v))) != NULL)
        cap = nrun;
    else if (!v)
        v = stackv;         /* out of memory: CP__ABORT_STACK at a time */
    for (int32_t i = 0; i < n;) {
        int32_t nv = 0;
        for (; i < n && nv < cap; i++) {
            cp__child *c = cp__slot_get(&r->slots, ids[i], CP__K_CHILD, NULL);
            if (!c)
                continue;
            found++;
            if (c->state == CP__C_PENDING) {
                cp__pending_remove(r, c);
                retire(r, c, CP_NOT_STARTED);
            } else if (c->state == CP__C_RUNNING) {
                abort_start(r, c);
                v[nv++] = c;
            }   /* DYING: named twice, already in v; DEAD: ended already */
        }
        reap_all(r, v, nv, CP__ABORT_WAIT_MS);
        for (int32_t j = 0; j < nv; j++)
            abort_end(r, v[j]);
    }
    if (v != stackv)
        free(v);
    for (int32_t i = 0; status_out && i < n; i++) {
        cp__child *c = cp__slot_get(&r->slots, ids[i], CP__K_CHILD, NULL);
        status_out[i] = c ? c->status : CP_NO_CHILD;
    }
    return found;
}

int cp_abort(cp_reactor *r, int32_t id, int32_t *status)
{
    if (!cp__slot_get(&r->slots, id, CP__K_CHILD, NULL))
        return -ESTALE;
    int32_t st;
    cp_abort_many(r, &id, 1, &st);
    if (status)
        *status = st;
    return 0;
}

/* ------------------------------------------------------------------ */
/* the child kind: its streams for stream.c, its memory once retired */

static int child_stream(cp_reactor *r, void *obj, int stream, cp__sref *ref,
                        int alloc)
{
    cp__child *c = obj;
    (void)r;
    if (stream != CP_STDIN && stream != CP_STDOUT
        && (stream != CP_STDERR || (c->flags & CP_SPAWN_STDERR_MERGE)))
        return -EINVAL;
    if (c->state == CP__C_DEAD || (!c->io && !alloc))
        return 1;
    cp__childio *io = cp__child_io(c);
    if (!io)
        return -ENOMEM;
    if (stream == CP_STDIN) {
        ref->ws = &io->in;
        ref->w = &io->inw;
    } else {
        ref->rs = &io->out[stream - 1];
    }
    return 0;
}

static void child_free_obj(cp_reactor *r, void *obj)
{
    cp__child_free(r, obj);
}

const cp__kind cp__child_kind = {child_stream, child_free_obj};
