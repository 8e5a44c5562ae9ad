/* The interval scheduler the console runs, against meshsim: every sidecar
 * scraped every interval with no more than max_inflight at once, rates
 * from successive scrapes, a failing pod backing off alone, and pods that
 * go away leaving the model. Usage: test_scheduler MESHSIM. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tui/app/actions.h"
#include "../../tui/app/app.h"
#include "meshsim_launch.h"
#include "testlib.h"

static const char *meshsim_path;

struct cluster {
    pid_t pid;
    char dir[64];
    char kubeconfig[128];
    struct kube_connection conn;
    struct kube_client *client;
};

/* meshsim with `scenario_args` (NULL-terminated), ready within 30 s. */
static bool cluster_start(struct cluster *c, const char *const *extra)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "/tmp/test-scheduler.XXXXXX");
    if (!mkdtemp(c->dir))
        return false;
    snprintf(c->kubeconfig, sizeof c->kubeconfig, "%s/kubeconfig", c->dir);
    const char *argv[16] = {meshsim_path, "--listen", "127.0.0.1:0", "--kubeconfig", c->kubeconfig};
    int argc = 5;
    for (; extra && *extra && argc < 15; extra++)
        argv[argc++] = *extra;
    argv[argc] = NULL;
    c->pid = meshsim_launch(argv);
    struct kube_load_options opts = {.kubeconfig_flag = c->kubeconfig};
    struct kube_error err = {0};
    if (c->pid < 0 || kube_connection_load(&opts, &c->conn, &err) != 0 ||
        !(c->client = kube_client_new(&c->conn, &err))) {
        fprintf(stderr, "meshsim did not start: %s\n", err.message);
        return false;
    }
    return true;
}

static void cluster_stop(struct cluster *c)
{
    if (c->client) {
        kube_client_free(c->client);
        kube_connection_free(&c->conn);
    }
    meshsim_halt(c->pid);
    unlink(c->kubeconfig);
    rmdir(c->dir);
}

struct watch_inflight {
    struct app *app;
    int limit, max_seen;
    int64_t until_ms;
    unsigned wakeups;
    bool timeout_while_full; /* asked to wake up with no slot free */
};

static bool note_inflight(void *user)
{
    struct watch_inflight *w = user;
    int n = app_inflight(w->app);
    if (n > w->max_seen)
        w->max_seen = n;
    if (n >= w->limit && app_timeout_ms(w->app) >= 0)
        w->timeout_while_full = true;
    w->wakeups++;
    return app_now_ms() >= w->until_ms;
}

/* Runs the scheduler for `ms`, noting the most scrapes in flight; the loop
 * must sleep between answers, not spin. */
static int run_for(struct cluster *c, struct app *app, int ms, int max_inflight)
{
    struct watch_inflight w = {.app = app, .limit = max_inflight, .until_ms = app_now_ms() + ms};
    app_wait(c->client, app, ms + 1000, note_inflight, &w);
    CHECK(w.wakeups < (unsigned)ms);
    CHECK(!w.timeout_while_full);
    return w.max_seen;
}

static void test_interval_rates_and_inflight(void)
{
    struct cluster c;
    const char *args[] = {"--traffic", "300", NULL};
    if (!cluster_start(&c, args)) {
        CHECK(false);
        cluster_stop(&c);
        return;
    }
    struct app *app = app_new(c.client, &(struct app_options){.namespace = "demo", .interval_s = 1,
                                                              .max_inflight = 2});
    CHECK(app && app_start(app) == 0);
    int max_inflight = run_for(&c, app, 3500, 2);
    CHECK(app_synced(app));
    CHECK(max_inflight >= 1 && max_inflight <= 2);
    CHECK_INT(app_pod_count(app), 6);
    for (size_t i = 0; i < app_pod_count(app); i++) {
        const struct app_pod *p = app_pod_at(app, i);
        CHECK(p->attempts >= 3 && p->attempts <= 5);
        CHECK(p->failures == 0 && !p->failing && p->last_scrape > 0);
        CHECK_INT(p->metrics.naming, HFI_NAMING_WASMCUSTOM);
        /* Two scrapes or more: a rate, never negative. */
        CHECK(isfinite(p->window.aborts_per_s) && p->window.aborts_per_s >= 0);
        CHECK(isfinite(p->window.delays_per_s) && p->window.delays_per_s >= 0);
        CHECK(p->aborts_ring.count == p->attempts);
    }
    CHECK(app_pod_find(app, "demo", app_pod_at(app, 0)->pod.name) == app_pod_at(app, 0));
    app_free(app);
    cluster_stop(&c);
}

