/* meshsim: a local stand-in for a Kubernetes cluster with an Istio mesh,
 * served over TLS on loopback (tests/meshsim/README.md). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "api.h"
#include "buf.h"
#include "cluster.h"
#include "prom_targets.h"
#include "rng.h"
#include "server.h"
#include "sidecar.h"
#include "store.h"
#include "tls.h"

#define EVENT_LOG_CAPACITY 20000
/* watch-expiry keeps so little history that an old version is soon gone. */
#define EVENT_LOG_CAPACITY_EXPIRY 64
#define MAX_PODS 20000

static const char usage[] =
    "usage: meshsim --listen 127.0.0.1:PORT --kubeconfig FILE [--namespace NS] [--pods N]\n"
    "               [--scenario NAME[,NAME...]] [--traffic RPS] [--seed N] [--auth cert|token]\n"
    "               [--wasm FILE] [--static-stats FILE] [--prometheus-targets FILE.json]\n"
    "scenarios: no-sidecar plugin-missing plugin-failed restrictive-stats legacy-names bare-names\n"
    "           slow-sidecar flaky-sidecar api-401 api-403-proxy api-429 watch-expiry\n";

struct options {
    char host[64];
    int port;
    const char *kubeconfig;
    const char *ns;
    int pods;
    unsigned scenarios;
    double traffic;
    uint64_t seed;
    int token_auth;
    const char *wasm;
    const char *static_stats;
    const char *prometheus_targets;
};

static int parse_listen(const char *s, struct options *o)
{
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof o->host)
        return -1;
    memcpy(o->host, s, (size_t)(colon - s));
    o->host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    o->port = (int)port;
    return 0;
}

static int parse_scenarios(const char *s, unsigned *out)
{
    char *copy = strdup(s), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        unsigned bit = scenario_from_name(tok);
        if (!bit) {
            fprintf(stderr, "meshsim: unknown scenario \"%s\"\n", tok);
            rc = -1;
        }
        *out |= bit;
    }
    free(copy);
    return rc;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->ns = "demo";
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "meshsim: %s needs a value\n%s", a, usage);
            return -1;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (parse_listen(v, o) != 0) {
                fprintf(stderr, "meshsim: bad --listen %s (want HOST:PORT)\n", v);
                return -1;
            }
        } else if (strcmp(a, "--kubeconfig") == 0) {
            o->kubeconfig = v;
        } else if (strcmp(a, "--namespace") == 0) {
            o->ns = v;
        } else if (strcmp(a, "--pods") == 0) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > MAX_PODS) {
                fprintf(stderr, "meshsim: --pods wants 1..%d\n", MAX_PODS);
                return -1;
            }
            o->pods = (int)n;
        } else if (strcmp(a, "--scenario") == 0) {
            if (parse_scenarios(v, &o->scenarios) != 0)
                return -1;
        } else if (strcmp(a, "--traffic") == 0) {
            o->traffic = strtod(v, &end);
            if (*end || o->traffic < 0 || o->traffic > 100000) {
                fprintf(stderr, "meshsim: --traffic wants requests per second (0..100000)\n");
                return -1;
            }
        } else if (strcmp(a, "--seed") == 0) {
            o->seed = strtoull(v, &end, 10);
            if (*end) {
                fprintf(stderr, "meshsim: --seed wants a number\n");
                return -1;
            }
        } else if (strcmp(a, "--auth") == 0) {
            if (strcmp(v, "token") == 0) {
                o->token_auth = 1;
            } else if (strcmp(v, "cert") != 0) {
                fprintf(stderr, "meshsim: --auth is cert or token\n");
                return -1;
            }
        } else if (strcmp(a, "--wasm") == 0) {
            o->wasm = v;
        } else if (strcmp(a, "--static-stats") == 0) {
            o->static_stats = v;
        } else if (strcmp(a, "--prometheus-targets") == 0) {
            size_t len = strlen(v);
            /* Prometheus' file_sd reads a file by its extension. */
            if (len < 5 || strcmp(v + len - 5, ".json") != 0) {
                fprintf(stderr, "meshsim: --prometheus-targets wants a FILE.json (file_sd reads by extension)\n");
                return -1;
            }
            o->prometheus_targets = v;
        } else {
            fprintf(stderr, "meshsim: unknown option %s\n%s", a, usage);
            return -1;
        }
    }
    if (!o->kubeconfig) {
        fprintf(stderr, "meshsim: --kubeconfig FILE is required\n%s", usage);
        return -1;
    }
    if (strlen(o->ns) > 63) {
        fprintf(stderr, "meshsim: --namespace is at most 63 characters\n");
        return -1;
    }
    return 0;
}

static char *base64(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    return out;
}

