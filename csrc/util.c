/*
 * util.c - small system helpers shared by the reactor files.
 *
 * Theory of operation
 * -------------------
 * Nothing here keeps state.  Time is CLOCK_MONOTONIC in nanoseconds; arrays
 * grow by doubling; close() is never retried on EINTR (on Linux the fd is
 * released whatever close() returns).
 */
#include "cp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int64_t cp__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cp__set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

void cp__close_fd(int fd)
{
    if (fd >= 0)
        close(fd);
}

int cp__grow(void **v, int32_t *cap, int32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int32_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *nv = realloc(*v, (size_t)ncap * elem);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}
