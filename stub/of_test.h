/* Fault injection for the launcher's own tests, compiled in only with -DOF_TEST_HOOKS
 * (`make test-stub`); the production launcher has none of it.
 *
 * ONEFILE_TEST_KILL=<point>:<n> makes the process SIGKILL itself the n-th time it
 * reaches OF_TEST_POINT(<point>); ONEFILE_TEST_STOP=<point>:<n> makes it SIGSTOP
 * itself there instead (the test sends SIGCONT). */
#ifndef OF_TEST_H
#define OF_TEST_H

#ifdef OF_TEST_HOOKS
void of_test_point(const char *point);
#define OF_TEST_POINT(point) of_test_point(point)
#else
#define OF_TEST_POINT(point) ((void)0)
#endif

#endif
