#ifndef COORDINATION_CPROCESSCONTROL_SHIM_H
#define COORDINATION_CPROCESSCONTROL_SHIM_H
#include <sys/prctl.h>

// prctl is variadic, which Swift cannot call.

/// Makes the calling process a child subreaper (Linux 3.4+): processes orphaned below it are
/// re-parented to it rather than to init, so it can still find and stop what a child left behind
/// (a double fork, a setsid). Returns 0, or -1 with errno set.
static inline int cprocess_become_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

#endif
