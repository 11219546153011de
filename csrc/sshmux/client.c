/*
 * sshmux/client.c - a passenger client of an OpenSSH ControlMaster, the
 * per-node command of a reused ssh connection (clusterpy/_sshmux.py).
 *
 *     _sshmux_client SOCKET FLAGS COMMAND SSH-ARGV...
 *
 * Theory of operation
 * -------------------
 * An ssh process started only to hand its stdin, stdout and stderr to a
 * master spends most of its time loading libraries and reading its
 * configuration.  This program does the same job without them: it
 * connects to the master's socket, exchanges hellos (mux protocol 4,
 * OpenSSH's PROTOCOL.mux), asks for a session running COMMAND with no
 * tty, no forwarding and the whole environment (the master keeps only
 * what its SendEnv allows), passes its three fds, then waits for the exit
 * message and for the master to close the socket, and exits with the
 * remote command's status (255 when the master went away without one).
 *
 * Invariant: until the master says the session is open, nothing has run
 * on the node, so any failure before that (no socket, stale socket,
 * refused session) ends in execvp(SSH-ARGV): ssh then does exactly what
 * it would have done on its own (its own mux attempt, or a direct
 * connection that becomes the new master).
 *
 * FLAGS: "n" passes /dev/null as stdin (ssh -n), "-" nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MUX_MSG_HELLO 0x00000001u
#define MUX_C_NEW_SESSION 0x10000002u
#define MUX_S_EXIT_MESSAGE 0x80000004u
#define MUX_S_SESSION_OPENED 0x80000006u
#define MUX_S_TTY_ALLOC_FAIL 0x80000008u
#define MUX_VERSION 4u
#define REQUEST_ID 1u
#define PACKET_MAX (256u * 1024u)

extern char **environ;

struct buf {
    unsigned char *data;
    size_t len, cap;
};

static int buf_grow(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *data = realloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int put_u32(struct buf *b, uint32_t v)
{
    if (buf_grow(b, 4) < 0)
        return -1;
    b->data[b->len++] = (unsigned char)(v >> 24);
    b->data[b->len++] = (unsigned char)(v >> 16);
    b->data[b->len++] = (unsigned char)(v >> 8);
    b->data[b->len++] = (unsigned char)v;
    return 0;
}

static int put_str(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > PACKET_MAX || put_u32(b, (uint32_t)n) < 0 || buf_grow(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Send the packet in b (its first 4 bytes hold room for the length). */
static int send_packet(int fd, struct buf *b)
{
    uint32_t n = (uint32_t)(b->len - 4);
    b->data[0] = (unsigned char)(n >> 24);
    b->data[1] = (unsigned char)(n >> 16);
    b->data[2] = (unsigned char)(n >> 8);
    b->data[3] = (unsigned char)n;
    return write_all(fd, b->data, b->len);
}

/* Read one packet into b (payload only); -1 at EOF or on error. */
static int read_packet(int fd, struct buf *b)
{
    unsigned char head[4];
    if (read_all(fd, head, 4) < 0)
        return -1;
    uint32_t n = get_u32(head);
    if (n < 4 || n > PACKET_MAX)
        return -1;
    b->len = 0;
    if (buf_grow(b, n) < 0 || read_all(fd, b->data, n) < 0)
        return -1;
    b->len = n;
    return 0;
}

static int send_fd(int sock, int fd)
{
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr hdr;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.space;
    msg.msg_controllen = sizeof(ctl.space);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    for (;;) {
        ssize_t w = sendmsg(sock, &msg, 0);
        if (w == 1)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

static int connect_master(const char *path)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path))
        return -1;
    memcpy(addr.sun_path, path, strlen(path));
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -1;
    if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(sock);
        return -1;
    }
    return sock;
}

/* Hello exchange and session request: 0 once the session is open. */
static int open_session(int sock, const char *command, int stdin_fd, struct buf *b)
{
    b->len = 4;
    if (put_u32(b, MUX_MSG_HELLO) < 0 || put_u32(b, MUX_VERSION) < 0
        || send_packet(sock, b) < 0)
        return -1;
    if (read_packet(sock, b) < 0 || b->len < 8 || get_u32(b->data) != MUX_MSG_HELLO
        || get_u32(b->data + 4) != MUX_VERSION)
        return -1;
    const char *term = getenv("TERM");
    b->len = 4;
    if (put_u32(b, MUX_C_NEW_SESSION) < 0 || put_u32(b, REQUEST_ID) < 0
        || put_str(b, "") < 0                       /* reserved */
        || put_u32(b, 0) < 0 || put_u32(b, 0) < 0   /* tty, X11 */
        || put_u32(b, 0) < 0 || put_u32(b, 0) < 0   /* agent, subsystem */
        || put_u32(b, 0xffffffffu) < 0              /* no escape character */
        || put_str(b, term ? term : "") < 0 || put_str(b, command) < 0)
        return -1;
    for (char **env = environ; env && *env; env++)
        if (strchr(*env, '=') != NULL && put_str(b, *env) < 0)
            return -1;
    if (b->len - 4 > PACKET_MAX || send_packet(sock, b) < 0)
        return -1;
    if (send_fd(sock, stdin_fd) < 0 || send_fd(sock, STDOUT_FILENO) < 0
        || send_fd(sock, STDERR_FILENO) < 0)
        return -1;
    if (read_packet(sock, b) < 0 || b->len < 12 || get_u32(b->data) != MUX_S_SESSION_OPENED
        || get_u32(b->data + 4) != REQUEST_ID)
        return -1;
    return 0;
}

/* After the session opened: the exit status, 255 without one. */
static int wait_exit(int sock, struct buf *b)
{
    int status = 255, seen = 0;
    while (read_packet(sock, b) == 0) {
        uint32_t type = get_u32(b->data);
        if (type == MUX_S_EXIT_MESSAGE && b->len >= 12 && !seen) {
            status = (int)(get_u32(b->data + 8) & 0xff);
            seen = 1;
        } else if (type != MUX_S_TTY_ALLOC_FAIL && type != MUX_S_EXIT_MESSAGE) {
            fprintf(stderr, "mux client: unexpected message 0x%08x from the master\r\n",
                    (unsigned)type);
            return 255;
        }
    }
    return seen ? status : 255;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s SOCKET FLAGS COMMAND SSH-ARGV...\n", argv[0]);
        return 255;
    }
    const char *path = argv[1], *flags = argv[2], *command = argv[3];
    int stdin_fd = STDIN_FILENO;
    if (strchr(flags, 'n') != NULL) {
        stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (stdin_fd < 0)
            stdin_fd = STDIN_FILENO;
    }
    struct buf b = {NULL, 0, 0};
    int sock = connect_master(path);
    if (sock >= 0) {
        if (open_session(sock, command, stdin_fd, &b) == 0) {
            int status = wait_exit(sock, &b);
            close(sock);
            free(b.data);
            return status;
        }
        close(sock);
    }
    free(b.data);
    if (stdin_fd != STDIN_FILENO)
        close(stdin_fd);
    execvp(argv[4], argv + 4);
    fprintf(stderr, "%s: cannot execute %s: %s\n", argv[0], argv[4], strerror(errno));
    return 255;
}
