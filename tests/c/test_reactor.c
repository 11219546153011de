/*
 * The reactor through its public API (cp.h), with real processes, on both
 * backends and on both exit-detection paths (pidfd, waitpid).
 */
#define _GNU_SOURCE
#include "../../csrc/cp.h"
#include "check.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EVCAP 256
#define ARENA ((1 << 20) + 4096)

/* ------------------------------------------------------------------ */
/* collecting records */

typedef struct rec {
    int type, stream;
    int32_t id, a, b;
    char *data;             /* LINES/DATA payload, NUL-terminated */
} rec;

typedef struct recs {
    rec *v;
    int n, cap;
} recs;

static int32_t evbuf[EVCAP * CP_REC_WORDS];
static char arena[ARENA];
static int backend, rflags;

static void recs_free(recs *rs)
{
    for (int i = 0; i < rs->n; i++)
        free(rs->v[i].data);
    free(rs->v);
    rs->v = NULL;
    rs->n = rs->cap = 0;
}

/* One cp_poll() with room for ev_cap records; returns its result. */
static int pump_cap(cp_reactor *r, recs *rs, int timeout_ms, int ev_cap)
{
    int32_t used = -1;
    int n = cp_poll(r, timeout_ms, evbuf, ev_cap, arena, ARENA, &used);
    for (int i = 0; i < n; i++) {
        int32_t *e = evbuf + i * CP_REC_WORDS;
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? rs->cap * 2 : 64;
            rs->v = realloc(rs->v, (size_t)rs->cap * sizeof(rec));
        }
        rec *x = &rs->v[rs->n++];
        x->type = e[0] & 0xff;
        x->stream = e[0] >> 8;
        x->id = e[1];
        x->a = e[2];
        x->b = e[3];
        x->data = NULL;
        if (x->type == CP_EV_LINES || x->type == CP_EV_DATA) {
            CHECK(x->a >= 0 && x->b >= 0 && x->a + x->b <= used);
            x->data = malloc((size_t)x->b + 1);
            memcpy(x->data, arena + x->a, (size_t)x->b);
            x->data[x->b] = 0;
        }
    }
    return n;
}

static int pump(cp_reactor *r, recs *rs, int timeout_ms)
{
    return pump_cap(r, rs, timeout_ms, EVCAP);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_type(const recs *rs, int type, int32_t id)
{
    int k = 0;
    for (int i = 0; i < rs->n; i++)
        k += rs->v[i].type == type && (!id || rs->v[i].id == id);
    return k;
}

static const rec *find(const recs *rs, int type, int32_t id)
{
    for (int i = 0; i < rs->n; i++)
        if (rs->v[i].type == type && rs->v[i].id == id)
            return &rs->v[i];
    return NULL;
}

/* Pump until `n` records of `type` arrived (or ms passed). */
static void run_until(cp_reactor *r, recs *rs, int type, int n, int ms)
{
    int64_t end = now_ms() + ms;
    while (count_type(rs, type, 0) < n && now_ms() < end)
        pump(r, rs, 50);
}

static int all_zero(cp_reactor *r)
{
    struct cp_counters c;
    cp_get_counters(r, &c);
    int ok = !c.slots && !c.fds && !c.children && !c.pending && !c.timers
          && !c.groups && !c.queued;
    if (!ok)
        fprintf(stderr, "counters: slots %d fds %d children %d pending %d "
                "timers %d groups %d queued %lld\n", c.slots, c.fds,
                c.children, c.pending, c.timers, c.groups,
                (long long)c.queued);
    return ok;
}

static cp_reactor *new_reactor(void)
{
    cp_reactor *r = NULL;
    CHECK_EQ(cp_reactor_new(&r, backend, rflags), 0);
    CHECK_EQ(cp_reactor_backend(r), backend);
    CHECK(all_zero(r));
    return r;
}

static void end_reactor(cp_reactor *r)
{
    CHECK(all_zero(r));
    cp_reactor_free(r);
}

/* ------------------------------------------------------------------ */
/* building spawn requests */

typedef struct req {
    const char *argv[8];
    const char *env[4];     /* NULL first entry + use_env = 0: inherit */
    int use_env;
    const char *cwd;
    int flags, group, timeout_ms;
} req;

static int spawn_n(cp_reactor *r, const req *q, int n, int32_t *ids)
{
    int32_t *desc = calloc((size_t)n * CP_SQ_WORDS, sizeof(int32_t));
    char *blob = malloc(4096 * (size_t)n);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        int32_t *d = desc + i * CP_SQ_WORDS;
        d[CP_SQ_ARGV_OFF] = (int32_t)off;
        for (int k = 0; q[i].argv[k]; k++) {
            size_t l = strlen(q[i].argv[k]) + 1;
            memcpy(blob + off, q[i].argv[k], l);
            off += (int64_t)l;
        }
        d[CP_SQ_ARGV_LEN] = (int32_t)(off - d[CP_SQ_ARGV_OFF]);
        d[CP_SQ_ENV_OFF] = (int32_t)off;
        if (q[i].use_env) {
            for (int k = 0; q[i].env[k]; k++) {
                size_t l = strlen(q[i].env[k]) + 1;
                memcpy(blob + off, q[i].env[k], l);
                off += (int64_t)l;
            }
            d[CP_SQ_ENV_LEN] = (int32_t)(off - d[CP_SQ_ENV_OFF]);
        } else {
            d[CP_SQ_ENV_LEN] = -1;
        }
        d[CP_SQ_CWD_OFF] = -1;
        if (q[i].cwd) {
            d[CP_SQ_CWD_OFF] = (int32_t)off;
            size_t l = strlen(q[i].cwd) + 1;
            memcpy(blob + off, q[i].cwd, l);
            off += (int64_t)l;
        }
        d[CP_SQ_FLAGS] = q[i].flags;
        d[CP_SQ_GROUP] = q[i].group;
        d[CP_SQ_TIMEOUT_MS] = q[i].timeout_ms;
    }
    int rc = cp_spawn_batch(r, desc, n, blob, off, ids);
    free(desc);
    free(blob);
    return rc;
}

static int32_t spawn1(cp_reactor *r, req q)
{
    int32_t id = 0;
    CHECK_EQ(spawn_n(r, &q, 1, &id), 1);
    return id;
}

#define SH(script) {"/bin/sh", "-c", script, NULL}

/* Lines of one stream of one id, concatenated with '\n' after each. */
static char *lines_of(const recs *rs, int32_t id, int stream)
{
    size_t len = 0;
    for (int i = 0; i < rs->n; i++)
        if (rs->v[i].type == CP_EV_LINES && rs->v[i].id == id
            && rs->v[i].stream == stream)
            len += (size_t)rs->v[i].b + 1;
    char *s = malloc(len + 1), *p = s;
    for (int i = 0; i < rs->n; i++)
        if (rs->v[i].type == CP_EV_LINES && rs->v[i].id == id
            && rs->v[i].stream == stream) {
            memcpy(p, rs->v[i].data, (size_t)rs->v[i].b);
            p += rs->v[i].b;
            *p++ = '\n';
        }
    *p = 0;
    return s;
}

/* ------------------------------------------------------------------ */
/* tests */

