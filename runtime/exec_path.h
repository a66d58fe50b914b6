/* exec_path.h (private to the runtime): execve with the PATH lookup done in
 * the given environment (execvpe would search the caller's PATH). */
#ifndef STRATA_EXEC_PATH_H
#define STRATA_EXEC_PATH_H

/* Returns only on failure, with errno set (ENOENT when not found anywhere). */
void st_exec_path(char *const *argv, char *const *env);

#endif
