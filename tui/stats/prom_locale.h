/* The "C" locale, for number conversions that must not follow the user's
 * LC_NUMERIC (the console calls setlocale for ncurses, and a decimal comma
 * would break both reading Prometheus text and writing JSON). Internal to
 * tui/stats. */
#ifndef HFI_PROM_LOCALE_H
#define HFI_PROM_LOCALE_H

#include <locale.h>

/* Created once, never freed; (locale_t)0 if it could not be created, in
 * which case callers fall back to the process locale. */
locale_t prom_c_locale(void);

#endif
