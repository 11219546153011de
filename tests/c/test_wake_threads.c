/*
 * The cross-thread wake-up path under ThreadSanitizer (make check builds
 * this one with -fsanitize=thread, the others with ASan+UBSan).
 *
 * cp_wake() is the reactor's only entry other threads may call: Task.abort()
 * from another thread and port messages use it.  Here several threads wake
 * the reactor as fast as they can while its owner thread spawns children,
 * reads their output, arms timers and aborts what runs; then the owner
 * closes the reactor while the wakers are still going (a late cp_wake()
 * must stay harmless until cp_reactor_free()).  TSan reports any data race;
 * the checks make sure every wake-up is seen and nothing is left.
 */
#define _GNU_SOURCE
#include "../../csrc/cp.h"
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define EVCAP 256
#define ARENA ((1 << 20) + 4096)
#define WAKERS 4
#define WAKES 2000
#define ROUNDS 20

static int32_t evbuf[EVCAP * CP_REC_WORDS];
static char arena[ARENA];
static atomic_int wakes_sent, wake_errors, stop_waking;

typedef struct waker_arg {
    cp_reactor *r;
    int count;              /* 0: until stop_waking */
} waker_arg;

static void *waker(void *p)
{
    waker_arg *a = p;
    for (int i = 0; a->count == 0 ? !atomic_load(&stop_waking) : i < a->count; i++) {
        if (cp_wake(a->r) != 0)     /* no CHECK here: its counters are not atomic */
            atomic_fetch_add(&wake_errors, 1);
        atomic_fetch_add(&wakes_sent, 1);
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

/* One request: /bin/sh -c script, stdin from /dev/null. */
static int32_t spawn_sh(cp_reactor *r, const char *script)
{
    static const char sh[] = "/bin/sh\0-c";
    char blob[256];
    size_t l = strlen(script) + 1;
    memcpy(blob, sh, sizeof(sh));
    memcpy(blob + sizeof(sh), script, l);
    int32_t desc[CP_SQ_WORDS] = {0};
    desc[CP_SQ_ARGV_OFF] = 0;
    desc[CP_SQ_ARGV_LEN] = (int32_t)(sizeof(sh) + l);
    desc[CP_SQ_ENV_LEN] = -1;
    desc[CP_SQ_CWD_OFF] = -1;
    desc[CP_SQ_FLAGS] = CP_SPAWN_STDIN_NULL;
    int32_t id = -1;
    CHECK_EQ(cp_spawn_batch(r, desc, 1, blob, (int64_t)(sizeof(sh) + l), &id), 1);
    return id;
}

static int all_zero(cp_reactor *r)
{
    struct cp_counters c;
    cp_get_counters(r, &c);
    return !c.slots && !c.fds && !c.children && !c.pending && !c.timers && !c.queued;
}

static void test_wakes_during_runs(int backend)
{
    cp_reactor *r = NULL;
    CHECK_EQ(cp_reactor_new(&r, backend, 0), 0);
    atomic_store(&wakes_sent, 0);
    pthread_t th[WAKERS];
    waker_arg arg = {r, WAKES};
    for (int i = 0; i < WAKERS; i++)
        pthread_create(&th[i], NULL, waker, &arg);
    int wake_records = 0, exits = 0, lines = 0;
    for (int round = 0; round < ROUNDS; round++) {
        spawn_sh(r, "echo a; echo b");
        int32_t slow = spawn_sh(r, "exec sleep 5");
        int32_t timer = cp_timer_add(r, 0.001, 0);
        CHECK(timer > 0);
        int done = 0, timer_fired = 0;
        while (done < 1 || !timer_fired) {
            int32_t used = -1;
            int n = cp_poll(r, 1000, evbuf, EVCAP, arena, ARENA, &used);
            CHECK(n >= 0);
            for (int i = 0; i < n; i++) {
                int type = evbuf[i * CP_REC_WORDS] & 0xff;   /* stream above */
                if (type == CP_EV_WAKE)
                    wake_records++;
                else if (type == CP_EV_EXIT) {
                    exits++;
                    done++;
                } else if (type == CP_EV_LINES)
                    lines++;
                else if (type == CP_EV_TIMER)
                    timer_fired = 1;
            }
        }
        int32_t status = 0;
        CHECK_EQ(cp_abort(r, slow, &status), 0);    /* as Task.abort() does */
    }
    for (int i = 0; i < WAKERS; i++)
        pthread_join(th[i], NULL);
    /* what the wakers sent after the last pass: one more record */
    int32_t used = -1;
    int n = cp_poll(r, 0, evbuf, EVCAP, arena, ARENA, &used);
    for (int i = 0; i < n; i++)
        if ((evbuf[i * CP_REC_WORDS] & 0xff) == CP_EV_WAKE)
            wake_records++;
    CHECK(wake_records >= 1);
    CHECK(wake_records <= atomic_load(&wakes_sent));
    CHECK_EQ(atomic_load(&wakes_sent), WAKERS * WAKES);
    CHECK_EQ(exits, ROUNDS);
    CHECK(lines >= ROUNDS);
    CHECK(all_zero(r));
    cp_reactor_free(r);
}

static void test_wakes_across_close(int backend)
{
    cp_reactor *r = NULL;
    CHECK_EQ(cp_reactor_new(&r, backend, 0), 0);
    atomic_store(&stop_waking, 0);
    pthread_t th[WAKERS];
    waker_arg arg = {r, 0};
    for (int i = 0; i < WAKERS; i++)
        pthread_create(&th[i], NULL, waker, &arg);
    spawn_sh(r, "exec sleep 5");
    int32_t used = -1;
    CHECK(cp_poll(r, 10, evbuf, EVCAP, arena, ARENA, &used) >= 0);
    cp_reactor_close(r);        /* kills and reaps; wakers still running */
    usleep(20000);
    atomic_store(&stop_waking, 1);
    for (int i = 0; i < WAKERS; i++)
        pthread_join(th[i], NULL);
    CHECK(all_zero(r));
    cp_reactor_free(r);
}

int main(void)
{
    test_wakes_during_runs(CP_BACKEND_EPOLL);
    test_wakes_during_runs(CP_BACKEND_POLL);
    test_wakes_across_close(CP_BACKEND_EPOLL);
    CHECK_EQ(atomic_load(&wake_errors), 0);
    CHECK_DONE("test_wake_threads");
}
