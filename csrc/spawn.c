/*
 * spawn.c - start one child process with posix_spawn.
 *
 * Theory of operation
 * -------------------
 * The parent makes the pipes (O_CLOEXEC, so no other child ever inherits
 * them), posix_spawn's file actions put the child's ends on 0, 1 and 2 and
 * close every other fd (closefrom, where the C library has it; O_CLOEXEC
 * everywhere covers the rest).  The attributes give the child its own
 * process group (so a kill reaches everything it starts), default
 * dispositions for every signal (Python ignores SIGPIPE; a child inheriting
 * that would print "Broken pipe" where `yes | head -1` is silent) and an
 * empty signal mask.  glibc's posix_spawn runs the child with CLONE_VFORK
 * and reports an exec failure (ENOENT, EACCES...) as its return value,
 * having already reaped the failed child: no zombie, no silent exit 127.
 *
 * Only the parent's ends are made non-blocking: the child's stay blocking.
 */
#include "cp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
#define CP__HAVE_CLOSEFROM 1
#endif
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 29)
#define CP__HAVE_ADDCHDIR 1
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

static int file_actions(posix_spawn_file_actions_t *fa, int in_r, int out_w,
                        int err_w, const char *cwd)
{
    int rc;
    if (in_r >= 0)
        rc = posix_spawn_file_actions_adddup2(fa, in_r, 0);
    else
        rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(fa, out_w, 1);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(fa, err_w, 2);
#ifdef CP__HAVE_CLOSEFROM
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
#endif
    if (!rc && cwd) {
#ifdef CP__HAVE_ADDCHDIR
        rc = posix_spawn_file_actions_addchdir_np(fa, cwd);
#else
        rc = ENOSYS;
#endif
    }
    return rc;
}

static int attributes(posix_spawnattr_t *at)
{
    sigset_t all, none;
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none);
    int rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP
                                      | POSIX_SPAWN_SETSIGDEF
                                      | POSIX_SPAWN_SETSIGMASK);
    if (!rc)
        rc = posix_spawnattr_setpgroup(at, 0);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(at, &all);
    if (!rc)
        rc = posix_spawnattr_setsigmask(at, &none);
    return rc;
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

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    rc = posix_spawn_file_actions_init(&fa);
    if (rc) {
        rc = -rc;
        goto fail;
    }
    rc = posix_spawnattr_init(&at);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        rc = -rc;
        goto fail;
    }
    rc = file_actions(&fa, in[0], o[1], e[1] >= 0 ? e[1] : o[1], cwd);
    if (!rc)
        rc = attributes(&at);
    if (!rc)
        rc = posix_spawnp(&out->pid, argv[0], &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
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
