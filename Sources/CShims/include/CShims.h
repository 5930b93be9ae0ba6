#ifndef TICKSTREAM_CSHIMS_H
#define TICKSTREAM_CSHIMS_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/// One epoll readiness report, unpacked. glibc declares `struct epoll_event` packed on
/// x86_64, which Swift cannot lay out; this mirror is ordinary.
typedef struct {
    uint32_t events;
    uint64_t data;
} ts_epoll_event;

/// epoll_ctl with the event spelled as plain values.
int ts_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);

/// epoll_pwait2 into unpacked events, at most 1024 per call. `timeout_ns` < 0 waits for an
/// event; nanosecond timeouts let sub-millisecond timers fire on time (epoll_wait rounds to ms).
int ts_epoll_wait(int epfd, ts_epoll_event *out, int max_events, int64_t timeout_ns);

/// epoll_create1(EPOLL_CLOEXEC).
int ts_epoll_create(void);

enum { TS_EPOLL_CTL_ADD = 1, TS_EPOLL_CTL_DEL = 2, TS_EPOLL_CTL_MOD = 3 };

/// A non-blocking, close-on-exec eventfd for waking a loop from another thread.
int ts_eventfd(void);

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC; the peer's address goes to `peer` unless it is NULL.
int ts_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_length);

/// Sends `fd` over the Unix socket `sock` (SCM_RIGHTS) with a one-byte message. 0 or -1.
int ts_send_fd(int sock, int fd);

/// Receives a descriptor sent with ts_send_fd; -1 on failure.
int ts_recv_fd(int sock);

/// The process id at the other end of a connected Unix socket (SO_PEERCRED); -1 on failure.
int ts_peer_pid(int sock);

/// Most descriptors one message carries (the kernel's SCM_MAX_FD is 253).
#define TS_MAX_FDS_PER_MESSAGE 250

/// Sends `length` bytes (at least one) with `count` descriptors attached (SCM_RIGHTS) in one
/// sendmsg. 0 when all of it went, else -1 (errno set).
int ts_send_fds(int sock, const int *fds, int count, const void *data, size_t length);

/// Receives up to `length` bytes and the descriptors attached to them (close-on-exec) into
/// `fds`, setting `*received`. Returns the bytes read, 0 at EOF, -1 on error, -2 when
/// descriptors were cut off (the sender sent more than the receiver could take).
ssize_t ts_recv_fds(int sock, int *fds, int max_fds, int *received, void *data, size_t length);

/// Blocks SIGTERM, SIGINT and SIGHUP for the calling thread (and threads it starts) and
/// returns a signalfd that reports them, close-on-exec and non-blocking. Also ignores SIGPIPE,
/// so a write to a reset socket is an EPIPE value, not a process death.
int ts_signalfd_control(void);

/// Reads one pending signal number from a signalfd; -1 when none is pending.
int ts_signalfd_read(int fd);

/// A name resolution running in the background (glibc's getaddrinfo_a), so the event loop
/// never blocks on DNS. Poll it from a timer; free it once it is no longer pending.
typedef struct ts_resolution ts_resolution;

/// Starts resolving `host` (a name or a literal) for a TCP connection to `port`. NULL when it
/// could not even start.
ts_resolution *ts_resolve_start(const char *host, int port);

/// 1 while pending; 0 when done with the first address in `out`; otherwise a negative EAI_*
/// code (ts_resolve_error_text names it).
int ts_resolve_poll(ts_resolution *resolution, struct sockaddr_storage *out, socklen_t *length);

/// The text of a negative result of ts_resolve_poll.
const char *ts_resolve_error_text(int code);

/// Cancels if still pending; frees and returns 1 once finished, 0 if the lookup still runs
/// (call again later).
int ts_resolve_free(ts_resolution *resolution);

#endif
