#ifndef COORDINATION_CZOOKEEPER_SHIM_H
#define COORDINATION_CZOOKEEPER_SHIM_H
// zookeeper.h declares the zoo_* calls only for the multi-threaded library.
#define THREADED 1
#include <zookeeper/zookeeper.h>

// The predefined ACL lists are mutable C globals, which Swift 6 refuses to touch from concurrent
// code. The C client only reads them, so handing out their addresses is safe.
static inline const struct ACL_vector *coordination_zoo_open_acl(void) {
    return &ZOO_OPEN_ACL_UNSAFE;
}
static inline const struct ACL_vector *coordination_zoo_creator_all_acl(void) {
    return &ZOO_CREATOR_ALL_ACL;
}

// Level 0 is not a ZooLogLevel case, but the client treats it as "log nothing": a library must
// not write to the application's stderr.
static inline void coordination_zoo_silence_log(void) {
    zoo_set_debug_level((ZooLogLevel)0);
}
#endif
