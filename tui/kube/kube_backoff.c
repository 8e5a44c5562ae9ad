#include "kube_backoff.h"

#include <stdlib.h>

void kube_backoff_init(struct kube_backoff *b, unsigned seed)
{
    b->next_ms = KUBE_BACKOFF_INITIAL_MS;
    b->last_step_ms = -1;
    b->seed = seed;
}

/* apimachinery pkg/util/wait: exponentialBackoffManagerImpl.getNextBackoff
 * resets when the last backoff started more than resetDuration ago, then
 * Backoff.Step returns Jitter(duration, 1.0) = duration + rand * duration
 * and multiplies the duration by the factor up to the cap. */
long kube_backoff_step(struct kube_backoff *b, long long now_ms)
{
    if (b->last_step_ms >= 0 && now_ms - b->last_step_ms > KUBE_BACKOFF_RESET_MS)
        b->next_ms = KUBE_BACKOFF_INITIAL_MS;
    b->last_step_ms = now_ms;
    long base = b->next_ms;
    b->next_ms = base * 2 > KUBE_BACKOFF_CAP_MS ? KUBE_BACKOFF_CAP_MS : base * 2;
    long jitter = (long)((double)rand_r(&b->seed) / ((double)RAND_MAX + 1) * (double)base);
    return base + jitter;
}
