/* Whether the console can draw on the terminal TERM names. Apart from
 * ui.c because <term.h> defines macros (`lines`, `columns`) that clash
 * with the console's own names. */
#include <curses.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <unistd.h>

bool ui_terminal_can_draw(const char **why);

/* A terminal the console can draw on: one that can move the cursor.
 * initscr() itself exits the program on a TERM it does not know, and draws
 * garbage on one that cannot address the cursor (TERM=dumb). */
bool ui_terminal_can_draw(const char **why)
{
    const char *term = getenv("TERM");
    int status = 0;
    *why = "";
    if (!term || !*term || strcmp(term, "dumb") == 0) {
        *why = "it cannot move the cursor";
        return false;
    }
    if (setupterm(NULL, STDOUT_FILENO, &status) != OK) {
        *why = "no terminfo entry for it";
        return false;
    }
    const char *cup = tigetstr("cup");
    bool ok = cup && cup != (const char *)-1;
    del_curterm(cur_term);
    if (!ok)
        *why = "it cannot move the cursor";
    return ok;
}
