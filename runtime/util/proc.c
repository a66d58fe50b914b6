/* proc.c: see proc.h. Only async-signal-safe calls: this runs in a child
 * forked from a threaded process, before it execs. */
#include "strata/proc.h"

#include <signal.h>

void st_proc_reset_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
}