static void test_spawn_errors(void)
{
    cp_reactor *r = new_reactor();
    char path[] = "/tmp/cp_test_noexecXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    chmod(path, 0644);
    req q[3] = {
        {.argv = {"/nonexistent/binary", NULL}},
        {.argv = {"cp-no-such-command-anywhere", NULL}},
        {.argv = {path, NULL}},
    };
    int32_t ids[3];
    CHECK_EQ(spawn_n(r, q, 3, ids), 3);
    recs rs = {0};
    run_until(r, &rs, CP_EV_SPAWNERR, 3, 5000);
    CHECK_EQ(find(&rs, CP_EV_SPAWNERR, ids[0])->a, ENOENT);
    CHECK_EQ(find(&rs, CP_EV_SPAWNERR, ids[1])->a, ENOENT);
    CHECK_EQ(find(&rs, CP_EV_SPAWNERR, ids[2])->a, EACCES);
    CHECK_EQ(count_type(&rs, CP_EV_START, 0), 0);
    /* valid until the next pass, then stale */
    int32_t st = 0;
    CHECK_EQ(cp_child_status(r, ids[0], &st), 1);
    CHECK_EQ(st, CP_NOT_STARTED);
    CHECK_EQ(cp_kill(r, ids[0], SIGTERM), -ESRCH);
    pump(r, &rs, 0);
    CHECK_EQ(cp_kill(r, ids[0], SIGTERM), -ESTALE);
    CHECK_EQ(cp_child_status(r, ids[0], &st), -ESTALE);
    unlink(path);
    /* a malformed batch queues nothing */
    int32_t bad[CP_SQ_WORDS] = {0, 5, 0, -1, -1, 0, 0, 0};
    int32_t id;
    CHECK_EQ(cp_spawn_batch(r, bad, 1, "true", 4, &id), -EINVAL);
    bad[CP_SQ_ARGV_LEN] = 5;
    bad[CP_SQ_GROUP] = 7;
    CHECK_EQ(cp_spawn_batch(r, bad, 1, "true", 5, &id), -EINVAL);
    recs_free(&rs);
    end_reactor(r);
}

static void test_exit_status_and_lines(void)
{
    cp_reactor *r = new_reactor();
    int32_t a = spawn1(r, (req){.argv = SH("printf 'a\\r\\nb\\rc\\n\\nlast'; "
                                          "echo err >&2; exit 3")});
    int32_t b = spawn1(r, (req){.argv = SH("kill -TERM $$")});
    int32_t m = spawn1(r, (req){.argv = SH("echo out; echo err >&2"),
                                 .flags = CP_SPAWN_STDERR_MERGE});
    recs rs = {0};
    run_until(r, &rs, CP_EV_EXIT, 3, 5000);
    CHECK_EQ(find(&rs, CP_EV_EXIT, a)->a, 3);
    CHECK_EQ(find(&rs, CP_EV_EXIT, b)->a, -SIGTERM);
    CHECK_EQ(find(&rs, CP_EV_EXIT, m)->a, 0);
    char *out = lines_of(&rs, a, CP_STDOUT), *err = lines_of(&rs, a, CP_STDERR);
    CHECK(strcmp(out, "a\nb\rc\n\nlast\n") == 0);
    CHECK(strcmp(err, "err\n") == 0);
    free(out);
    free(err);
    out = lines_of(&rs, m, CP_STDOUT);
    CHECK(strcmp(out, "out\nerr\n") == 0);
    free(out);
    /* every record of a child comes between its START and its EXIT, and
     * EOF carries the line count */
    int started = 0, exited = 0, ok = 1, eofs = 0;
    for (int i = 0; i < rs.n; i++) {
        if (rs.v[i].id != a)
            continue;
        if (rs.v[i].type == CP_EV_START) {
            started = 1;
            CHECK(rs.v[i].a > 0);
        } else if (!started || exited) {
            ok = 0;
        }
        if (rs.v[i].type == CP_EV_EOF) {
            eofs++;
            CHECK_EQ(rs.v[i].a, rs.v[i].stream == CP_STDOUT ? 4 : 1);
        }
        exited |= rs.v[i].type == CP_EV_EXIT;
    }
    CHECK(ok && exited);
    CHECK_EQ(eofs, 2);
    CHECK_EQ(count_type(&rs, CP_EV_EOF, m), 1);
    recs_free(&rs);
    end_reactor(r);
}

/* Fanout: never more than N running, per group and in the default one. */
static void test_fanout(void)
{
    enum { ND = 30, NG = 20 };
    cp_reactor *r = new_reactor();
    CHECK_EQ(cp_group_set_fanout(r, 0, 3), 0);
    int32_t g = cp_group_new(r, 2);
    CHECK(g > 0);
    req q[ND + NG];
    for (int i = 0; i < ND + NG; i++)
        q[i] = (req){.argv = SH("exit $(( $$ % 7 ))"),
                     .group = i < ND ? 0 : g,
                     .flags = CP_SPAWN_STDIN_NULL};
    int32_t ids[ND + NG];
    CHECK_EQ(spawn_n(r, q, ND + NG, ids), ND + NG);
    struct cp_counters c;
    cp_get_counters(r, &c);
    CHECK_EQ(c.pending, ND + NG);
    CHECK_EQ(c.groups, 1);
    CHECK_EQ(cp_group_free(r, g), -EBUSY);
    recs rs = {0};
    int run[2] = {0, 0}, peak[2] = {0, 0}, ok = 1;
    int64_t end = now_ms() + 20000;
    int done = 0;
    pid_t pids[ND + NG];
    while (done < ND + NG && now_ms() < end) {
        int from = rs.n;
        pump(r, &rs, 100);
        for (int i = from; i < rs.n; i++) {
            int k;
            for (k = 0; k < ND + NG && ids[k] != rs.v[i].id; k++)
                ;
            if (k == ND + NG)
                continue;
            int grp = k >= ND;
            if (rs.v[i].type == CP_EV_START) {
                pids[k] = rs.v[i].a;
                run[grp]++;
                if (run[grp] > peak[grp])
                    peak[grp] = run[grp];
            } else if (rs.v[i].type == CP_EV_EXIT) {
                run[grp]--;
                done++;
                if (rs.v[i].a != pids[k] % 7)
                    ok = 0;
            }
        }
    }
    CHECK_EQ(done, ND + NG);
    CHECK(ok);
    CHECK_EQ(peak[0], 3);
    CHECK_EQ(peak[1], 2);
    CHECK_EQ(cp_group_free(r, g), 0);
    CHECK_EQ(cp_group_free(r, g), -EINVAL);
    recs_free(&rs);
    end_reactor(r);
}

static int pid_gone(pid_t pid)
{
    /* gone, or a zombie waiting for a reaper that is not us */
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && (p[2] == 'Z' || p[2] == 'X');
}

