/*
 * The reports made while the desk starts (supervisor start_error and the
 * like), held back until the start's outcome is known: printed, in order,
 * once it started or when it could not start for a reason the desk cannot
 * put in words; dropped when the desk says plainly what went wrong (the
 * web desk's port is taken), where three nested start_error reports would
 * only bury the one line that matters.
 */
#ifndef SUPPORT_SYSTEM_START_REPORTS_H
#define SUPPORT_SYSTEM_START_REPORTS_H

#include <stdbool.h>

/* From now on, reports are held (each formatted as the default printer
 * would print it). */
void start_reports_hold(void);

/* Prints the held reports on stderr (print) or drops them; from then on
 * reports go to the handler that was installed before the hold. */
void start_reports_release(bool print);

#endif
