#ifndef COORDINATION_CCURL_SHIM_H
#define COORDINATION_CCURL_SHIM_H
#include <curl/curl.h>

#if LIBCURL_VERSION_NUM < 0x075000
#error "Coordination needs libcurl 7.80 or newer (Debian 12 has 7.88): CURLOPT_PREREQFUNCTION keeps etcd writes from being sent twice"
#endif

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call. One typed wrapper
// per argument kind the store uses; the option decides which one applies (see curl_easy_setopt(3)).

static inline CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

/// The body sink: CURLOPT_WRITEFUNCTION (and the header function, which has the same shape).
typedef size_t (*ccurl_write_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode ccurl_setopt_write_callback(CURL *handle, CURLoption option, ccurl_write_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

/// CURLOPT_PREREQFUNCTION: called each time curl is about to send the request, its retries
/// included (curl resends a request whose reused connection died before any reply). Returning
/// CURL_PREREQFUNC_ABORT stops a retry, which a write must not have.
typedef int (*ccurl_prereq_callback)(void *context, char *primaryIP, char *localIP, int primaryPort, int localPort);

static inline CURLcode ccurl_setopt_prereq_callback(CURL *handle, ccurl_prereq_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_PREREQFUNCTION, callback);
}

/// CURLOPT_XFERINFOFUNCTION: called at least once a second even on an idle transfer, so a
/// long-running watch can be aborted (by returning non-zero) while no data flows.
typedef int (*ccurl_progress_callback)(void *context, curl_off_t download_total, curl_off_t download_now,
                                       curl_off_t upload_total, curl_off_t upload_now);

static inline CURLcode ccurl_setopt_progress_callback(CURL *handle, ccurl_progress_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

static inline CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

// curl_multi_setopt is variadic too: the same typed wrappers for the multi interface.

static inline CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

static inline CURLMcode ccurl_multi_setopt_pointer(CURLM *multi, CURLMoption option, void *value) {
    return curl_multi_setopt(multi, option, value);
}

/// CURLMOPT_SOCKETFUNCTION: curl says which socket to watch for what (CURL_POLL_IN/OUT/INOUT/REMOVE).
typedef int (*ccurl_socket_callback)(CURL *easy, curl_socket_t socket, int what, void *context, void *socketContext);

static inline CURLMcode ccurl_multi_setopt_socket_callback(CURLM *multi, ccurl_socket_callback callback) {
    return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
}

/// CURLMOPT_TIMERFUNCTION: curl asks to be called back after timeout_ms (-1: no timer).
typedef int (*ccurl_timer_callback)(CURLM *multi, long timeout_ms, void *context);

/// CURL_SOCKET_TIMEOUT, for curl_multi_socket_action when a timer (not a socket) is due.
static inline curl_socket_t ccurl_socket_timeout(void) { return CURL_SOCKET_TIMEOUT; }

static inline CURLMcode ccurl_multi_setopt_timer_callback(CURLM *multi, ccurl_timer_callback callback) {
    return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
}

/// curl_version_info(CURLVERSION_NOW): the macro names an enum case, which Swift does not import.
static inline curl_version_info_data *ccurl_version_info(void) { return curl_version_info(CURLVERSION_NOW); }

#endif