/* A kill reaches the whole process group: the child and its child. */
static void test_kill_group(void)
{
    cp_reactor *r = new_reactor();
    int32_t id = spawn1(r, (req){.argv = SH("sleep 30 & echo $!; wait")});
    recs rs = {0};
    run_until(r, &rs, CP_EV_LINES, 1, 5000);
    const rec *l = find(&rs, CP_EV_LINES, id);
    CHECK(l != NULL);
    pid_t grandchild = l ? atoi(l->data) : 0;
    CHECK(grandchild > 0 && !pid_gone(grandchild));
    CHECK_EQ(cp_kill(r, id, SIGKILL), 0);
    run_until(r, &rs, CP_EV_EXIT, 1, 5000);
    CHECK_EQ(find(&rs, CP_EV_EXIT, id)->a, -SIGKILL);
    int64_t end = now_ms() + 3000;
    while (!pid_gone(grandchild) && now_ms() < end)
        usleep(10000);
    CHECK(pid_gone(grandchild));
    pump(r, &rs, 0);
    CHECK_EQ(cp_kill(r, id, SIGKILL), -ESTALE);
    recs_free(&rs);
    end_reactor(r);
}

static void test_timeout(void)
{
    cp_reactor *r = new_reactor();
    int64_t t0 = now_ms();
    int32_t id = spawn1(r, (req){.argv = SH("printf 'done\\npartial'; "
                                           "exec sleep 10"),
                                 .timeout_ms = 200});
    recs rs = {0};
    run_until(r, &rs, CP_EV_EXIT, 1, 5000);
    int64_t took = now_ms() - t0;
    CHECK(took >= 190 && took < 3000);
    char *out = lines_of(&rs, id, CP_STDOUT);
    CHECK(strcmp(out, "done\npartial\n") == 0);
    free(out);
    const rec *t = find(&rs, CP_EV_TIMEOUT, id), *x = find(&rs, CP_EV_EXIT, id);
    CHECK(t && x && t < x);
    CHECK_EQ(x->a, -SIGKILL);
    CHECK_EQ(count_type(&rs, CP_EV_EOF, id), 0);
    recs_free(&rs);
    end_reactor(r);
}

static void test_stdin(void)
{
    cp_reactor *r = new_reactor();
    int32_t id = spawn1(r, (req){.argv = {"cat", NULL}});
    /* queued while pending, then more after start */
    CHECK_EQ(cp_write(r, id, CP_STDIN, "hello\n", 6), 0);
    recs rs = {0};
    run_until(r, &rs, CP_EV_START, 1, 5000);
    static char big[300000];
    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\n';
    CHECK_EQ(cp_write(r, id, CP_STDIN, big, sizeof(big)), 0);
    CHECK_EQ(cp_write_eof(r, id, CP_STDIN), 0);
    CHECK_EQ(cp_write(r, id, CP_STDIN, "late", 4), -EPIPE);
    CHECK_EQ(cp_write(r, id, CP_STDOUT, "x", 1), -EINVAL);
    run_until(r, &rs, CP_EV_EXIT, 1, 10000);
    int64_t written = 0;
    for (int i = 0; i < rs.n; i++)
        if (rs.v[i].type == CP_EV_WRITTEN)
            written += rs.v[i].a;
    CHECK_EQ(written, 6 + (int64_t)sizeof(big));
    const rec *wc = find(&rs, CP_EV_WCLOSED, id);
    CHECK(wc && wc->a == 0);
    char *out = lines_of(&rs, id, CP_STDOUT);
    CHECK_EQ(strlen(out), 6 + sizeof(big));
    CHECK(strncmp(out, "hello\nxxx", 9) == 0);
    free(out);
    recs_free(&rs);
    end_reactor(r);
}

static void test_epipe(void)
{
    cp_reactor *r = new_reactor();
    int32_t id = spawn1(r, (req){.argv = SH("exec 0<&-; sleep 0.5")});
    static char big[1 << 20];
    memset(big, 'y', sizeof(big));
    CHECK_EQ(cp_write(r, id, CP_STDIN, big, sizeof(big)), 0);
    recs rs = {0};
    run_until(r, &rs, CP_EV_EXIT, 1, 5000);
    const rec *wc = find(&rs, CP_EV_WCLOSED, id);
    CHECK(wc && wc->a == EPIPE);
    CHECK_EQ(find(&rs, CP_EV_EXIT, id)->a, 0);
    recs_free(&rs);
    end_reactor(r);
}

/* write_many: one chunk, several children. */
static void test_write_many(void)
{
    cp_reactor *r = new_reactor();
    req q[4];
    for (int i = 0; i < 4; i++)
        q[i] = (req){.argv = {"cat", NULL}};
    int32_t ids[5];
    CHECK_EQ(spawn_n(r, q, 4, ids), 4);
    ids[4] = 12345;     /* stale: skipped */
    CHECK_EQ(cp_write_many(r, ids, 5, CP_STDIN, "one\ntwo\n", 8), 4);
    struct cp_counters c;
    cp_get_counters(r, &c);
    CHECK_EQ(c.queued, 32);
    for (int i = 0; i < 4; i++)
        cp_write_eof(r, ids[i], CP_STDIN);
    recs rs = {0};
    run_until(r, &rs, CP_EV_EXIT, 4, 5000);
    for (int i = 0; i < 4; i++) {
        char *out = lines_of(&rs, ids[i], CP_STDOUT);
        CHECK(strcmp(out, "one\ntwo\n") == 0);
        free(out);
    }
    recs_free(&rs);
    end_reactor(r);
}

