/* The load checks of proxy-wasm-cpp-host, on the .wasm bytes: a small,
 * bounds-checked reader of the type, import, function and export sections.
 * It allocates nothing: a function's type is found again by rescanning,
 * which is cheap for the few dozen imports and exports a filter has. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host.h"

/* Signatures are written "params:results" with i = i32, I = i64, f = f32,
 * F = f64 ("iI:i" is (i32, i64) -> i32). */
struct known_function {
    const char *module; /* imports only */
    const char *name;
    const char *signature;
    uint32_t bit; /* exports the host binds; 0 for the others */
};

static const char ENV[] = "env";
static const char WASI[] = "wasi_snapshot_preview1";

/* Every import host.c defines; tests/host/imports.wat lists the same. */
static const struct known_function host_imports[] = {
    {ENV, "proxy_log", "iii:i", 0},
    {ENV, "proxy_get_log_level", "i:i", 0},
    {ENV, "proxy_get_current_time_nanoseconds", "i:i", 0},
    {ENV, "proxy_set_tick_period_milliseconds", "i:i", 0},
    {ENV, "proxy_get_buffer_bytes", "iiiii:i", 0},
    {ENV, "proxy_get_buffer_status", "iii:i", 0},
    {ENV, "proxy_get_header_map_value", "iiiii:i", 0},
    {ENV, "proxy_get_header_map_pairs", "iii:i", 0},
    {ENV, "proxy_get_header_map_size", "ii:i", 0},
    {ENV, "proxy_add_header_map_value", "iiiii:i", 0},
    {ENV, "proxy_replace_header_map_value", "iiiii:i", 0},
    {ENV, "proxy_remove_header_map_value", "iii:i", 0},
    {ENV, "proxy_get_property", "iiii:i", 0},
    {ENV, "proxy_send_local_response", "iiiiiiii:i", 0},
    {ENV, "proxy_continue_stream", "i:i", 0},
    {ENV, "proxy_close_stream", "i:i", 0},
    {ENV, "proxy_set_effective_context", "i:i", 0},
    {ENV, "proxy_done", ":i", 0},
    {ENV, "proxy_define_metric", "iiii:i", 0},
    {ENV, "proxy_increment_metric", "iI:i", 0},
    {ENV, "proxy_record_metric", "iI:i", 0},
    {ENV, "proxy_get_metric", "ii:i", 0},
    {WASI, "random_get", "ii:i", 0},
    {WASI, "fd_write", "iiii:i", 0},
    {WASI, "fd_fdstat_get", "ii:i", 0},
    {WASI, "clock_time_get", "iIi:i", 0},
    {WASI, "environ_sizes_get", "ii:i", 0},
    {WASI, "environ_get", "ii:i", 0},
    {WASI, "args_sizes_get", "ii:i", 0},
    {WASI, "args_get", "ii:i", 0},
    {WASI, "proc_exit", "i:", 0},
    {WASI, "fd_close", "i:i", 0},
    {WASI, "fd_seek", "iIii:i", 0},
    {WASI, "fd_read", "iiii:i", 0},
    {WASI, "fd_prestat_get", "ii:i", 0},
    {WASI, "fd_prestat_dir_name", "iii:i", 0},
    {WASI, "path_open", "iiiiiIIii:i", 0},
};

