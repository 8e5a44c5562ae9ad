/* Help, generated from the key table so it cannot drift from the keys. */
#include <curses.h>
#include <stdio.h>

#include "ui_internal.h"

static void draw_help(struct ui *ui, int top, int height)
{
    char line[300];
    ui_attr_on(ui, UI_COLOR_HEADER, A_BOLD);
    ui_put(top, 0, ui->cols, "keys");
    ui_attr_off(ui, UI_COLOR_HEADER, A_BOLD);
    int y = top + 1;
    for (size_t k = (size_t)ui->help_scroll; k < ui_key_table_count && y < top + height; k++) {
        if (!ui_may(ui, ui_key_table[k].needs))
            continue;
        snprintf(line, sizeof line, "  %-16s %s", ui_key_table[k].keys, ui_key_table[k].what);
        ui_put(y++, 0, ui->cols, line);
    }
    if (y + 1 < top + height) {
        ui_put(++y, 0, ui->cols, "columns: AB/S DL/S are aborts and delays per second; P50 P95 P99 the delay");
        ui_put(++y, 0, ui->cols, "percentiles in ms; SC the sidecar (nat: native sidecar); NAMING how the");
        ui_put(++y, 0, ui->cols, "plugin's metrics are named (wasmcustom, bare, legacy, none).");
    }
}

static bool help_key(struct ui *ui, int ch)
{
    if ((ch == KEY_DOWN || ch == 'j') && ui->help_scroll + 1 < (int)ui_key_table_count) {
        ui->help_scroll++;
        return true;
    }
    if ((ch == KEY_UP || ch == 'k') && ui->help_scroll > 0) {
        ui->help_scroll--;
        return true;
    }
    return false;
}

const struct view_ops view_help = {"help", draw_help, help_key};
