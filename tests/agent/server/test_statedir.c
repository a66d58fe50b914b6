/* test_statedir.c: a second holder of the state dir lock is refused with
 * the first one's pid, and the lock is free again once released. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "strata/statedir.h"

static void test_second_lock_refused(void **state)
{
    (void)state;
    char *dir = st_test_mkdtemp("strata-statedir");
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/state", dir);
    st_error err = {0};
    int fd = -1, fd2 = -1;
    int r1 = st_statedir_lock(sub, &fd, &err);
    /* flock conflicts between open file descriptions, also in one process */
    st_error e2 = {0};
    int r2 = st_statedir_lock(sub, &fd2, &e2);
    if (fd >= 0)
        close(fd);
    st_error e3 = {0};
    int fd3 = -1;
    int r3 = st_statedir_lock(sub, &fd3, &e3);
    if (fd3 >= 0)
        close(fd3);
    st_test_rmrf(dir);
    free(dir);

    assert_int_equal(r1, 0);
    assert_int_equal(r2, -EBUSY);
    assert_int_equal(fd2, -1);
    char pid[32];
    snprintf(pid, sizeof(pid), "(pid %d)", (int)getpid());
    assert_non_null(strstr(e2.msg, "another stratad is running with state dir"));
    assert_non_null(strstr(e2.msg, pid));
    assert_int_equal(r3, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_lock_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
