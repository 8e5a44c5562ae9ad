#include "rng.h"

static uint64_t rng_state = 0x853c49e6748fea9bULL;

void rng_seed(uint64_t seed)
{
    rng_state = seed ^ 0x9e3779b97f4a7c15ULL;
}

/* splitmix64: small, fast, and good enough for simulation. */
uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t rng_below(uint32_t n)
{
    return n ? (uint32_t)(rng_next() % n) : 0;
}
