#define _GNU_SOURCE
#include "CShims.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

int ts_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int ts_epoll_wait(int epfd, ts_epoll_event *out, int max_events, int64_t timeout_ns) {
    struct epoll_event raw[1024];
    if (max_events > 1024) max_events = 1024;
    struct timespec timeout = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    int n = epoll_pwait2(epfd, raw, max_events, timeout_ns < 0 ? NULL : &timeout, NULL);
    if (n < 0 && errno == ENOSYS) {
        /* Kernels before 5.11: millisecond resolution, rounded up. */
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(epfd, raw, max_events, ms);
    }
    for (int i = 0; i < n; i++) {
        out[i].events = raw[i].events;
        out[i].data = raw[i].data.u64;
    }
    return n;
}

int ts_signalfd_control(void) {
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) return -1;
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int ts_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n != (ssize_t)sizeof info) return -1;
    return (int)info.ssi_signo;
}

int ts_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int ts_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int ts_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_length) {
    if (peer_length) *peer_length = sizeof *peer;
    return accept4(listen_fd, (struct sockaddr *)peer, peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int ts_send_fds(int sock, const int *fds, int count, const void *data, size_t length) {
    if (count < 0 || count > TS_MAX_FDS_PER_MESSAGE || length == 0) { errno = EINVAL; return -1; }
    struct iovec iov = { .iov_base = (void *)data, .iov_len = length };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * TS_MAX_FDS_PER_MESSAGE)]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (count > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)count);
    }
    ssize_t sent;
    do { sent = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return (size_t)sent == length ? 0 : -1;
}

ssize_t ts_recv_fds(int sock, int *fds, int max_fds, int *received, void *data, size_t length) {
    *received = 0;
    if (max_fds < 0 || max_fds > TS_MAX_FDS_PER_MESSAGE) { errno = EINVAL; return -1; }
    struct iovec iov = { .iov_base = data, .iov_len = length };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * TS_MAX_FDS_PER_MESSAGE)]; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *incoming = (int *)CMSG_DATA(cmsg);
        for (int i = 0; i < count; i++) {
            // More than asked for cannot be kept: close them rather than leak them.
            if (*received < max_fds) fds[(*received)++] = incoming[i]; else close(incoming[i]);
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) { errno = EMSGSIZE; return -2; }
    return n;
}

int ts_send_fd(int sock, int fd) {
    char byte = 'L';
    return ts_send_fds(sock, &fd, 1, &byte, 1);
}

int ts_recv_fd(int sock) {
    char byte;
    int fd = -1, received = 0;
    if (ts_recv_fds(sock, &fd, 1, &received, &byte, 1) != 1 || received != 1) return -1;
    return fd;
}

int ts_peer_pid(int sock) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    return credentials.pid;
}

struct ts_resolution {
    struct gaicb request;
    struct addrinfo hints;
    char service[8];
    char host[256];
};

ts_resolution *ts_resolve_start(const char *host, int port) {
    ts_resolution *r = calloc(1, sizeof(ts_resolution));
    if (r == NULL) return NULL;
    snprintf(r->host, sizeof r->host, "%s", host);
    snprintf(r->service, sizeof r->service, "%d", port);
    r->hints.ai_family = AF_UNSPEC;
    r->hints.ai_socktype = SOCK_STREAM;
    r->hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    r->request.ar_name = r->host;
    r->request.ar_service = r->service;
    r->request.ar_request = &r->hints;
    struct gaicb *list[1] = { &r->request };
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

int ts_resolve_poll(ts_resolution *r, struct sockaddr_storage *out, socklen_t *length) {
    int status = gai_error(&r->request);
    if (status == EAI_INPROGRESS) return 1;
    if (status != 0) return status < 0 ? status : -status;
    struct addrinfo *result = r->request.ar_result;
    if (result == NULL || result->ai_addrlen > sizeof *out) return EAI_NONAME;
    memcpy(out, result->ai_addr, result->ai_addrlen);
    *length = result->ai_addrlen;
    return 0;
}

const char *ts_resolve_error_text(int code) { return gai_strerror(code); }

int ts_resolve_free(ts_resolution *r) {
    if (gai_error(&r->request) == EAI_INPROGRESS && gai_cancel(&r->request) != EAI_CANCELED) return 0;
    if (r->request.ar_result != NULL) freeaddrinfo(r->request.ar_result);
    free(r);
    return 1;
}