static void test_user_fds(void)
{
    cp_reactor *r = new_reactor();
    int p[2];
    CHECK_EQ(pipe(p), 0);
    int32_t rid = cp_fd_add(r, p[0], CP_FD_READ | CP_FD_CLOSE);
    CHECK(rid > 0);
    CHECK_EQ(write(p[1], "x\ny\npart", 8), 8);
    close(p[1]);
    recs rs = {0};
    run_until(r, &rs, CP_EV_EOF, 1, 3000);
    char *out = lines_of(&rs, rid, 0);
    CHECK(strcmp(out, "x\ny\npart\n") == 0);
    free(out);
    CHECK_EQ(find(&rs, CP_EV_EOF, rid)->a, 3);
    CHECK_EQ(cp_fd_remove(r, rid), -ESTALE);  /* ended by itself */
    CHECK(all_zero(r));

    /* a socketpair end, read and written by the reactor */
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int32_t sid = cp_fd_add(r, sv[0], CP_FD_READ | CP_FD_WRITE | CP_FD_CLOSE);
    CHECK(sid > 0);
    CHECK_EQ(cp_write(r, sid, 0, "ping\n", 5), 0);
    CHECK_EQ(cp_write_eof(r, sid, 0), 0);
    run_until(r, &rs, CP_EV_WCLOSED, 1, 3000);
    char buf[16] = {0};
    CHECK_EQ(read(sv[1], buf, sizeof(buf)), 5);
    CHECK(strcmp(buf, "ping\n") == 0);
    CHECK_EQ(read(sv[1], buf, sizeof(buf)), 0);  /* shut down for writing */
    CHECK_EQ(write(sv[1], "pong\n", 5), 5);
    close(sv[1]);
    run_until(r, &rs, CP_EV_EOF, 2, 3000);
    out = lines_of(&rs, sid, 0);
    CHECK(strcmp(out, "pong\n") == 0);
    free(out);

    /* the same fd twice: a reader and a writer slot */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int32_t r1 = cp_fd_add(r, sv[0], CP_FD_READ);
    int32_t w1 = cp_fd_add(r, sv[0], CP_FD_WRITE);
    CHECK(r1 > 0 && w1 > 0);
    CHECK_EQ(cp_write(r, w1, 0, "dup\n", 4), 0);
    int64_t end = now_ms() + 3000;
    ssize_t got = 0;
    while (got <= 0 && now_ms() < end) {
        pump(r, &rs, 20);
        got = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
    }
    CHECK_EQ(got, 4);
    CHECK_EQ(send(sv[1], "back\n", 5, 0), 5);
    int before = count_type(&rs, CP_EV_LINES, r1);
    end = now_ms() + 3000;
    while (count_type(&rs, CP_EV_LINES, r1) == before && now_ms() < end)
        pump(r, &rs, 20);
    CHECK_EQ(count_type(&rs, CP_EV_LINES, r1), before + 1);
    CHECK_EQ(cp_fd_remove(r, r1), 0);
    CHECK_EQ(cp_fd_remove(r, w1), 0);
    CHECK_EQ(fcntl(sv[0], F_GETFD), 0);   /* no CP_FD_CLOSE: still open */
    close(sv[0]);
    close(sv[1]);

    /* a regular file: epoll refuses it, it is always ready */
    char path[] = "/tmp/cp_test_fileXXXXXX";
    int fd = mkstemp(path);
    CHECK_EQ(write(fd, "f1\nf2\n", 6), 6);
    lseek(fd, 0, SEEK_SET);
    unlink(path);
    int32_t fid = cp_fd_add(r, fd, CP_FD_READ | CP_FD_CLOSE);
    CHECK(fid > 0);
    before = count_type(&rs, CP_EV_EOF, 0);
    run_until(r, &rs, CP_EV_EOF, before + 1, 3000);
    out = lines_of(&rs, fid, 0);
    CHECK(strcmp(out, "f1\nf2\n") == 0);
    free(out);
    recs_free(&rs);
    end_reactor(r);
}

