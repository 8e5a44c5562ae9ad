#include "help.h"

#include <string.h>

const char help_summary[] = "HTTP fault injection for Istio/Envoy meshes, and the console to watch it";

const struct help_command help_commands[] = {
    {"", "[flags]", "the interactive console"},
    {"", "[flags] --once -o json|table [--window W]",
     "one refresh of every pod (with --window, two W apart, so rates are defined), then print it"},
    {"stats", "stats FILE|-", "the HFI metrics in one Prometheus dump"},
    {"doctor", "[flags] doctor [-o json]",
     "why HFI metrics are missing or flat (exit 0 healthy, 1 problems found, 2 could not look)"},
    {"doctor", "doctor --rules", "every finding, its diagnosis and fix, as Markdown"},
    {"fire", "[flags] fire POD|svc/NAME (--abort STATUS | --delay-ms MS) [--count N] [--path P] [-o json]",
     "test faults through the API server proxy (the plugin's header faults, the token read from the WasmPlugin)"},
    {"envoyfilter", "[flags] envoyfilter apply|delete", "the stats-inclusion EnvoyFilter"},
    {"annotate", "[flags] annotate DEPLOYMENT", "add the wasmcustom. stats inclusion annotation"},
    {"restart", "[flags] restart DEPLOYMENT", "as kubectl rollout restart"},
    {"policy", "[flags] policy apply FILE|- [--for DURATION] [--dry-run]",
     "add or replace a policy in the WasmPlugin, checked by the plugin's own parser first; --for 10m: it ends "
     "then"},
    {"policy", "[flags] policy remove NAME", "remove one policy"},
    {"policy", "[flags] policy remove --all [--yes]",
     "the kill switch: every policy in one write, then watch the sidecars stop injecting"},
    {"policy", "[flags] policy list [-o json]", "the policies, each with its time left"},
    {"policy", "[flags] policy show NAME [-o json]", "one policy, rule by rule"},
    {"report", "report FILE|-", "a session journal as a Markdown timeline"},
    {"", "--version", "the version"},
};
const size_t help_command_count = sizeof help_commands / sizeof help_commands[0];

const struct help_flag help_flags[] = {
    {"--kubeconfig", "FILE", "the kubeconfig; else KUBECONFIG, ~/.kube/config, the in-cluster account"},
    {"--context", "NAME", "the kubeconfig context"},
    {"-n, --namespace", "NS", "the namespace (the context's otherwise)"},
    {"-l, --selector", "SELECTOR", "only the pods with these labels"},
    {"--interval", "SECONDS", "scrape every sidecar this often (2); also each scrape's timeout"},
    {"--max-inflight", "N", "at most N scrapes at once (16)"},
    {"--max-qps", "N", "at most N requests a second to the API server (50); more pods stretch the interval"},
    {"--prometheus", "URL", "read the counters from this Prometheus (http(s)://[user:password@]host[:port][/prefix])"},
    {"--prometheus-bearer-token-file", "FILE", "a bearer token for Prometheus, read at every request"},
    {"--prometheus-ca", "FILE", "the CA that signed Prometheus' certificate"},
    {"--prometheus-insecure-skip-tls-verify", NULL, "do not check Prometheus' certificate"},
    {"--prometheus-header", "HEADER", "NAME:VALUE, a header for every Prometheus request (X-Scope-OrgID:tenant); repeatable"},
    {"--prometheus-pod-label", "LABEL", "the label naming pods (detected: pod, pod_name, kubernetes_pod_name)"},
    {"--prometheus-namespace-label", "LABEL", "the label naming namespaces (detected: namespace, kubernetes_namespace)"},
    {"--max-scrape-mb", "MB", "a sidecar's stats answer larger than this is an error for that pod (4; 1 to 256)"},
    {"--readonly", NULL, "refuse every change"},
    {"--envoyfilter", "FILE", "the EnvoyFilter manifest to apply or delete, instead of the built-in one"},
    {"--no-color", NULL, "no colours (also NO_COLOR in the environment)"},
    {"--window", "W", "rates and quantiles over this window: 10s, 1m (the default), 5m, any of 1s to 5m"},
    {"--wasmplugin", "NAME", "policy: which WasmPlugin; the first in the namespace otherwise"},
    {"--journal", "FILE", "the session journal; $XDG_STATE_HOME/hfitop/journal-DAY.jsonl otherwise"},
    {"--no-journal", NULL, "record nothing in the journal"},
    {"-o, --output", "FORMAT", "json or table for --once; json for doctor, fire, policy list and policy show"},
    {"--once", NULL, "one refresh of every pod, then print it"},
    {"--rules", NULL, "doctor: the rules instead of the cluster's findings"},
    {"--abort", "STATUS", "fire: answer with this HTTP status (200 to 599)"},
    {"--delay-ms", "MS", "fire: hold each request this long"},
    {"--count", "N", "fire: how many requests (1)"},
    {"--path", "P", "fire: the request path (/)"},
    {"--for", "DURATION", "policy apply: the policy ends after this long (90s, 5m, 1h30m)"},
    {"--dry-run", NULL, "policy apply: check the policy, write nothing"},
    {"--all", NULL, "policy remove: every policy"},
    {"-y, --yes", NULL, "policy remove --all: without asking"},
    {"-h, --help", NULL, "this help"},
    {"--version", NULL, "the version"},
};
const size_t help_flag_count = sizeof help_flags / sizeof help_flags[0];

const char *help_program_name(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    base = base ? base + 1 : argv0 ? argv0 : "";
    return strcmp(base, "kubectl-hfitop") == 0 ? "kubectl hfitop" : "hfitop";
}

#define SYNOPSIS_COLUMN 46
#define WIDTH 110

/* `text` from column `column`, wrapped at WIDTH, continued at `column`. */
static void print_wrapped(FILE *out, const char *text, int column, int at)
{
    while (*text) {
        int room = WIDTH - at;
        size_t len = strlen(text), take = len;
        if ((int)len > room) {
            take = (size_t)room;
            while (take > 0 && text[take] != ' ')
                take--;
            if (!take)
                take = (size_t)room;
        }
        fprintf(out, "%.*s\n", (int)take, text);
        text += take;
        while (*text == ' ')
            text++;
        if (*text)
            fprintf(out, "%*s", column, "");
        at = column;
    }
}

void help_print_usage(FILE *out, const char *program)
{
    fprintf(out, "%s: %s\n\n", program, help_summary);
    for (size_t i = 0; i < help_command_count; i++) {
        const struct help_command *c = &help_commands[i];
        int used = fprintf(out, "%s %s %s", i ? "      " : "usage:", program, c->synopsis);
        if (used + 2 > SYNOPSIS_COLUMN) {
            fprintf(out, "\n%*s", SYNOPSIS_COLUMN, "");
        } else {
            fprintf(out, "%*s", SYNOPSIS_COLUMN - used, "");
        }
        print_wrapped(out, c->what, SYNOPSIS_COLUMN, SYNOPSIS_COLUMN);
    }
    fprintf(out, "flags:\n");
    for (size_t i = 0; i < help_flag_count; i++) {
        const struct help_flag *f = &help_flags[i];
        int used = fprintf(out, "  %s%s%s", f->names, f->value ? " " : "", f->value ? f->value : "");
        if (used + 2 > 28)
            fprintf(out, "\n%*s", 28, "");
        else
            fprintf(out, "%*s", 28 - used, "");
        print_wrapped(out, f->what, 28, 28);
    }
}