/* The exports of ABI 0.2.1 that cpp-host looks up with a fixed signature. */
static const struct known_function known_exports[] = {
    {NULL, "_initialize", ":", PW_EXPORT_INITIALIZE},
    {NULL, "_start", ":", PW_EXPORT_START},
    {NULL, "malloc", "i:i", PW_EXPORT_MALLOC},
    {NULL, "proxy_on_memory_allocate", "i:i", PW_EXPORT_ON_MEMORY_ALLOCATE},
    {NULL, "proxy_on_context_create", "ii:", PW_EXPORT_ON_CONTEXT_CREATE},
    {NULL, "proxy_on_vm_start", "ii:i", PW_EXPORT_ON_VM_START},
    {NULL, "proxy_on_configure", "ii:i", PW_EXPORT_ON_CONFIGURE},
    {NULL, "proxy_on_tick", "i:", PW_EXPORT_ON_TICK},
    {NULL, "proxy_on_request_headers", "iii:i", PW_EXPORT_ON_REQUEST_HEADERS},
    {NULL, "proxy_on_done", "i:i", PW_EXPORT_ON_DONE},
    {NULL, "proxy_on_log", "i:", PW_EXPORT_ON_LOG},
    {NULL, "proxy_on_delete", "i:", PW_EXPORT_ON_DELETE},
    {NULL, "proxy_on_queue_ready", "ii:", 0},
    {NULL, "proxy_on_new_connection", "i:i", 0},
    {NULL, "proxy_on_downstream_data", "iii:i", 0},
    {NULL, "proxy_on_upstream_data", "iii:i", 0},
    {NULL, "proxy_on_downstream_connection_close", "ii:", 0},
    {NULL, "proxy_on_upstream_connection_close", "ii:", 0},
    {NULL, "proxy_on_request_body", "iii:i", 0},
    {NULL, "proxy_on_request_trailers", "ii:i", 0},
    {NULL, "proxy_on_request_metadata", "ii:i", 0},
    {NULL, "proxy_on_response_headers", "iii:i", 0},
    {NULL, "proxy_on_response_body", "iii:i", 0},
    {NULL, "proxy_on_response_trailers", "ii:i", 0},
    {NULL, "proxy_on_response_metadata", "ii:i", 0},
    {NULL, "proxy_on_http_call_response", "iiiii:", 0},
    {NULL, "proxy_on_grpc_receive_initial_metadata", "iii:", 0},
    {NULL, "proxy_on_grpc_receive_trailing_metadata", "iii:", 0},
    {NULL, "proxy_on_grpc_receive", "iii:", 0},
    {NULL, "proxy_on_grpc_close", "iii:", 0},
    {NULL, "proxy_on_foreign_function", "iii:i", 0},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

enum { SECTION_TYPE = 1, SECTION_IMPORT = 2, SECTION_FUNCTION = 3, SECTION_EXPORT = 7 };
enum { KIND_FUNCTION = 0, KIND_TABLE = 1, KIND_MEMORY = 2, KIND_GLOBAL = 3 };
#define SIGNATURE_MAX 40 /* longer signatures match nothing the host knows */

struct reader {
    const uint8_t *p, *end;
    bool bad;
};

struct bytes {
    const uint8_t *p;
    uint32_t len;
};

struct section {
    const uint8_t *p; /* body, after the entry count */
    const uint8_t *end;
    uint32_t count;
    bool present;
};

struct module_view {
    struct section types, imports, functions, exports;
    uint32_t imported_functions;
};

static uint8_t read_byte(struct reader *r) {
    if (r->bad || r->p >= r->end) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}

static uint32_t read_u32(struct reader *r) {
    uint32_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        uint8_t b = read_byte(r);
        if (r->bad)
            return 0;
        if (shift == 28 && (b & 0x70)) {
            r->bad = true; /* more than 32 bits */
            return 0;
        }
        value |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return value;
    }
    r->bad = true;
    return 0;
}

static struct bytes read_bytes(struct reader *r, uint32_t len) {
    struct bytes b = {r->p, len};
    if (r->bad || (size_t)(r->end - r->p) < len) {
        r->bad = true;
        b.p = r->p;
        b.len = 0;
        return b;
    }
    r->p += len;
    return b;
}

static struct bytes read_name(struct reader *r) { return read_bytes(r, read_u32(r)); }

static bool bytes_equal(struct bytes b, const char *s) { return strlen(s) == b.len && memcmp(b.p, s, b.len) == 0; }

__attribute__((format(printf, 2, 3))) static int fail(struct pw_wasm_report *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
    out->ok = false;
    return 0;
}

/* A name from the module, made printable for a message. */
static const char *printable(struct bytes name, char *buf, size_t size) {
    size_t n = name.len < size - 1 ? name.len : size - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (name.p[i] >= 0x20 && name.p[i] < 0x7f) ? (char)name.p[i] : '?';
    buf[n] = '\0';
    return buf;
}

static void append(char *buf, size_t size, size_t *used, const char *text) {
    size_t n = strlen(text);
    if (*used + n >= size)
        n = size - 1 - *used;
    memcpy(buf + *used, text, n);
    *used += n;
    buf[*used] = '\0';
}

/* "iI:i" -> "(i32, i64) -> i32"; no results -> "nil". */
static const char *render_signature(const char *sig, char *buf, size_t size) {
    size_t used = 0;
    bool first = true;
    buf[0] = '\0';
    append(buf, size, &used, "(");
    for (const char *c = sig; *c; c++) {
        if (*c == ':') {
            append(buf, size, &used, c[1] ? ") -> " : ") -> nil");
            first = true;
            continue;
        }
        if (!first)
            append(buf, size, &used, ", ");
        append(buf, size, &used, *c == 'i' ? "i32" : *c == 'I' ? "i64" : *c == 'f' ? "f32" : *c == 'F' ? "f64" : "?");
        first = false;
    }
    return buf;
}

