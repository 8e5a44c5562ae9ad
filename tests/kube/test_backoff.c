/* The list-and-watch backoff against client-go's reflector numbers. */
#include "kube_backoff.h"
#include "testlib.h"

static void test_doubles_with_jitter_up_to_the_cap(void)
{
    struct kube_backoff b;
    kube_backoff_init(&b, 42);
    long base = KUBE_BACKOFF_INITIAL_MS;
    long long now = 1000;
    for (int step = 0; step < 12; step++) {
        long wait = kube_backoff_step(&b, now);
        CHECK(wait >= base && wait < 2 * base);
        now += wait; /* the next failure comes right after the wait */
        base = base * 2 > KUBE_BACKOFF_CAP_MS ? KUBE_BACKOFF_CAP_MS : base * 2;
    }
    CHECK_INT(base, KUBE_BACKOFF_CAP_MS); /* settled in [30 s, 60 s) */
}

static void test_resets_after_a_healthy_period(void)
{
    struct kube_backoff b;
    kube_backoff_init(&b, 7);
    long long now = 0;
    for (int step = 0; step < 6; step++)
        now += kube_backoff_step(&b, now);
    long wait = kube_backoff_step(&b, now + KUBE_BACKOFF_RESET_MS + 1);
    CHECK(wait >= KUBE_BACKOFF_INITIAL_MS && wait < 2 * KUBE_BACKOFF_INITIAL_MS);
}

static void test_jitter_spreads_clients(void)
{
    struct kube_backoff a, b;
    kube_backoff_init(&a, 1);
    kube_backoff_init(&b, 2);
    int differ = 0;
    for (int step = 0; step < 8; step++)
        differ += kube_backoff_step(&a, step) != kube_backoff_step(&b, step);
    CHECK(differ > 0);
}

int main(void)
{
    RUN(test_doubles_with_jitter_up_to_the_cap);
    RUN(test_resets_after_a_healthy_period);
    RUN(test_jitter_spreads_clients);
    TEST_MAIN_END();
}
