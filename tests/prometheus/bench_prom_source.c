/* One refresh of hfitop's Prometheus source, timed: the queries a console
 * refresh sends (values and rates for every pod, quantiles and buckets for
 * a screenful), through the kube client's multi handle, their answers
 * parsed and merged into the per-pod table. Prints the median seconds of
 * RUNS refreshes after a first one (which also discovers the labels and
 * the scrape interval), and how many pods the last one held.
 *
 *   bench_prom_source KUBECONFIG PROMETHEUS_URL NAMESPACE RUNS SHOWN_POD...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/prom_source.h"
#include "kube/kube.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs one refresh to its end; its wall seconds, or -1 after a failure. */
static double refresh(struct kube_client *client, struct prom_source *src)
{
    double start = now_s();
    prom_source_refresh(src);
    while (prom_source_busy(src))
        kube_client_wait(client, 100);
    if (prom_source_state(src) != PROM_SOURCE_OK) {
        fprintf(stderr, "bench_prom_source: %s\n", prom_source_error(src));
        return -1;
    }
    return now_s() - start;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_prom_source KUBECONFIG PROMETHEUS_URL NAMESPACE RUNS SHOWN_POD...\n");
        return 2;
    }
    struct kube_load_options lo = {.kubeconfig_flag = argv[1]};
    struct kube_connection conn;
    struct kube_error e = {0};
    if (kube_connection_load(&lo, &conn, &e) != 0) {
        fprintf(stderr, "bench_prom_source: %s\n", e.message);
        return 1;
    }
    struct kube_client *client = kube_client_new(&conn, &e);
    char err[600];
    struct prom_source_options po = {.url = argv[2]};
    struct prom_source *src = client ? prom_source_new(client, &po, err, sizeof err) : NULL;
    if (!src) {
        fprintf(stderr, "bench_prom_source: %s\n", client ? err : e.message);
        return 1;
    }
    prom_source_set_namespace(src, argv[3]);
    int runs = atoi(argv[4]);
    size_t shown = (size_t)(argc - 5);
    const char **ns = calloc(shown, sizeof *ns);
    for (size_t i = 0; i < shown; i++)
        ns[i] = argv[3];
    prom_source_want_details(src, ns, (const char *const *)argv + 5, shown, PROM_WANT_ROWS);
    int rc = refresh(client, src) < 0 || runs < 1 ? 1 : 0;
    double *times = calloc((size_t)(runs > 0 ? runs : 1), sizeof *times);
    for (int i = 0; rc == 0 && i < runs; i++)
        if ((times[i] = refresh(client, src)) < 0)
            rc = 1;
    if (rc == 0) {
        qsort(times, (size_t)runs, sizeof *times, compare_doubles);
        printf("%.4f %zu\n", times[runs / 2], prom_source_pod_count(src));
    }
    free(times);
    free(ns);
    prom_source_free(src);
    kube_client_free(client);
    kube_connection_free(&conn);
    return rc;
}
