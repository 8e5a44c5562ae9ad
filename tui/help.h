/* hfitop's command line described once: the commands and the flags, as
 * tables. `hfitop --help` prints them, and the build makes the man page
 * hfitop(1) and the bash and zsh completions from the same tables (with
 * the console's key table, tui/ui), so none of them can drift from the
 * program. */
#ifndef HFITOP_HELP_H
#define HFITOP_HELP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct help_command {
    const char *name;     /* the command word; "" for the console and --once */
    const char *synopsis; /* what follows "hfitop" */
    const char *what;
};

struct help_flag {
    const char *names; /* "-n, --namespace" */
    const char *value; /* "NS", or NULL for a switch */
    const char *what;
};

extern const struct help_command help_commands[];
extern const size_t help_command_count;
extern const struct help_flag help_flags[];
extern const size_t help_flag_count;

/* One line on what hfitop is, for --help and the man page's NAME. */
extern const char help_summary[];

/* The --help text; `program` is how the user called it ("hfitop", or
 * "kubectl hfitop" when run as a kubectl plugin). */
void help_print_usage(FILE *out, const char *program);

/* "kubectl hfitop" when argv[0] names the kubectl-hfitop link, else
 * "hfitop". */
const char *help_program_name(const char *argv0);

#endif
