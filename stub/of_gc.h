/* Cleaning the cache up: the app layers of an app's older versions, once unused for a
 * while, and the runtime layers no app layer uses any more. See docs/reliability.md
 * "Clean-up".
 *
 * <root>/apps/<app id>          the newest version of one app: "app <key>\nruntime <key>\n",
 *                               written on each cold start that unpacks its app layer
 * <root>/app/<key>/onefile-app-id  which app an app layer belongs to (64 hex digits)
 * <root>/.cleaning              flock()ed by the one clean-up running
 *
 * An app layer's last use is its directory's mtime (of_cache_touch, once a day); a
 * running app holds a shared flock on its directory (of_cache_use), and a clean-up only
 * removes a layer it can lock exclusively. */
#ifndef OF_GC_H
#define OF_GC_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "of_format.h"

#define OF_GC_APPS_DIR "apps"
#define OF_GC_APP_ID_FILE "onefile-app-id"
#define OF_GC_LOCK ".cleaning"
#define OF_GC_DEFAULT_KEEP_DAYS 14
#define OF_GC_MAX_KEEP_DAYS 36500
/* A record of an app whose app layer is gone still protects its runtime this long: the
 * time between writing it and unpacking the app layer. */
#define OF_GC_RECORD_GRACE (24 * 60 * 60)
/* A runtime layer unpacked (or used) this recently stays, used or not: its app layer
 * may be about to be unpacked. */
#define OF_GC_FRESH (60 * 60)

/* $ONEFILE_CACHE_KEEP_DAYS (default 14) in *days. Returns 0, or -1 with of_error set
 * for a value that is not a whole number from 0 to 36500. */
int of_gc_keep_days(long *days);

/* Write <dirpath>/onefile-app-id (into the app layer being unpacked, `dirfd`). Returns
 * 0, or -1 with of_error set. An app id of zeros (a writer that doesn't know the app)
 * is not written, nor recorded by of_gc_record: such layers are never cleaned up. */
int of_gc_mark(int dirfd, const char *dirpath, const uint8_t app_id[OF_SHA256_DIGEST_SIZE]);

/* Record app `app_id`'s newest version (its app and runtime keys) in <root>/apps.
 * Returns 0, or -1 with of_error set. */
int of_gc_record(const char *root, const uint8_t app_id[OF_SHA256_DIGEST_SIZE], const char *app_key,
                 const char *runtime_key);

/* Start a clean-up of `root` in a detached process (double fork, new session, stdio on
 * /dev/null, no other fd) and return at once; it holds <root>/.cleaning before this
 * returns, and does nothing when another clean-up holds it. It begins once this process
 * (the app, after the exec) has exited, or after 3 s. Best effort. */
void of_gc_spawn(const char *root, long keep_days);

/* Clean `root` up now (what the detached process does): flush and mark the layers this
 * boot published unflushed (of_cache_settle), sweep leftovers, remove the app layers of
 * older versions unused for `keep_days` days, then the runtime layers no remaining app
 * layer needs. Layers in use or locked are left alone. Returns how many layers were
 * removed. */
int of_gc_run(const char *root, long keep_days, time_t now);

/* Print the cache's size, each layer's size and last use, and what the next clean-up
 * would remove (ONEFILE=info). Returns 0. */
int of_gc_report(const char *root, long keep_days, time_t now, FILE *out);

#endif
