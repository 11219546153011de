/*
 * spawn.c - start one child process (vfork, then exec).
 *
 * Theory of operation
 * -------------------
 * The parent makes the pipes (O_CLOEXEC, so no other child ever inherits
 * them); the child puts its ends on 0, 1 and 2 and closes every other fd
 * (close_range, where the kernel has it; O_CLOEXEC everywhere covers the
 * rest).  The child gets its own process group (so a kill reaches
 * everything it starts), default dispositions for every signal (Python
 * ignores SIGPIPE; a child inheriting that would print "Broken pipe" where
 * `yes | head -1` is silent), an empty signal mask, and a parent-death
 * signal: SIGKILL when the thread that spawned it ends, so that a process
 * killed without a chance to clean up (SIGKILL, a crash) leaves no command
 * running.  posix_spawn cannot set that last one, hence vfork.
 *
 * vfork: the child borrows the parent's memory and stack until it execs or
 * exits, and the parent thread waits meanwhile.  So the child only makes
 * system calls (no malloc, no stdio), every signal is blocked in the parent
 * around vfork (no handler of the parent may run in the child), and the
 * child reports an exec failure by writing errno into the shared request
 * before _exit: the parent then reaps it and returns -errno (no zombie, no
 * silent exit 127).
 *
 * Only the parent's ends are made non-blocking: the child's stay blocking.
 */
#include "cp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* A pipe whose ends are both >= 3, so that dup2() onto 0..2 always makes a
 * new, inheritable fd (dup2(fd, fd) would keep O_CLOEXEC). */
static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        if (p[i] < 3) {
            int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
            if (fd < 0) {
                int err = errno;
                cp__close_fd(p[0]);
                cp__close_fd(p[1]);
                return -err;
            }
            close(p[i]);
            p[i] = fd;
        }
    }
    return 0;
}

/* What the vfork child needs, and where it leaves an exec error. */
typedef struct {
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int in_r, out_w, err_w;
    pid_t parent;
    volatile int err;
} spawn_req;

static void close_from_3(void)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
        return;
#endif
    /* without close_range: the fds of the parent that lack O_CLOEXEC */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++)
        close(fd);
}

/* The child, between vfork and exec: system calls only. */
__attribute__((noinline)) static void child_exec(spawn_req *q)
{
    int fd = q->in_r;
    if (fd < 0 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        goto fail;
    if (dup2(fd, 0) < 0 || dup2(q->out_w, 1) < 0 || dup2(q->err_w, 2) < 0)
        goto fail;
    close_from_3();
    if (setpgid(0, 0) < 0)
        goto fail;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);     /* EINVAL for reserved ones */
#ifdef PR_SET_PDEATHSIG
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        goto fail;
    if (getppid() != q->parent)
        _exit(127);         /* the parent died before prctl took effect */
#endif
    if (q->cwd && chdir(q->cwd) < 0)
        goto fail;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvpe(q->argv[0], q->argv, q->envp);
fail:
    q->err = errno ? errno : EINVAL;
    _exit(127);
}

/* vfork + exec; 0 and the pid, or an errno value (the child reaped). */
static int vfork_exec(spawn_req *q, pid_t *pid)
{
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    q->err = 0;
    q->parent = getpid();
    pid_t p = vfork();
    if (p == 0)
        child_exec(q);      /* never returns */
    int err = p < 0 ? errno : q->err;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (p > 0 && err) {
        while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (!err)
        *pid = p;
    return err;
}

int cp__spawn(char *const argv[], char *const envp[], const char *cwd,
              int flags, cp__spawn_out *out)
{
    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
    int rc = 0;
    if (!(flags & CP_SPAWN_STDIN_NULL))
        rc = make_pipe(in);
    if (!rc)
        rc = make_pipe(o);
    if (!rc && !(flags & CP_SPAWN_STDERR_MERGE))
        rc = make_pipe(e);
    if (rc < 0)
        goto fail;

    spawn_req q = {argv, envp, cwd, in[0], o[1], e[1] >= 0 ? e[1] : o[1], 0, 0};
    rc = vfork_exec(&q, &out->pid);
    if (rc) {
        rc = -rc;
        goto fail;
    }
    cp__close_fd(in[0]);
    cp__close_fd(o[1]);
    cp__close_fd(e[1]);
    out->in_fd = in[1];
    out->out_fd = o[0];
    out->err_fd = e[0];
    /* a fresh pipe end has no other status flag to keep: one syscall */
    fcntl(o[0], F_SETFL, O_NONBLOCK);
    if (in[1] >= 0)
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    if (e[0] >= 0)
        fcntl(e[0], F_SETFL, O_NONBLOCK);
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        cp__close_fd(in[i]);
        cp__close_fd(o[i]);
        cp__close_fd(e[i]);
    }
    return rc;
}