static void test_failing_pod_backs_off_alone(void)
{
    struct cluster c;
    const char *args[] = {"--scenario", "slow-sidecar", NULL};
    if (!cluster_start(&c, args)) {
        CHECK(false);
        cluster_stop(&c);
        return;
    }
    /* Scrapes time out after the 1 s interval; cart's sidecars take 3 s. */
    struct app *app = app_new(c.client, &(struct app_options){.namespace = "demo", .interval_s = 1});
    CHECK(app && app_start(app) == 0);
    run_for(&c, app, 6000, APP_DEFAULT_MAX_INFLIGHT);
    size_t cart = 0;
    for (size_t i = 0; i < app_pod_count(app); i++) {
        const struct app_pod *p = app_pod_at(app, i);
        if (p->pod.deployment && strcmp(p->pod.deployment, "cart") == 0) {
            cart++;
            /* Timeouts at about 1, 3 and 6 s: the waits double (1, 2, 4 s). */
            CHECK(p->failing && p->attempts >= 2 && p->attempts <= 3);
            CHECK(p->consecutive_failures == p->attempts && !p->scraped);
            CHECK_INT(p->error_code, KUBE_TIMEOUT);
            CHECK_CONTAINS(p->error, "timed out");
        } else {
            CHECK(!p->failing && p->attempts >= 5);
        }
    }
    CHECK_INT(cart, 2);
    app_free(app);
    cluster_stop(&c);
}

struct rollout {
    struct app *app;
    char old[2][128];
    bool restarted, restart_ok;
};

static void on_restarted(const struct app_action_result *r, void *user)
{
    struct rollout *ro = user;
    ro->restarted = true;
    ro->restart_ok = r->ok;
}

/* Done when the old cart pods are gone and two new ones were scraped. */
static bool replaced(void *user)
{
    struct rollout *ro = user;
    size_t fresh = 0;
    for (size_t i = 0; i < app_pod_count(ro->app); i++) {
        const struct app_pod *p = app_pod_at(ro->app, i);
        if (!p->pod.deployment || strcmp(p->pod.deployment, "cart") != 0)
            continue;
        if (strcmp(p->pod.name, ro->old[0]) == 0 || strcmp(p->pod.name, ro->old[1]) == 0)
            return false;
        fresh += p->scraped;
    }
    return ro->restarted && fresh == 2;
}

static bool synced_and_scraped(void *user)
{
    struct app *app = user;
    if (!app_synced(app) || !app_pod_count(app))
        return false;
    for (size_t i = 0; i < app_pod_count(app); i++)
        if (!app_pod_at(app, i)->scraped)
            return false;
    return true;
}

static void test_gone_pods_leave_the_model(void)
{
    struct cluster c;
    if (!cluster_start(&c, NULL)) {
        CHECK(false);
        cluster_stop(&c);
        return;
    }
    struct rollout ro = {0};
    ro.app = app_new(c.client, &(struct app_options){.namespace = "demo", .interval_s = 1});
    CHECK(ro.app && app_start(ro.app) == 0);
    CHECK(app_wait(c.client, ro.app, 20000, synced_and_scraped, ro.app));
    size_t n = 0;
    for (size_t i = 0; i < app_pod_count(ro.app) && n < 2; i++) {
        const struct app_pod *p = app_pod_at(ro.app, i);
        if (strcmp(p->pod.deployment, "cart") == 0)
            snprintf(ro.old[n++], sizeof ro.old[0], "%s", p->pod.name);
    }
    CHECK_INT(n, 2);
    app_restart_deployment(c.client, "demo", "cart", on_restarted, &ro);
    CHECK(app_wait(c.client, ro.app, 30000, replaced, &ro));
    CHECK(ro.restart_ok);
    CHECK(app_pod_find(ro.app, "demo", ro.old[0]) == NULL);
    CHECK_INT(app_pod_count(ro.app), 6);
    app_free(ro.app);
    cluster_stop(&c);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    meshsim_path = argc > 1 ? argv[1] : NULL;
    if (!meshsim_path || access(meshsim_path, X_OK) != 0) {
        fprintf(stderr, "usage: test_scheduler MESHSIM (an executable meshsim)\n");
        return 2;
    }
    RUN(test_interval_rates_and_inflight);
    RUN(test_failing_pod_backs_off_alone);
    RUN(test_gone_pods_leave_the_model);
    TEST_MAIN_END();
}
