/* One table of everything that can go wrong in the Kubernetes client:
 * our own failures (kubeconfig, credentials), transport failures (mapped
 * from libcurl) and the API server's Status reasons. Each entry names the
 * code, the Status `reason` the API server uses for it (or NULL), the HTTP
 * status it arrives with (or 0) and a short message for people. */
#ifndef KUBE_ERROR_H
#define KUBE_ERROR_H

#define KUBE_ERROR_CODES(_) \
    _(OK, NULL, 0, "ok") \
    _(NO_MEMORY, NULL, 0, "out of memory") \
    _(CONFIG_READ, NULL, 0, "cannot read kubeconfig") \
    _(CONFIG_SYNTAX, NULL, 0, "kubeconfig is not valid YAML or JSON") \
    _(CONFIG_SHAPE, NULL, 0, "kubeconfig field has the wrong type") \
    _(NO_CONFIG, NULL, 0, "no configuration has been provided") \
    _(NO_CURRENT_CONTEXT, NULL, 0, "no current context is set") \
    _(CONTEXT_NOT_FOUND, NULL, 0, "context not found") \
    _(CLUSTER_NOT_FOUND, NULL, 0, "cluster not found") \
    _(USER_NOT_FOUND, NULL, 0, "user not found") \
    _(NO_SERVER, NULL, 0, "cluster has no server") \
    _(NO_CREDENTIALS, NULL, 0, "user has no credentials") \
    _(BAD_BASE64, NULL, 0, "invalid base64 data") \
    _(BAD_PEM, NULL, 0, "not a PEM certificate or key") \
    _(CERT_FILE, NULL, 0, "cannot read certificate or key file") \
    _(AUTH_PROVIDER, NULL, 0, "auth-provider plugins are not supported") \
    _(TOKEN_FILE, NULL, 0, "cannot read token file") \
    _(EXEC_API_VERSION, NULL, 0, "unsupported credential plugin apiVersion") \
    _(EXEC_NOT_FOUND, NULL, 0, "credential plugin not found") \
    _(EXEC_INTERACTIVE, NULL, 0, "credential plugin needs a terminal") \
    _(EXEC_FAILED, NULL, 0, "credential plugin failed") \
    _(EXEC_OUTPUT, NULL, 0, "credential plugin output is not a valid ExecCredential") \
    _(RESOLVE, NULL, 0, "cannot resolve the API server's host") \
    _(CONNECT, NULL, 0, "cannot connect to the API server") \
    _(TLS, NULL, 0, "TLS handshake or certificate verification failed") \
    _(PROXY, NULL, 0, "proxy failed") \
    _(TIMEOUT, NULL, 0, "request timed out") \
    _(TRANSPORT, NULL, 0, "transport error") \
    _(TOO_LARGE, NULL, 0, "answer too large") \
    _(CANCELLED, NULL, 0, "request cancelled") \
    _(WATCH_DECODE, NULL, 0, "malformed watch stream") \
    _(BAD_PATH, NULL, 0, "request path with a '.' or '..' segment") \
    _(BAD_REQUEST, "BadRequest", 400, "bad request") \
    _(UNAUTHORIZED, "Unauthorized", 401, "unauthorized: credentials were rejected") \
    _(FORBIDDEN, "Forbidden", 403, "forbidden") \
    _(NOT_FOUND, "NotFound", 404, "not found") \
    _(METHOD_NOT_ALLOWED, "MethodNotAllowed", 405, "method not allowed") \
    _(NOT_ACCEPTABLE, "NotAcceptable", 406, "not acceptable") \
    _(ALREADY_EXISTS, "AlreadyExists", 409, "already exists") \
    _(CONFLICT, "Conflict", 409, "conflict") \
    _(EXPIRED, "Expired", 410, "resource version expired") \
    _(GONE, "Gone", 410, "gone") \
    _(REQUEST_ENTITY_TOO_LARGE, "RequestEntityTooLarge", 413, "request too large") \
    _(UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", 415, "unsupported media type") \
    _(INVALID, "Invalid", 422, "invalid") \
    _(TOO_MANY_REQUESTS, "TooManyRequests", 429, "too many requests") \
    _(INTERNAL_ERROR, "InternalError", 500, "internal error") \
    _(SERVICE_UNAVAILABLE, "ServiceUnavailable", 503, "service unavailable") \
    _(SERVER_TIMEOUT, "Timeout", 504, "server timeout") \
    _(HTTP_OTHER, NULL, 0, "unexpected HTTP status")

enum kube_code {
#define KUBE_ERROR_ENUM(name, reason, http, message) KUBE_##name,
    KUBE_ERROR_CODES(KUBE_ERROR_ENUM)
#undef KUBE_ERROR_ENUM
    KUBE_CODE_COUNT
};

/* A failure with its details: `message` is complete and safe to show (it
 * never holds a credential). */
struct kube_error {
    enum kube_code code;
    int http_status;
    char message[512];
};

const char *kube_code_name(enum kube_code code);
const char *kube_code_message(enum kube_code code);
const char *kube_code_reason(enum kube_code code);

/* The API server's Status `reason` when it gave one, else its HTTP status. */
enum kube_code kube_code_from_http(int http_status, const char *reason);
/* A libcurl CURLcode (passed as int so this header needs no curl.h). */
enum kube_code kube_code_from_curl(int curl_code);

/* Sets code and a formatted message; returns -1 so callers can
 * `return kube_error_set(...)`. `err` may be NULL. */
int kube_error_set(struct kube_error *err, enum kube_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void kube_error_clear(struct kube_error *err);

#endif
