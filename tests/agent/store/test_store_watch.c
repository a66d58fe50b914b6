/* test_store_watch.c: the store's change feed on the in-memory backend
 * (the cases shared with PostgreSQL are in watch_hook_cases.h). */
#include "watch_hook_cases.h"

static void test_watch_hook_mem(void **state)
{
    (void)state;
    st_store *s = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mem_open(&s, &err), 0);
    watch_hook_cases(s);
    st_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_hook_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
