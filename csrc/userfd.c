/*
 * userfd.c - fds that Python registers (StreamWorker-style streams).
 *
 * Theory of operation
 * -------------------
 * A user fd is one slot with one watch, serving a read side (CP_FD_READ),
 * a write side (CP_FD_WRITE) or both.  The read side is watched from the
 * start; the write side only while it has queued data or a pending EOF.
 * The slot ends by itself once every side it serves is closed: after the
 * read side's EOF record and the write side's WCLOSED record.  Closing the
 * write side of a socket shuts down its sending half, so that the peer sees
 * EOF even while the fd stays open.  The fd itself is closed only with
 * CP_FD_CLOSE.
 *
 * epoll registers an fd once; if Python registers the same fd twice (a
 * reader and a writer on one socket), the second slot watches a dup of it.
 */
#include "cp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void ufd_destroy(cp_reactor *r, cp__ufd *u);

/* The backend said EEXIST: another slot watches this fd.  Watch a dup. */
static int ufd_rewatch(cp_reactor *r, cp__watch *w)
{
    cp__ufd *u = w->owner;
    if (u->dupfd >= 0)
        return -EEXIST;
    u->dupfd = fcntl(u->fd, F_DUPFD_CLOEXEC, 3);
    if (u->dupfd < 0)
        return -errno;
    r->nfds++;
    w->fd = u->dupfd;
    return r->be->update(r, w);
}

static int ufd_serve(cp_reactor *r, cp__watch *w, uint32_t ev);

static const cp__watch_ops ufd_ops = {ufd_serve, ufd_rewatch};

static void ufd_free(cp_reactor *r, void *obj)
{
    cp__ufd *u = obj;
    (void)r;
    cp__rs_fini(&u->rd);
    cp__wq_clear(&u->wr.q);
    free(u);
}

/* A user fd has one stream, 0: its read side, its write side or both. */
static int ufd_stream(cp_reactor *r, void *obj, int stream, cp__sref *ref,
                      int alloc)
{
    cp__ufd *u = obj;
    (void)r;
    (void)alloc;
    if (stream != 0)
        return -EINVAL;
    if (u->flags & CP_FD_READ)
        ref->rs = &u->rd;
    if (u->flags & CP_FD_WRITE) {
        ref->ws = &u->wr;
        ref->w = &u->w;
    }
    return 0;
}

const cp__kind cp__ufd_kind = {ufd_stream, ufd_free};

int cp_fd_add(cp_reactor *r, int fd, int flags)
{
    if (fd < 0)
        return -EBADF;
    if (!(flags & (CP_FD_READ | CP_FD_WRITE)) || (flags & ~31)
        || ((flags & CP_FD_RAW) && (flags & CP_FD_DISCARD)))
        return -EINVAL;
    int rc = cp__set_nonblock(fd);
    if (rc < 0)
        return rc;
    cp__ufd *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->fd = fd;
    u->dupfd = -1;
    u->flags = flags;
    u->w.fd = fd;
    u->w.ops = &ufd_ops;
    u->w.bidx = -1;
    u->w.owner = u;
    cp__rs_init(&u->rd, (flags & CP_FD_RAW) ? CP_MODE_RAW
                : (flags & CP_FD_DISCARD) ? CP_MODE_DISCARD : CP_MODE_LINES);
    u->rd.open = (flags & CP_FD_READ) != 0;
    cp__ws_init(&u->wr, (flags & CP_FD_WRITE) != 0);
    int32_t id = cp__slot_alloc(&r->slots, CP__K_FD, u);
    if (id < 0) {
        free(u);
        return id;
    }
    u->id = id;
    r->nfds++;
    if (u->rd.open && (rc = cp__watch_set(r, &u->w, CP__IN)) < 0) {
        u->flags &= ~CP_FD_CLOSE;   /* refused: the fd stays the caller's */
        ufd_destroy(r, u);
        return rc;
    }
    u->next = r->ufds;
    if (r->ufds)
        r->ufds->prev = u;
    r->ufds = u;
    return id;
}

/* Stop watching, close what is ours, retire the id (no record; the memory
 * goes at the start of the next pass: the ready array may point to it). */
static void ufd_destroy(cp_reactor *r, cp__ufd *u)
{
    cp__watch_set(r, &u->w, 0);
    u->w.fd = -1;
    cp__close_fd(u->dupfd);
    if (u->flags & CP_FD_CLOSE)
        close(u->fd);
    r->nfds -= u->dupfd >= 0 ? 2 : 1;
    cp__ws_fini(r, &u->wr);
    cp__rs_fini(&u->rd);
    cp__slot_retire(&r->slots, u->id, 0);
    if (u->prev)
        u->prev->next = u->next;
    else if (r->ufds == u)
        r->ufds = u->next;
    if (u->next)
        u->next->prev = u->prev;
    u->prev = u->next = NULL;
}

int cp_fd_remove(cp_reactor *r, int32_t id)
{
    cp__ufd *u = cp__slot_get(&r->slots, id, CP__K_FD, NULL);
    if (!u)
        return -ESTALE;
    ufd_destroy(r, u);
    return 0;
}

static int ufd_serve(cp_reactor *r, cp__watch *w, uint32_t ev)
{
    cp__ufd *u = w->owner;
    if (!cp__room(r, CP__WORK_RECS))
        return -1;
    if ((ev & CP__IN) && u->rd.open) {
        int rc = cp__rs_read(r, &u->rd, w, u->id, 0);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            cp__rs_fini(&u->rd);
            cp__watch_set(r, &u->w, w->want & ~CP__IN);
        }
    }
    if ((ev & CP__OUT) && u->wr.open) {
        int rc = cp__ws_write(r, &u->wr, w, u->id, 0);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            shutdown(w->fd, SHUT_WR);   /* a socket's peer sees EOF now */
            cp__watch_set(r, &u->w, w->want & ~CP__OUT);
        }
    }
    if (!u->rd.open && !u->wr.open)
        ufd_destroy(r, u);
    return 0;
}

void cp__ufds_close(cp_reactor *r)
{
    while (r->ufds)
        ufd_destroy(r, r->ufds);
}
