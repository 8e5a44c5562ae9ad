#include "kube_error.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

struct code_info {
    const char *name;
    const char *reason;
    int http_status;
    const char *message;
};

static const struct code_info code_table[KUBE_CODE_COUNT] = {
#define KUBE_ERROR_ROW(name, reason, http, message) [KUBE_##name] = {#name, reason, http, message},
    KUBE_ERROR_CODES(KUBE_ERROR_ROW)
#undef KUBE_ERROR_ROW
};

static const struct code_info *info(enum kube_code code)
{
    return (unsigned)code < KUBE_CODE_COUNT ? &code_table[code] : &code_table[KUBE_HTTP_OTHER];
}

const char *kube_code_name(enum kube_code code) { return info(code)->name; }
const char *kube_code_message(enum kube_code code) { return info(code)->message; }
const char *kube_code_reason(enum kube_code code) { return info(code)->reason; }

enum kube_code kube_code_from_http(int http_status, const char *reason)
{
    if (http_status >= 200 && http_status < 300)
        return KUBE_OK;
    if (reason && *reason)
        for (int c = 0; c < KUBE_CODE_COUNT; c++)
            if (code_table[c].reason && strcmp(code_table[c].reason, reason) == 0)
                return (enum kube_code)c;
    /* Without a reason (text bodies, proxies) the status decides; 409 and
     * 410 have two reasons each, and Conflict and Gone are the generic ones. */
    switch (http_status) {
    case 409: return KUBE_CONFLICT;
    case 410: return KUBE_GONE;
    default: break;
    }
    for (int c = 0; c < KUBE_CODE_COUNT; c++)
        if (code_table[c].http_status == http_status)
            return (enum kube_code)c;
    if (http_status >= 500)
        return KUBE_INTERNAL_ERROR;
    return KUBE_HTTP_OTHER;
}

enum kube_code kube_code_from_curl(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK: return KUBE_OK;
    case CURLE_OUT_OF_MEMORY: return KUBE_NO_MEMORY;
    case CURLE_COULDNT_RESOLVE_HOST: return KUBE_RESOLVE;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_PROXY: return KUBE_PROXY;
    case CURLE_COULDNT_CONNECT: return KUBE_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return KUBE_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED: return KUBE_TLS;
    case CURLE_ABORTED_BY_CALLBACK: return KUBE_CANCELLED;
    default: return KUBE_TRANSPORT;
    }
}

int kube_error_set(struct kube_error *err, enum kube_code code, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    err->http_status = info(code)->http_status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

void kube_error_clear(struct kube_error *err)
{
    if (!err)
        return;
    err->code = KUBE_OK;
    err->http_status = 0;
    err->message[0] = '\0';
}
