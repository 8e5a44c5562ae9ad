/* The list-and-watch loop's backoff, as client-go's reflector has it
 * (kubernetes/client-go tools/cache/reflector.go, NewReflectorWithOptions:
 * wait.NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)): each wait
 * doubles from 800 ms up to 30 s, each is jittered up to as long again (so
 * the waits settle in [30 s, 60 s)), and after 2 minutes without a wait the
 * next starts from 800 ms again. Self-contained: no clock or I/O, the
 * caller passes the time. */
#ifndef KUBE_BACKOFF_H
#define KUBE_BACKOFF_H

#include <stdbool.h>

#define KUBE_BACKOFF_INITIAL_MS 800
#define KUBE_BACKOFF_CAP_MS 30000
#define KUBE_BACKOFF_RESET_MS 120000

struct kube_backoff {
    long next_ms;               /* the un-jittered wait the next step takes */
    long long last_step_ms;     /* when the last wait was taken; -1: never */
    unsigned seed;              /* for the jitter (rand_r) */
};

void kube_backoff_init(struct kube_backoff *b, unsigned seed);
/* The wait before the next attempt, at time now_ms (monotonic). */
long kube_backoff_step(struct kube_backoff *b, long long now_ms);

#endif