/* The signature of type `index` in the "params:results" form, "?" for a
 * type too long or with other value types; false if there is no such type. */
static bool type_signature(const struct module_view *m, uint32_t index, char sig[SIGNATURE_MAX]) {
    struct reader r = {m->types.p, m->types.end, false};
    if (index >= m->types.count)
        return false;
    for (uint32_t t = 0; t <= index; t++) {
        if (read_byte(&r) != 0x60)
            return false;
        size_t used = 0;
        bool representable = true;
        for (int part = 0; part < 2; part++) {
            uint32_t n = read_u32(&r);
            for (uint32_t i = 0; i < n && !r.bad; i++) {
                uint8_t vt = read_byte(&r);
                char c = vt == 0x7f ? 'i' : vt == 0x7e ? 'I' : vt == 0x7d ? 'f' : vt == 0x7c ? 'F' : '?';
                if (c == '?' || used + 2 >= SIGNATURE_MAX)
                    representable = false;
                else if (t == index)
                    sig[used++] = c;
            }
            if (part == 0 && t == index)
                sig[used++] = ':';
        }
        if (r.bad)
            return false;
        if (t == index)
            sig[used] = '\0';
        if (t == index && !representable)
            strcpy(sig, "?");
    }
    return true;
}

/* Locates the sections; checks their lengths. */
static int scan_sections(struct module_view *m, const uint8_t *wasm, size_t len, struct pw_wasm_report *out) {
    static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    if (len < sizeof header || memcmp(wasm, header, sizeof header) != 0)
        return fail(out, "not a wasm module: bad magic or version");
    struct reader r = {wasm + sizeof header, wasm + len, false};
    while (r.p < r.end) {
        uint8_t id = read_byte(&r);
        uint32_t size = read_u32(&r);
        struct bytes body = read_bytes(&r, size);
        if (r.bad)
            return fail(out, "malformed wasm: section %u overruns the file", id);
        struct section *s = id == SECTION_TYPE       ? &m->types
                            : id == SECTION_IMPORT   ? &m->imports
                            : id == SECTION_FUNCTION ? &m->functions
                            : id == SECTION_EXPORT   ? &m->exports
                                                     : NULL;
        if (!s)
            continue;
        if (s->present)
            return fail(out, "malformed wasm: section %u appears twice", id);
        struct reader b = {body.p, body.p + body.len, false};
        s->count = read_u32(&b);
        s->p = b.p;
        s->end = b.end;
        s->present = true;
        if (b.bad)
            return fail(out, "malformed wasm: section %u has no entry count", id);
    }
    return 1;
}

static const struct known_function *find_import(struct bytes module, struct bytes name) {
    for (size_t i = 0; i < N_OF(host_imports); i++)
        if (bytes_equal(module, host_imports[i].module) && bytes_equal(name, host_imports[i].name))
            return &host_imports[i];
    return NULL;
}

static int check_imports(struct module_view *m, struct pw_wasm_report *out) {
    struct reader r = {m->imports.p, m->imports.end, false};
    char a[64], b[64], have[96], want[96], sig[SIGNATURE_MAX];
    for (uint32_t i = 0; i < m->imports.count; i++) {
        struct bytes module = read_name(&r);
        struct bytes name = read_name(&r);
        uint8_t kind = read_byte(&r);
        if (r.bad)
            break;
        if (kind != KIND_FUNCTION) {
            /* Envoy gives a module nothing but functions. */
            return fail(out, "import %s.%s is a %s: this host provides only functions", printable(module, a, sizeof a),
                        printable(name, b, sizeof b),
                        kind == KIND_TABLE    ? "table"
                        : kind == KIND_MEMORY ? "memory"
                        : kind == KIND_GLOBAL ? "global"
                                              : "tag");
        }
        uint32_t type = read_u32(&r);
        if (r.bad)
            break;
        m->imported_functions++;
        const struct known_function *known = find_import(module, name);
        if (!known)
            return fail(out, "import %s.%s is not provided by this host", printable(module, a, sizeof a),
                        printable(name, b, sizeof b));
        if (!type_signature(m, type, sig))
            return fail(out, "malformed wasm: import %s.%s has no valid type", known->module, known->name);
        if (strcmp(sig, known->signature) != 0)
            return fail(out, "import %s.%s has signature %s, the host provides %s", known->module, known->name,
                        render_signature(sig, have, sizeof have), render_signature(known->signature, want, sizeof want));
    }
    if (r.bad)
        return fail(out, "malformed wasm: import section truncated");
    return 1;
}