/* the unfinished line of a stream can be taken before dropping it */
static void test_partial(void)
{
    cp_reactor *r = new_reactor();
    int p[2];
    CHECK_EQ(pipe(p), 0);
    int32_t rid = cp_fd_add(r, p[0], CP_FD_READ | CP_FD_CLOSE);
    CHECK_EQ(write(p[1], "done\npart\r", 10), 10);
    recs rs = {0};
    run_until(r, &rs, CP_EV_LINES, 1, 3000);
    char buf[16], tiny[2];
    CHECK_EQ(cp_stream_partial(r, rid, 0, tiny, sizeof(tiny)), -ENOSPC);
    CHECK_EQ(cp_stream_partial(r, rid, 0, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "part\r", 5) == 0);           /* untrimmed */
    CHECK_EQ(cp_stream_partial(r, rid, 0, buf, sizeof(buf)), 0);  /* taken */
    CHECK_EQ(cp_stream_partial(r, rid + 1, 0, buf, sizeof(buf)), -ESTALE);
    int32_t wid = cp_fd_add(r, p[1], CP_FD_WRITE | CP_FD_CLOSE);
    CHECK_EQ(cp_stream_partial(r, wid, 0, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(cp_fd_remove(r, rid), 0);
    CHECK_EQ(cp_fd_remove(r, wid), 0);
    CHECK(all_zero(r));
    recs_free(&rs);
    end_reactor(r);
}

static void *waker(void *arg)
{
    usleep(100000);
    cp_wake(arg);
    return NULL;
}

static void test_wake(void)
{
    cp_reactor *r = new_reactor();
    pthread_t th;
    pthread_create(&th, NULL, waker, r);
    recs rs = {0};
    int64_t t0 = now_ms();
    int n = pump(r, &rs, 5000);
    CHECK_EQ(n, 1);
    CHECK(now_ms() - t0 < 2000);
    CHECK(rs.n == 1 && rs.v[0].type == CP_EV_WAKE && rs.v[0].id == 0);
    pthread_join(th, NULL);
    /* coalesced: several wakes, one record */
    cp_wake(r);
    cp_wake(r);
    CHECK_EQ(pump(r, &rs, 0), 1);
    CHECK_EQ(pump(r, &rs, 0), 0);
    recs_free(&rs);
    end_reactor(r);
}

/* The descriptor for another event loop: readable exactly when a pass has
 * work; cp_poll_due() says when a pass is due without it. */
static int fd_readable(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void test_pollable_fd(void)
{
    cp_reactor *r = new_reactor();
    int fd = cp_reactor_fd(r);
    CHECK(fd >= 0);
    CHECK_EQ(cp_reactor_fd(r), fd);     /* the same one each time */
    CHECK_EQ(cp_poll_due(r), -1);
    CHECK(!fd_readable(fd, 0));
    cp_wake(r);
    CHECK(fd_readable(fd, 1000));
    recs rs = {0};
    CHECK_EQ(pump(r, &rs, 0), 1);
    CHECK(!fd_readable(fd, 0));
    /* a child: its output and exit make the fd readable */
    int32_t id = spawn1(r, (req){.argv = SH("echo hi"), .flags = CP_SPAWN_STDIN_NULL});
    CHECK_EQ(cp_poll_due(r), 0);        /* a spawn is waiting for its refill */
    pump(r, &rs, 0);
    int64_t t0 = now_ms();
    while (!find(&rs, CP_EV_EXIT, id) && now_ms() - t0 < 5000) {
        /* wait as another loop would: for the fd, until the due time */
        int64_t due = cp_poll_due(r), wait = 5000;
        if (due >= 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            wait = (due - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec)) / 1000000 + 1;
            wait = wait < 0 ? 0 : wait;
        }
        CHECK(fd_readable(fd, (int)wait) || due >= 0);
        pump(r, &rs, 0);
    }
    CHECK(find(&rs, CP_EV_EXIT, id) != NULL);
    char *out = lines_of(&rs, id, CP_STDOUT);
    CHECK(strcmp(out, "hi\n") == 0);
    free(out);
    /* a timer: due at its deadline (monotonic ns), not readable before */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int32_t t = cp_timer_add(r, 0.05, 0);
    int64_t due = cp_poll_due(r);
    CHECK(due > now + 40000000 && due < now + 60000000);
    CHECK(!fd_readable(fd, 0));
    CHECK_EQ(cp_timer_cancel(r, t), 0);
    CHECK_EQ(cp_poll_due(r), -1);
    recs_free(&rs);
    end_reactor(r);
}

static void test_timers(void)
{
    cp_reactor *r = new_reactor();
    int32_t t3 = cp_timer_add(r, 0.06, 0);
    int32_t t1 = cp_timer_add(r, 0.02, 0);
    int32_t t2 = cp_timer_add(r, 0.04, 0);
    int32_t rep = cp_timer_add(r, 0.01, 0.01);
    int32_t gone = cp_timer_add(r, 0.01, 0);
    int32_t moved = cp_timer_add(r, 0.01, 0);
    CHECK_EQ(cp_timer_cancel(r, gone), 0);
    CHECK_EQ(cp_timer_cancel(r, gone), -ESTALE);
    CHECK_EQ(cp_timer_set(r, moved, 0.08, 0), 0);  /* re-armed later */
    recs rs = {0};
    run_until(r, &rs, CP_EV_TIMER, 10, 3000);
    int order[4] = {0}, k = 0, reps = 0;
    for (int i = 0; i < rs.n; i++) {
        const rec *x = &rs.v[i];
        CHECK(x->id != gone);
        if (x->id == rep) {
            reps++;
            CHECK_EQ(x->a, 1);
        } else if (k < 4) {
            order[k++] = x->id;
            CHECK_EQ(x->a, 0);
        }
    }
    CHECK(reps >= 5);
    CHECK(order[0] == t1 && order[1] == t2 && order[2] == t3);
    run_until(r, &rs, CP_EV_TIMER, 20, 3000);
    CHECK_EQ(count_type(&rs, CP_EV_TIMER, moved), 1);
    CHECK_EQ(cp_timer_set(r, t1, 1, 0), -ESTALE);  /* fired one-shot */
    CHECK_EQ(cp_timer_cancel(r, rep), 0);
    recs_free(&rs);
    end_reactor(r);
}

static void test_abort(void)
{
    cp_reactor *r = new_reactor();
    cp_group_set_fanout(r, 0, 1);
    req q[2] = {{.argv = {"sleep", "10", NULL}}, {.argv = {"true", NULL}}};
    int32_t ids[2];
    CHECK_EQ(spawn_n(r, q, 2, ids), 2);
    recs rs = {0};
    run_until(r, &rs, CP_EV_START, 1, 3000);
    int32_t st = 0;
    CHECK_EQ(cp_abort(r, ids[1], &st), 0);
    CHECK_EQ(st, CP_NOT_STARTED);
    int64_t t0 = now_ms();
    CHECK_EQ(cp_abort(r, ids[0], &st), 0);
    CHECK_EQ(st, -SIGKILL);
    CHECK(now_ms() - t0 < 1500);
    /* ended: the same status until the next pass, then stale */
    st = 0;
    CHECK_EQ(cp_abort(r, ids[0], &st), 0);
    CHECK_EQ(st, -SIGKILL);
    CHECK_EQ(cp_child_status(r, ids[1], &st), 1);
    CHECK_EQ(st, CP_NOT_STARTED);
    int before = rs.n;
    pump(r, &rs, 0);
    CHECK_EQ(cp_abort(r, ids[0], &st), -ESTALE);
    pump(r, &rs, 100);
    for (int i = before; i < rs.n; i++)
        CHECK(rs.v[i].id != ids[0] && rs.v[i].id != ids[1]);
    recs_free(&rs);
    end_reactor(r);
}

/* A sink of 4 records: everything still arrives, in order, over passes. */
static void test_small_sink(void)
{
    cp_reactor *r = new_reactor();
    req q[6];
    for (int i = 0; i < 6; i++)
        q[i] = (req){.argv = SH("seq 1 500; seq 1 300 >&2")};
    int32_t ids[6];
    CHECK_EQ(spawn_n(r, q, 6, ids), 6);
    recs rs = {0};
    int64_t end = now_ms() + 10000;
    while (count_type(&rs, CP_EV_EXIT, 0) < 6 && now_ms() < end)
        pump_cap(r, &rs, 50, 4);
    CHECK_EQ(count_type(&rs, CP_EV_EXIT, 0), 6);
    for (int i = 0; i < 6; i++) {
        char *out = lines_of(&rs, ids[i], CP_STDOUT);
        char *err = lines_of(&rs, ids[i], CP_STDERR);
        int n = 0, ok = 1;
        for (char *p = out; *p; p = strchr(p, '\n') + 1)
            ok &= atoi(p) == ++n;
        CHECK(ok && n == 500);
        n = 0;
        for (char *p = err; *p; p = strchr(p, '\n') + 1)
            ok &= atoi(p) == ++n;
        CHECK(ok && n == 300);
        free(out);
        free(err);
    }
    recs_free(&rs);
    end_reactor(r);
}

/* The child environment: cwd, env, fds, signal dispositions. */
static void test_child_environment(void)
{
    cp_reactor *r = new_reactor();
    int32_t cwd = spawn1(r, (req){.argv = {"pwd", NULL}, .cwd = "/tmp"});
    int32_t env = spawn1(r, (req){.argv = SH("echo \"$CP_A|$HOME\""),
                                  .use_env = 1, .env = {"CP_A=b c", NULL}});
    int32_t fds = spawn1(r, (req){.argv = {"ls", "/proc/self/fd", NULL}});
    int32_t pipe_ = spawn1(r, (req){.argv = SH("yes | head -n 1")});
    int32_t pgrp = spawn1(r, (req){.argv = SH("echo $$ $(cut -d' ' -f5 /proc/$$/stat)")});
    int32_t badcwd = spawn1(r, (req){.argv = {"pwd", NULL},
                                     .cwd = "/nonexistent-dir"});
    recs rs = {0};
    run_until(r, &rs, CP_EV_EXIT, 5, 5000);
    run_until(r, &rs, CP_EV_SPAWNERR, 1, 1000);
    char *s = lines_of(&rs, cwd, CP_STDOUT);
    CHECK(strcmp(s, "/tmp\n") == 0);
    free(s);
    s = lines_of(&rs, env, CP_STDOUT);
    CHECK(strcmp(s, "b c|\n") == 0);
    free(s);
    s = lines_of(&rs, fds, CP_STDOUT);
    CHECK(strcmp(s, "0\n1\n2\n3\n") == 0);     /* 3: ls's own directory */
    free(s);
    s = lines_of(&rs, pipe_, CP_STDOUT);
    CHECK(strcmp(s, "y\n") == 0);
    free(s);
    s = lines_of(&rs, pipe_, CP_STDERR);
    CHECK(strcmp(s, "") == 0);                  /* no "Broken pipe" */
    free(s);
    s = lines_of(&rs, pgrp, CP_STDOUT);
    int pid = 0, pg = -1;
    CHECK_EQ(sscanf(s, "%d %d", &pid, &pg), 2);
    CHECK(pid == pg && pid == find(&rs, CP_EV_START, pgrp)->a);
    free(s);
    CHECK_EQ(find(&rs, CP_EV_SPAWNERR, badcwd)->a, ENOENT);
    recs_free(&rs);
    end_reactor(r);
}

/* Out of fds: the children that cannot start get SPAWNERR EMFILE, the
 * others run, nothing leaks. */
static void test_emfile(void)
{
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    int probe = open("/dev/null", O_RDONLY);    /* lowest free fd */
    close(probe);
    cp_reactor *r = new_reactor();
    low = old;
    low.rlim_cur = (rlim_t)probe + 24;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    req q[12];
    for (int i = 0; i < 12; i++)
        q[i] = (req){.argv = {"sleep", "0.05", NULL}};
    int32_t ids[12];
    CHECK_EQ(spawn_n(r, q, 12, ids), 12);
    recs rs = {0};
    int64_t end = now_ms() + 10000;
    while (count_type(&rs, CP_EV_EXIT, 0) + count_type(&rs, CP_EV_SPAWNERR, 0) < 12
           && now_ms() < end)
        pump(r, &rs, 50);
    setrlimit(RLIMIT_NOFILE, &old);
    int exits = count_type(&rs, CP_EV_EXIT, 0);
    int errs = count_type(&rs, CP_EV_SPAWNERR, 0);
    CHECK_EQ(exits + errs, 12);
    CHECK(exits >= 1 && errs >= 1);
    for (int i = 0; i < rs.n; i++) {
        if (rs.v[i].type == CP_EV_EXIT)
            CHECK_EQ(rs.v[i].a, 0);
        if (rs.v[i].type == CP_EV_SPAWNERR)
            CHECK_EQ(rs.v[i].a, EMFILE);
    }
    CHECK(all_zero(r));
    recs_free(&rs);
    end_reactor(r);
}

/* close() kills and reaps everything, drops the rest; idempotent. */
static void test_close(void)
{
    cp_reactor *r = new_reactor();
    cp_group_set_fanout(r, 0, 2);
    req q[4];
    for (int i = 0; i < 4; i++)
        q[i] = (req){.argv = SH("sleep 30 & sleep 30")};
    int32_t ids[4];
    CHECK_EQ(spawn_n(r, q, 4, ids), 4);
    recs rs = {0};
    run_until(r, &rs, CP_EV_START, 2, 3000);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    cp_fd_add(r, p[0], CP_FD_READ | CP_FD_CLOSE);
    cp_timer_add(r, 100, 1);
    cp_group_new(r, 5);
    cp_write(r, ids[3], CP_STDIN, "queued", 6);
    struct cp_counters c;
    cp_get_counters(r, &c);
    CHECK(c.children == 2 && c.pending == 2 && c.timers == 1 && c.groups == 1);
    CHECK_EQ(c.fds, 2 * (rflags & CP_R_NO_PIDFD ? 3 : 4) + 1);
    CHECK(c.queued == 6 && c.slots == 6);
    cp_reactor_close(r);
    CHECK(all_zero(r));
    for (int i = 0; i < rs.n; i++)
        if (rs.v[i].type == CP_EV_START)
            CHECK(waitpid(rs.v[i].a, NULL, WNOHANG) < 0 && errno == ECHILD);
    CHECK(fcntl(p[0], F_GETFD) < 0);
    close(p[1]);
    cp_reactor_close(r);
    CHECK(all_zero(r));
    /* still usable */
    int32_t id = spawn1(r, (req){.argv = {"true", NULL}});
    run_until(r, &rs, CP_EV_EXIT, 1, 3000);
    CHECK(find(&rs, CP_EV_EXIT, id) != NULL);
    recs_free(&rs);
    end_reactor(r);
}

/* Pending children: many of them, touched before they start (stdin data,
 * read modes, partial lines), killed, aborted and freed while pending. */
static void test_pending(void)
{
    enum { NP = 3000 };
    cp_reactor *r = new_reactor();
    cp_group_set_fanout(r, 0, 1);
    req first[3] = {
        {.argv = {"true", NULL}},
        {.argv = {"cat", NULL}},
        {.argv = SH("echo out; echo err >&2"),
         .flags = CP_SPAWN_OUT_DISCARD | CP_SPAWN_STDIN_NULL},
    };
    int32_t fid[3];
    CHECK_EQ(spawn_n(r, first, 3, fid), 3);
    req *q = calloc(NP, sizeof(*q));
    for (int i = 0; i < NP; i++)
        q[i] = (req){.argv = {"sleep", "10", NULL}, .cwd = i % 2 ? "/" : NULL,
                     .use_env = i % 3 == 0, .env = {"A=1", NULL},
                     .flags = i % 5 == 0 ? CP_SPAWN_STDERR_MERGE : 0};
    int32_t *ids = calloc(NP, sizeof(*ids));
    CHECK_EQ(spawn_n(r, q, NP, ids), NP);
    struct cp_counters c;
    cp_get_counters(r, &c);
    CHECK(c.pending == NP + 3 && c.children == 0 && c.fds == 0);

    /* a pending child: nothing to kill, nothing read yet, stdin open */
    char buf[16];
    CHECK_EQ(cp_kill(r, fid[1], SIGTERM), -ESRCH);
    CHECK_EQ(cp_stream_partial(r, fid[1], CP_STDOUT, buf, sizeof(buf)), 0);
    CHECK_EQ(cp_stream_partial(r, fid[1], CP_STDERR, buf, sizeof(buf)), 0);
    CHECK_EQ(cp_stream_partial(r, fid[1], CP_STDIN, buf, sizeof(buf)),
             -EINVAL);
    CHECK_EQ(cp_stream_partial(r, ids[0], CP_STDERR, buf, sizeof(buf)),
             -EINVAL);                                  /* merged */
    CHECK_EQ(cp_stream_partial(r, ids[0], 3, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(cp_stream_mode(r, ids[0], CP_STDERR, CP_MODE_RAW), -EINVAL);
    CHECK_EQ(cp_write(r, fid[2], CP_STDIN, "x", 1), -EPIPE);  /* STDIN_NULL */
    /* what a pending child is given waits for its start */
    CHECK_EQ(cp_write(r, fid[1], CP_STDIN, "one\n", 4), 0);
    CHECK_EQ(cp_write_many(r, fid + 1, 1, CP_STDIN, "two\n", 4), 1);
    CHECK_EQ(cp_write_eof(r, fid[1], CP_STDIN), 0);
    CHECK_EQ(cp_write(r, fid[1], CP_STDIN, "x", 1), -EPIPE);
    CHECK_EQ(cp_stream_mode(r, fid[2], CP_STDOUT, CP_MODE_LINES), 0);
    CHECK_EQ(cp_stream_mode(r, fid[2], CP_STDERR, CP_MODE_DISCARD), 0);
    /* some of the many get stdin data, then are aborted unstarted */
    CHECK_EQ(cp_write_many(r, ids, 10, CP_STDIN, "abc", 3), 10);
    cp_get_counters(r, &c);
    CHECK(c.queued == 8 + 30);
    int32_t st = 0;
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(cp_abort(r, ids[i], &st), 0);
        CHECK_EQ(st, CP_NOT_STARTED);
        /* an ended id, until the next pass */
        CHECK_EQ(cp_abort(r, ids[i], &st), 0);
        CHECK_EQ(st, CP_NOT_STARTED);
        CHECK_EQ(cp_kill(r, ids[i], SIGTERM), -ESRCH);
        CHECK_EQ(cp_write(r, ids[i], CP_STDIN, "x", 1), -EPIPE);
    }
    cp_get_counters(r, &c);
    CHECK(c.queued == 8 && c.pending == NP + 3 - 20);

    recs rs = {0};
    run_until(r, &rs, CP_EV_EXIT, 3, 5000);
    CHECK_EQ(count_type(&rs, CP_EV_EXIT, 0), 3);
    char *got = lines_of(&rs, fid[1], CP_STDOUT);
    CHECK(strcmp(got, "one\ntwo\n") == 0);
    free(got);
    got = lines_of(&rs, fid[2], CP_STDOUT);
    CHECK(strcmp(got, "out\n") == 0);          /* was DISCARD */
    free(got);
    got = lines_of(&rs, fid[2], CP_STDERR);
    CHECK(strcmp(got, "") == 0);                /* now DISCARD */
    free(got);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(find(&rs, CP_EV_EXIT, fid[i])->a, 0);
    /* the next one runs, the rest still wait */
    run_until(r, &rs, CP_EV_START, 4, 3000);
    CHECK(find(&rs, CP_EV_START, ids[20]) != NULL);
    cp_get_counters(r, &c);
    CHECK(c.children == 1 && c.pending == NP - 21 && c.queued == 0);
    /* abort the running one: the next starts in the following pass */
    CHECK_EQ(cp_abort(r, ids[20], &st), 0);
    CHECK_EQ(st, -SIGKILL);
    run_until(r, &rs, CP_EV_START, 5, 3000);
    CHECK(find(&rs, CP_EV_START, ids[21]) != NULL);
    /* pending ids stay valid; a fanout change starts a few more */
    CHECK_EQ(cp_group_set_fanout(r, 0, 4), 0);
    run_until(r, &rs, CP_EV_START, 8, 3000);
    CHECK(find(&rs, CP_EV_START, ids[24]) != NULL);
    CHECK(find(&rs, CP_EV_START, ids[25]) == NULL);
    cp_get_counters(r, &c);
    CHECK(c.children == 4 && c.pending == NP - 25);
    cp_reactor_close(r);
    CHECK(all_zero(r));
    recs_free(&rs);
    end_reactor(r);

    /* freed with pending children (touched or not): nothing leaks */
    r = new_reactor();
    cp_group_set_fanout(r, 0, 1);
    CHECK_EQ(spawn_n(r, q, NP, ids), NP);
    CHECK_EQ(cp_write_many(r, ids + 1, 5, CP_STDIN, "abc", 3), 5);
    CHECK_EQ(cp_stream_mode(r, ids[7], CP_STDOUT, CP_MODE_RAW), 0);
    run_until(r, &rs, CP_EV_START, 1, 3000);
    cp_reactor_free(r);
    /* and without ever running a pass */
    r = new_reactor();
    CHECK_EQ(spawn_n(r, q, NP, ids), NP);
    CHECK_EQ(cp_write_eof(r, ids[3], CP_STDIN), 0);
    cp_reactor_free(r);
    recs_free(&rs);
    free(ids);
    free(q);
}

/* An ended child's id stays valid, with its status, until the next pass. */
static void test_id_until_next_poll(void)
{
    cp_reactor *r = new_reactor();
    req q[3] = {
        {.argv = SH("echo out; exit 7")},
        {.argv = SH("kill -TERM $$")},
        {.argv = {"cp-no-such-command-anywhere", NULL}},
    };
    int32_t ids[3];
    CHECK_EQ(spawn_n(r, q, 3, ids), 3);
    int32_t st = 12345;
    CHECK_EQ(cp_child_status(r, ids[0], &st), 0);     /* pending */
    CHECK_EQ(st, 12345);
    recs rs = {0};
    int64_t end = now_ms() + 5000;
    while (count_type(&rs, CP_EV_EXIT, 0) + count_type(&rs, CP_EV_SPAWNERR, 0)
           < 3 && now_ms() < end) {
        int before = rs.n;
        pump(r, &rs, 50);
        /* every end reported by this pass is still there to ask about */
        for (int i = before; i < rs.n; i++) {
            const rec *x = &rs.v[i];
            if (x->type == CP_EV_EXIT || x->type == CP_EV_SPAWNERR) {
                int32_t want = x->type == CP_EV_EXIT ? x->a : CP_NOT_STARTED;
                CHECK_EQ(cp_child_status(r, x->id, &st), 1);
                CHECK_EQ(st, want);
                st = 0;
                CHECK_EQ(cp_abort(r, x->id, &st), 0);    /* nothing done */
                CHECK_EQ(st, want);
                CHECK_EQ(cp_kill(r, x->id, SIGTERM), -ESRCH);
                CHECK_EQ(cp_write(r, x->id, CP_STDIN, "x", 1), -EPIPE);
                CHECK_EQ(cp_write_many(r, &x->id, 1, CP_STDIN, "x", 1), 0);
                CHECK_EQ(cp_write_eof(r, x->id, CP_STDIN), -EPIPE);
                CHECK_EQ(cp_stream_mode(r, x->id, CP_STDOUT, CP_MODE_RAW), 0);
                char buf[8];
                CHECK_EQ(cp_stream_partial(r, x->id, CP_STDOUT, buf,
                                           sizeof(buf)), 0);
            } else if (x->type == CP_EV_START) {
                CHECK_EQ(cp_child_status(r, x->id, &st), 0);
            }
        }
        /* ended ids are not counted as live */
        struct cp_counters c;
        cp_get_counters(r, &c);
        CHECK(c.slots == 3 - count_type(&rs, CP_EV_EXIT, 0)
                         - count_type(&rs, CP_EV_SPAWNERR, 0));
    }
    CHECK_EQ(find(&rs, CP_EV_EXIT, ids[0])->a, 7);
    CHECK_EQ(find(&rs, CP_EV_EXIT, ids[1])->a, -SIGTERM);
    CHECK(find(&rs, CP_EV_SPAWNERR, ids[2]) != NULL);
    /* the next pass retires them; nothing more was reported for them */
    int before = rs.n;
    pump(r, &rs, 0);
    CHECK_EQ(rs.n, before);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cp_child_status(r, ids[i], &st), -ESTALE);
        CHECK_EQ(cp_abort(r, ids[i], &st), -ESTALE);
        CHECK_EQ(cp_write(r, ids[i], CP_STDIN, "x", 1), -ESTALE);
    }
    /* new ids never name an ended child's slot before it is retired */
    int32_t again = spawn1(r, (req){.argv = {"true", NULL}});
    CHECK(again != ids[0] && again != ids[1] && again != ids[2]);
    run_until(r, &rs, CP_EV_EXIT, 3, 5000);
    pump(r, &rs, 0);
    recs_free(&rs);
    end_reactor(r);
}

/* Many children aborted in one call: all killed first, reaped together. */
static void test_abort_many(void)
{
    enum { NRUN = 60, NPEND = 40, NALL = NRUN + NPEND + 1 };
    cp_reactor *r = new_reactor();
    CHECK_EQ(cp_abort_many(r, NULL, 0, NULL), 0);
    CHECK_EQ(cp_abort_many(r, NULL, -1, NULL), -EINVAL);
    int32_t g = cp_group_new(r, 0);             /* unlimited */
    CHECK(g > 0);
    CHECK_EQ(cp_group_set_fanout(r, 0, 1), 0);
    req *q = calloc(NALL, sizeof(req));
    for (int i = 0; i < NRUN; i++) {
        /* half of them ignore SIGTERM and have children of their own */
        q[i] = (req){.argv = SH(i % 2 ? "trap '' TERM INT HUP; sleep 30 & "
                                        "echo started; wait"
                                      : "echo started; exec sleep 30"),
                     .group = i ? g : 0};
    }
    for (int i = NRUN; i < NRUN + NPEND; i++)  /* behind ids[0] (fanout 1) */
        q[i] = (req){.argv = {"true", NULL}, .group = 0};
    int32_t *ids = calloc(NALL + 1, sizeof(int32_t));
    CHECK_EQ(spawn_n(r, q, NRUN + NPEND, ids), NRUN + NPEND);
    CHECK_EQ(cp_write(r, ids[NRUN + 5], CP_STDIN, "data", 4), 0);
    recs rs = {0};
    int64_t end = now_ms() + 10000;
    while (count_type(&rs, CP_EV_LINES, 0) < NRUN && now_ms() < end)
        pump(r, &rs, 50);
    CHECK_EQ(count_type(&rs, CP_EV_LINES, 0), NRUN);
    /* one that ends in the batch just before the abort */
    ids[NRUN + NPEND] = spawn1(r, (req){.argv = SH("exit 3"), .group = g});
    run_until(r, &rs, CP_EV_EXIT, 1, 5000);
    CHECK(find(&rs, CP_EV_EXIT, ids[NRUN + NPEND]) != NULL);
    pid_t *pids = calloc(NRUN, sizeof(pid_t));
    for (int i = 0; i < NRUN; i++) {
        const rec *s = find(&rs, CP_EV_START, ids[i]);
        pids[i] = s ? s->a : 0;
        CHECK(pids[i] > 0);
    }
    /* the list: the runners, the pending ones, the ended one, then a
     * runner named twice and a stale id */
    int32_t *list = calloc(NALL + 2, sizeof(int32_t));
    memcpy(list, ids, NALL * sizeof(int32_t));
    list[NALL] = ids[0];
    list[NALL + 1] = ids[NALL - 1] + (1 << 20) * 7;    /* another gen */
    int32_t *st = calloc(NALL + 2, sizeof(int32_t));
    int64_t t0 = now_ms();
    CHECK_EQ(cp_abort_many(r, list, NALL + 2, st), NALL + 1);
    int64_t took = now_ms() - t0;
    CHECK(took < 900);          /* not one wait per child */
    for (int i = 0; i < NRUN; i++)
        CHECK_EQ(st[i], -SIGKILL);
    for (int i = NRUN; i < NRUN + NPEND; i++)
        CHECK_EQ(st[i], CP_NOT_STARTED);
    CHECK_EQ(st[NRUN + NPEND], 3);     /* ended before: its own status */
    CHECK_EQ(st[NALL], -SIGKILL);
    CHECK_EQ(st[NALL + 1], CP_NO_CHILD);
    /* reaped, not orphaned: the counters are empty right away */
    struct cp_counters c;
    cp_get_counters(r, &c);
    CHECK(c.children == 0 && c.pending == 0 && c.fds == 0 && c.slots == 0
          && c.queued == 0 && c.timers == 0);
    for (int i = 0; i < NRUN; i++)      /* reaped: not even a zombie */
        CHECK(kill(pids[i], 0) < 0 && errno == ESRCH);
    /* valid until the next pass, then stale; no records for any of them */
    int32_t one = 0;
    CHECK_EQ(cp_child_status(r, ids[1], &one), 1);
    CHECK_EQ(one, -SIGKILL);
    CHECK_EQ(cp_abort(r, ids[NRUN + 1], &one), 0);      /* a pending one */
    CHECK_EQ(one, CP_NOT_STARTED);
    int before = rs.n;
    pump(r, &rs, 100);
    pump(r, &rs, 0);
    CHECK_EQ(rs.n, before);
    CHECK_EQ(cp_abort_many(r, list, NALL, st), 0);
    CHECK_EQ(st[0], CP_NO_CHILD);
    CHECK_EQ(cp_child_status(r, ids[1], &one), -ESTALE);
    CHECK_EQ(cp_group_free(r, g), 0);
    free(st);
    free(list);
    free(pids);
    free(ids);
    free(q);
    recs_free(&rs);
    end_reactor(r);
}

/* More children than fit the stack arrays, with the no-pidfd path too, and
 * an abort of children that are still being started (some not reaped). */
static void test_abort_many_large(void)
{
    enum { N = 300 };
    cp_reactor *r = new_reactor();
    CHECK_EQ(cp_group_set_fanout(r, 0, 0), 0);
    req *q = calloc(N, sizeof(req));
    for (int i = 0; i < N; i++)
        q[i] = (req){.argv = {"sleep", "30", NULL},
                     .flags = CP_SPAWN_STDIN_NULL};
    int32_t *ids = calloc(N, sizeof(int32_t));
    CHECK_EQ(spawn_n(r, q, N, ids), N);
    recs rs = {0};
    run_until(r, &rs, CP_EV_START, N, 20000);
    CHECK_EQ(count_type(&rs, CP_EV_START, 0), N);
    int32_t *st = calloc(N, sizeof(int32_t));
    int64_t t0 = now_ms();
    CHECK_EQ(cp_abort_many(r, ids, N, st), N);
    CHECK(now_ms() - t0 < 1500);
    int killed = 0;
    for (int i = 0; i < N; i++)
        killed += st[i] == -SIGKILL;
    CHECK_EQ(killed, N);
    struct cp_counters c;
    cp_get_counters(r, &c);
    CHECK(c.fds == 0 && c.slots == 0 && c.pending == 0);
    /* orphans, if any (a slow machine), are reaped by the timer */
    int64_t end = now_ms() + 5000;
    while (c.children && now_ms() < end) {
        pump(r, &rs, 20);
        cp_get_counters(r, &c);
    }
    CHECK_EQ(c.children, 0);
    pump(r, &rs, 0);
    free(st);
    free(ids);
    free(q);
    recs_free(&rs);
    end_reactor(r);
}

typedef void (*test_fn)(void);

int main(void)
{
    static const struct { const char *name; test_fn fn; } tests[] = {
        {"spawn_errors", test_spawn_errors},
        {"exit_status_and_lines", test_exit_status_and_lines},
        {"fanout", test_fanout},
        {"kill_group", test_kill_group},
        {"timeout", test_timeout},
        {"stdin", test_stdin},
        {"epipe", test_epipe},
        {"write_many", test_write_many},
        {"user_fds", test_user_fds},
        {"partial", test_partial},
        {"wake", test_wake},
        {"pollable_fd", test_pollable_fd},
        {"timers", test_timers},
        {"abort", test_abort},
        {"small_sink", test_small_sink},
        {"child_environment", test_child_environment},
        {"emfile", test_emfile},
        {"close", test_close},
        {"pending", test_pending},
        {"id_until_next_poll", test_id_until_next_poll},
        {"abort_many", test_abort_many},
        {"abort_many_large", test_abort_many_large},
    };
    signal(SIGPIPE, SIG_IGN);   /* as Python does */
    for (backend = CP_BACKEND_EPOLL; backend <= CP_BACKEND_POLL; backend++) {
        for (rflags = 0; rflags <= CP_R_NO_PIDFD; rflags += CP_R_NO_PIDFD) {
            for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
                int before = check_failed;
                tests[i].fn();
                if (check_failed != before)
                    fprintf(stderr, "  in %s (backend %d, flags %d)\n",
                            tests[i].name, backend, rflags);
            }
        }
    }
    CHECK_DONE("test_reactor");
}
