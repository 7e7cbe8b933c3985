#include <math.h>
#include <pthread.h>
#include <time.h>
double rp_work(double x) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return cos(x) + (pthread_self() != 0); }
