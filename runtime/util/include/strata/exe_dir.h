/* exe_dir.h: the folder of the running program. Strata's programs find
 * their siblings from it as the build lays them out (build/bin/strata-run
 * next to stratactl, build/image next to build/bin), so none needs an
 * install prefix. It must not search $PATH: a sibling is found where this
 * binary is, or not at all. */
#ifndef STRATA_EXE_DIR_H
#define STRATA_EXE_DIR_H

#include <stddef.h>

#include "strata/error.h"

/* The folder of /proc/self/exe into buf (no trailing slash). ENAMETOOLONG
 * when it does not fit in len. */
int st_exe_dir(char *buf, size_t len, st_error *err);

#endif
