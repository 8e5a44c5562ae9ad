/* Starting and stopping a meshsim of their own, for C tests (the shell
 * tests have tests/meshsim/lib.sh). */
#ifndef MESHSIM_LAUNCH_H
#define MESHSIM_LAUNCH_H

#include <sys/types.h>

/* Runs argv (meshsim and its flags, NULL-terminated) with its stderr
 * discarded, and waits up to 30 s for its "meshsim ready" line. Its pid, or
 * -1 when it never got ready (it has been stopped then). */
pid_t meshsim_launch(const char *const *argv);

/* SIGTERM, up to 2 s to exit, then SIGKILL; reaped either way. */
void meshsim_halt(pid_t pid);

#endif
