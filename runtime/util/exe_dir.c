/* exe_dir.c: the folder of the running program (see exe_dir.h). */
#include "strata/exe_dir.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int st_exe_dir(char *buf, size_t len, st_error *err)
{
    if (len < 2)
        return st_error_set(err, ENAMETOOLONG, "no room for the program's folder");
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n < 0)
        return st_error_sys(err, errno, "cannot read /proc/self/exe");
    if ((size_t)n >= len - 1)
        return st_error_set(err, ENAMETOOLONG, "the path of this program is too long");
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        return st_error_set(err, EINVAL, "cannot tell this program's folder from \"%s\"", buf);
    if (slash == buf)
        slash[1] = '\0'; /* a program in / */
    else
        *slash = '\0';
    return 0;
}