/* The type index of function `index` (imports first, then definitions). */
static bool function_type(const struct module_view *m, uint32_t index, uint32_t *type) {
    if (index < m->imported_functions) {
        struct reader r = {m->imports.p, m->imports.end, false};
        uint32_t seen = 0;
        for (uint32_t i = 0; i < m->imports.count && !r.bad; i++) {
            read_name(&r);
            read_name(&r);
            uint8_t kind = read_byte(&r);
            if (kind != KIND_FUNCTION)
                return false; /* check_imports refused those already */
            uint32_t t = read_u32(&r);
            if (seen++ == index) {
                *type = t;
                return !r.bad;
            }
        }
        return false;
    }
    index -= m->imported_functions;
    if (index >= m->functions.count)
        return false;
    struct reader r = {m->functions.p, m->functions.end, false};
    for (uint32_t i = 0; i < index && !r.bad; i++)
        read_u32(&r);
    *type = read_u32(&r);
    return !r.bad;
}

static int check_exports(struct module_view *m, struct pw_wasm_report *out) {
    struct reader r = {m->exports.p, m->exports.end, false};
    char have[96], want[96], sig[SIGNATURE_MAX];
    bool abi_version = false;
    for (uint32_t i = 0; i < m->exports.count; i++) {
        struct bytes name = read_name(&r);
        uint8_t kind = read_byte(&r);
        uint32_t index = read_u32(&r);
        if (r.bad)
            break;
        if (kind == KIND_MEMORY && bytes_equal(name, "memory"))
            out->bound_exports |= PW_EXPORT_MEMORY;
        if (kind != KIND_FUNCTION)
            continue;
        /* Found by name, never called: its signature does not matter. */
        if (bytes_equal(name, "proxy_abi_version_0_2_1"))
            abi_version = true;
        for (size_t k = 0; k < N_OF(known_exports); k++) {
            if (!bytes_equal(name, known_exports[k].name))
                continue;
            uint32_t type;
            if (!function_type(m, index, &type) || !type_signature(m, type, sig))
                return fail(out, "malformed wasm: export %s names no function with a valid type",
                            known_exports[k].name);
            if (strcmp(sig, known_exports[k].signature) != 0)
                return fail(out, "export %s has signature %s, the host expects %s", known_exports[k].name,
                            render_signature(sig, have, sizeof have),
                            render_signature(known_exports[k].signature, want, sizeof want));
            out->bound_exports |= known_exports[k].bit;
        }
    }
    if (r.bad)
        return fail(out, "malformed wasm: export section truncated");
    if (!abi_version)
        return fail(out, "missing export proxy_abi_version_0_2_1: this host speaks proxy-wasm ABI 0.2.1 only");
    if (!(out->bound_exports & (PW_EXPORT_MALLOC | PW_EXPORT_ON_MEMORY_ALLOCATE)))
        return fail(out, "missing export malloc (or proxy_on_memory_allocate): the host could not hand buffers to the "
                         "module");
    if (!(out->bound_exports & PW_EXPORT_MEMORY))
        return fail(out, "missing export \"memory\": the host could not reach the module's memory");
    return 1;
}

bool pw_validate(const uint8_t *wasm, size_t len, struct pw_wasm_report *out) {
    struct module_view m = {0};
    memset(out, 0, sizeof *out);
    out->ok = true;
    if (scan_sections(&m, wasm, len, out) && check_imports(&m, out))
        check_exports(&m, out);
    return out->ok;
}

size_t pw_host_import_count(void) { return N_OF(host_imports); }

bool pw_host_import(size_t i, const char **module, const char **name, const char **signature) {
    if (i >= N_OF(host_imports))
        return false;
    *module = host_imports[i].module;
    *name = host_imports[i].name;
    *signature = host_imports[i].signature;
    return true;
}

const char *pw_export_name(uint32_t bits) {
    if (bits & PW_EXPORT_MEMORY)
        return "memory";
    for (size_t k = 0; k < N_OF(known_exports); k++)
        if (known_exports[k].bit & bits)
            return known_exports[k].name;
    return "";
}