static int write_kubeconfig(const struct options *o, int port, const struct tls_material *tls, const char *token)
{
    struct buf b = {0};
    char *ca = base64(tls->ca_pem);
    buf_printf(&b,
               "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: %s\n"
               "    server: https://127.0.0.1:%d\n  name: meshsim\ncontexts:\n- context:\n    cluster: meshsim\n"
               "    namespace: %s\n    user: meshsim-admin\n  name: meshsim\ncurrent-context: meshsim\n"
               "preferences: {}\nusers:\n- name: meshsim-admin\n  user:\n",
               ca, port, o->ns);
    free(ca);
    if (token) {
        buf_printf(&b, "    token: %s\n", token);
    } else {
        char *cert = base64(tls->client_cert_pem), *key = base64(tls->client_key_pem);
        buf_printf(&b, "    client-certificate-data: %s\n    client-key-data: %s\n", cert, key);
        free(cert);
        free(key);
    }
    /* Written whole, then renamed: a reader never sees half a file. */
    struct buf tmp = {0};
    buf_printf(&tmp, "%s.tmp.%d", o->kubeconfig, (int)getpid());
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = -1;
    if (fd >= 0) {
        ssize_t w = write(fd, b.data, b.len);
        if (close(fd) == 0 && w == (ssize_t)b.len && rename(tmp.data, o->kubeconfig) == 0)
            rc = 0;
        else
            unlink(tmp.data);
    }
    if (rc != 0)
        fprintf(stderr, "meshsim: cannot write %s: %s\n", o->kubeconfig, strerror(errno));
    buf_free(&b);
    buf_free(&tmp);
    return rc;
}

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(out, tmp, n);
    int err = ferror(f);
    fclose(f);
    return err ? -1 : 0;
}

/* build/meshsim and build/san/meshsim both find build/hfi-fault.wasm. */
static int load_default_wasm(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *dir = dirname(exe);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/hfi-fault.wasm", dir);
    if (sidecar_load_module(path) == 0)
        return 0;
    snprintf(path, sizeof path, "%s/../hfi-fault.wasm", dir);
    return sidecar_load_module(path);
}

/* The API's controllers, then the direct scrape endpoints they may have
 * made or ended. */
static int mesh_tick(int64_t now, void *arg)
{
    int wait = api_tick(now, arg);
    prom_targets_tick(now);
    return wait;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    rng_seed(o.seed);
    if (o.wasm ? sidecar_load_module(o.wasm) != 0 : load_default_wasm() != 0)
        fprintf(stderr, "meshsim: %s not readable: sidecars run without the plugin\n",
                o.wasm ? o.wasm : "hfi-fault.wasm");
    struct tls_material tls;
    if (tls_setup(&tls, 1) != 0) {
        fprintf(stderr, "meshsim: certificate setup failed\n");
        return 1;
    }
    char token[65];
    unsigned char raw[32];
    RAND_bytes(raw, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    struct server *srv = server_new(o.host, o.port, &tls, api_handle, mesh_tick, NULL);
    if (!srv) {
        tls_free(&tls);
        return 1;
    }
    int port = server_port(srv);
    store_init((o.scenarios & SC_WATCH_EXPIRY) ? EVENT_LOG_CAPACITY_EXPIRY : EVENT_LOG_CAPACITY);
    struct cluster_config cc = {.ns = o.ns, .pods = o.pods, .scenarios = o.scenarios, .traffic_rps = o.traffic};
    cluster_build(&cc, now_ms());
    struct api_config ac = {.port = port, .token = token};
    struct buf static_stats = {0};
    if (o.static_stats && read_file(o.static_stats, &static_stats) != 0) {
        fprintf(stderr, "meshsim: cannot read %s\n", o.static_stats);
        server_free(srv);
        tls_free(&tls);
        return 1;
    }
    ac.static_stats = static_stats.data;
    ac.static_stats_len = static_stats.len;
    api_init(&ac);
    if (write_kubeconfig(&o, port, &tls, o.token_auth ? token : NULL) != 0) {
        server_free(srv);
        tls_free(&tls);
        return 1;
    }
    if (o.prometheus_targets)
        prom_targets_init(srv, o.prometheus_targets);
    prom_targets_tick(now_ms()); /* the list exists once meshsim says ready */
    printf("meshsim ready https://127.0.0.1:%d\n", port);
    fflush(stdout);
    server_run(srv);
    prom_targets_free();
    /* Connections first: their pending exchanges let go of watches,
     * delays and sidecar calls before those are freed. */
    server_free(srv);
    api_free();
    store_free();
    cluster_free();
    sidecar_global_free();
    tls_free(&tls);
    buf_free(&static_stats);
    return 0;
}
