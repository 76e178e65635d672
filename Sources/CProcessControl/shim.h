#ifndef COORDINATION_CPROCESSCONTROL_SHIM_H
#define COORDINATION_CPROCESSCONTROL_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // pipe2
#endif
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// prctl and syscall are variadic, which Swift cannot call.

/// Makes the calling process a child subreaper (Linux 3.4+): processes orphaned below it are
/// re-parented to it rather than to init, so it can still find and stop what a child left behind
/// (a double fork, a setsid). Returns 0, or -1 with errno set.
static inline int cprocess_become_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/// A descriptor that names process `pid` for as long as it is open, whatever number the system
/// later gives another process (Linux 5.3+). Returns -1 with errno set (ENOSYS on older kernels).
static inline int cprocess_pidfd_open(int pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// Sends `signal` to the process `pidfd` names (Linux 5.1+). Returns 0, or -1 with errno set.
static inline int cprocess_pidfd_send_signal(int pidfd, int signal) {
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// A pipe whose two ends are close-on-exec from the start (Linux 2.6.27+): set afterwards, a
/// child spawned meanwhile by another thread could inherit them. Returns 0, or -1 with errno set.
static inline int cprocess_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

#endif
