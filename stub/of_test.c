#include "of_test.h"

#ifdef OF_TEST_HOOKS
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Count visits to `point`; signal ourselves when $var says "<point>:<count so far>". */
static void of_test_check(const char *var, const char *point, unsigned long visits, int sig)
{
    const char *spec = getenv(var), *colon;
    size_t len = strlen(point);

    if (spec == NULL || (colon = strchr(spec, ':')) == NULL || (size_t)(colon - spec) != len ||
        strncmp(spec, point, len) != 0 || strtoul(colon + 1, NULL, 10) != visits)
        return;
    raise(sig);
}

void of_test_point(const char *point)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the unpacker's workers call this too */
    static const char *names[16];
    static unsigned long counts[16];
    unsigned long visits;
    size_t i;

    pthread_mutex_lock(&lock);
    for (i = 0; i < 16 && names[i] != NULL && strcmp(names[i], point) != 0; i++)
        ;
    if (i == 16) {
        pthread_mutex_unlock(&lock);
        return;
    }
    names[i] = point;
    visits = ++counts[i];
    pthread_mutex_unlock(&lock);
    of_test_check("ONEFILE_TEST_KILL", point, visits, SIGKILL);
    of_test_check("ONEFILE_TEST_STOP", point, visits, SIGSTOP);
}
#else
typedef int of_test_unused; /* ISO C wants something in a translation unit */
#endif
