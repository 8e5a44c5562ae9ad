/* Deterministic randomness (--seed): names, uids, traffic, fault sampling. */
#ifndef MESHSIM_RNG_H
#define MESHSIM_RNG_H

#include <stdint.h>

void rng_seed(uint64_t seed);
uint64_t rng_next(void);
/* Uniform in [0, n). */
uint32_t rng_below(uint32_t n);

#endif
