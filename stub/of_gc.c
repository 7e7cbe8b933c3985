#define _GNU_SOURCE
#include "of_gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "of_cache.h"
#include "of_error.h"
#include "of_test.h"

#define OF_GC_KEY_LEN OF_CACHE_KEY_HEX_DIGITS
#define OF_GC_ID_LEN (2 * OF_SHA256_DIGEST_SIZE)
#define OF_GC_DAY (24 * 60 * 60)
/* A file we read (pyvenv.cfg, a record, an id) is refused beyond this. */
#define OF_GC_MAX_SMALL_FILE 4096
/* Layers flushed and marked by one clean-up at most (the rest by the next one). */
#define OF_GC_SETTLE_MAX 64
/* How long a clean-up lets the app it was started for run before it flushes. */
#define OF_GC_APP_WAIT_MS 3000
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same on every Linux architecture (since 5.3) */
#endif

enum { OF_GC_RUNTIME, OF_GC_APP, OF_GC_KINDS };
static const char *const of_gc_kind_dirs[OF_GC_KINDS] = { OF_CACHE_RUNTIME_DIR, OF_CACHE_APP_DIR };

/* One layer directory in the cache. */
struct of_gc_layer {
    char key[OF_GC_KEY_LEN + 1];
    char app_id[OF_GC_ID_LEN + 1]; /* app layers: from onefile-app-id, or "" (unknown app) */
    char runtime[OF_GC_KEY_LEN + 1]; /* app layers: the runtime its pyvenv.cfg names, or "" */
    time_t used; /* last use: the directory's mtime (runtimes: also their apps') */
    int newest; /* app layers: its app's record names it */
    int apps; /* runtimes: app layers that use it */
    int users; /* runtimes: those of them that stay */
    int remove; /* chosen for removal */
    uint64_t bytes; /* ONEFILE=info only */
};

/* One app's record: <root>/apps/<id>. */
struct of_gc_record {
    char id[OF_GC_KEY_LEN + 1];
    char app[OF_GC_KEY_LEN + 1];
    char runtime[OF_GC_KEY_LEN + 1];
    time_t written;
    int app_there;
};

struct of_gc_cache {
    const char *root;
    char *dirs[OF_GC_KINDS]; /* <root>/runtime, <root>/app */
    char *apps_dir; /* <root>/apps */
    struct of_gc_layer *layers[OF_GC_KINDS];
    size_t counts[OF_GC_KINDS];
    struct of_gc_record *records;
    size_t record_count;
    int unpacking; /* app layers being unpacked: their runtime is not known */
};

static int of_gc_is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static void of_gc_hex(const uint8_t *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

int of_gc_keep_days(long *days)
{
    const char *value = getenv(OF_ENV_CACHE_KEEP_DAYS);
    char *end;
    long n;

    *days = OF_GC_DEFAULT_KEEP_DAYS;
    if (value == NULL || value[0] == '\0')
        return 0;
    errno = 0;
    n = strtol(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || n > OF_GC_MAX_KEEP_DAYS)
        return of_error(OF_ENV_CACHE_KEEP_DAYS "=%.100s: not a number of days (use a whole number from 0 to %d; "
                                               "unset, old versions of an app are kept %d days)",
                        value, OF_GC_MAX_KEEP_DAYS, OF_GC_DEFAULT_KEEP_DAYS);
    *days = n;
    return 0;
}

/* An app id of zeros: written by a tool that doesn't know the app; not grouped. */
static int of_gc_id_known(const uint8_t app_id[OF_SHA256_DIGEST_SIZE])
{
    for (size_t i = 0; i < OF_SHA256_DIGEST_SIZE; i++)
        if (app_id[i] != 0)
            return 1;
    return 0;
}

int of_gc_mark(int dirfd, const char *dirpath, const uint8_t app_id[OF_SHA256_DIGEST_SIZE])
{
    char text[OF_GC_ID_LEN + 2];
    int fd, rc = -1;

    if (!of_gc_id_known(app_id))
        return 0;

    of_gc_hex(app_id, OF_SHA256_DIGEST_SIZE, text);
    text[OF_GC_ID_LEN] = '\n';
    text[OF_GC_ID_LEN + 1] = '\0';
    fd = openat(dirfd, OF_GC_APP_ID_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, OF_GC_ID_LEN + 1) != OF_GC_ID_LEN + 1) {
        of_error_errno("cannot write %s/" OF_GC_APP_ID_FILE, dirpath);
        goto cleanup;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0)
        of_error_errno("cannot write %s/" OF_GC_APP_ID_FILE, dirpath);
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

int of_gc_record(const char *root, const uint8_t app_id[OF_SHA256_DIGEST_SIZE], const char *app_key,
                 const char *runtime_key)
{
    char id[OF_GC_ID_LEN + 1], content[2 * OF_GC_KEY_LEN + 32];
    char *dir = NULL, *final = NULL;
    int rc = -1;

    if (!of_gc_id_known(app_id))
        return 0;
    dir = of_cache_path(root, OF_GC_APPS_DIR);
    of_gc_hex(app_id, OF_SHA256_DIGEST_SIZE, id);
    id[OF_GC_KEY_LEN] = '\0';
    if (dir == NULL || (final = of_cache_path(dir, id)) == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        of_error_errno("cannot create the cache directory %s", dir);
        goto cleanup;
    }
    snprintf(content, sizeof(content), "app %s\nruntime %s\n", app_key, runtime_key);
    rc = of_cache_write(dir, id, final, content);
cleanup:
    free(final);
    free(dir);
    return rc;
}

/* Read the small file `name` in `dirfd` into buf (NUL-terminated); its length, or -1. */
static ssize_t of_gc_read_small(int dirfd, const char *name, char *buf, size_t size)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

    if (fd >= 0)
        close(fd);
    buf[n >= 0 ? n : 0] = '\0';
    return n;
}

/* The runtime key named by an app directory's pyvenv.cfg ("home = <root>/runtime/<key>/bin"). */
static void of_gc_read_runtime(int dirfd, char out[OF_GC_KEY_LEN + 1])
{
    char buf[OF_GC_MAX_SMALL_FILE], *home, *end;

    out[0] = '\0';
    if (of_gc_read_small(dirfd, OF_APP_PYVENV_CFG, buf, sizeof(buf)) <= 0 || strncmp(buf, "home = ", 7) != 0)
        return;
    home = buf + 7;
    end = strchr(home, '\n');
    if (end == NULL || end - home < OF_GC_KEY_LEN + 5 || memcmp(end - 4, "/bin", 4) != 0 ||
        end[-5 - OF_GC_KEY_LEN] != '/' || !of_gc_is_hex(end - 4 - OF_GC_KEY_LEN, OF_GC_KEY_LEN))
        return;
    memcpy(out, end - 4 - OF_GC_KEY_LEN, OF_GC_KEY_LEN);
    out[OF_GC_KEY_LEN] = '\0';
}

static void of_gc_read_app_id(int dirfd, char out[OF_GC_ID_LEN + 1])
{
    char buf[OF_GC_ID_LEN + 8];

    out[0] = '\0';
    if (of_gc_read_small(dirfd, OF_GC_APP_ID_FILE, buf, sizeof(buf)) == OF_GC_ID_LEN + 1 &&
        buf[OF_GC_ID_LEN] == '\n' && of_gc_is_hex(buf, OF_GC_ID_LEN)) {
        memcpy(out, buf, OF_GC_ID_LEN);
        out[OF_GC_ID_LEN] = '\0';
    }
}

static uint64_t of_gc_walk_bytes;

static int of_gc_add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    of_gc_walk_bytes += (uint64_t)st->st_blocks * 512u;
    return 0;
}

/* Disk space a directory tree takes (links not followed). */
static uint64_t of_gc_du(const char *path)
{
    of_gc_walk_bytes = 0;
    nftw(path, of_gc_add_size, 32, FTW_PHYS);
    return of_gc_walk_bytes;
}

/* List the layer directories of one kind (names of 32 hex digits); count the
 * temporary directories of app layers being unpacked. */
static int of_gc_list(struct of_gc_cache *c, int kind, int sizes)
{
    size_t tmp_len = strlen(OF_CACHE_TMP_PREFIX), cap = 0;
    struct of_gc_layer *l, *grown;
    struct dirent *de;
    struct stat st;
    DIR *dir = opendir(c->dirs[kind]);
    int fd, rc = -1;

    if (dir == NULL) {
        rc = errno == ENOENT ? 0 : of_error_errno("cannot read %s", c->dirs[kind]);
        goto cleanup;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, OF_CACHE_TMP_PREFIX, tmp_len) == 0) {
            c->unpacking += kind == OF_GC_APP;
            continue;
        }
        if (strlen(de->d_name) != OF_GC_KEY_LEN || !of_gc_is_hex(de->d_name, OF_GC_KEY_LEN))
            continue;
        fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue; /* removed meanwhile */
        if (fstat(fd, &st) != 0) {
            close(fd);
            continue;
        }
        if (c->counts[kind] == cap) {
            cap = cap ? 2 * cap : 16;
            grown = realloc(c->layers[kind], cap * sizeof(*grown));
            if (grown == NULL) {
                close(fd);
                of_error("out of memory");
                goto cleanup;
            }
            c->layers[kind] = grown;
        }
        l = &c->layers[kind][c->counts[kind]++];
        memset(l, 0, sizeof(*l));
        memcpy(l->key, de->d_name, OF_GC_KEY_LEN + 1);
        l->used = st.st_mtime;
        if (kind == OF_GC_APP) {
            of_gc_read_app_id(fd, l->app_id);
            of_gc_read_runtime(fd, l->runtime);
        }
        close(fd);
        if (sizes) {
            char *path = of_cache_path(c->dirs[kind], l->key);

            l->bytes = path != NULL ? of_gc_du(path) : 0;
            free(path);
        }
    }
    rc = 0;
cleanup:
    if (dir != NULL)
        closedir(dir);
    return rc;
}

static int of_gc_list_records(struct of_gc_cache *c)
{
    char buf[OF_GC_MAX_SMALL_FILE];
    size_t cap = 0;
    struct of_gc_record *r, *grown;
    struct dirent *de;
    struct stat st;
    DIR *dir = opendir(c->apps_dir);
    ssize_t n;
    int rc = -1;

    if (dir == NULL) {
        rc = errno == ENOENT ? 0 : of_error_errno("cannot read %s", c->apps_dir);
        goto cleanup;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strlen(de->d_name) != OF_GC_KEY_LEN || !of_gc_is_hex(de->d_name, OF_GC_KEY_LEN) ||
            fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        n = of_gc_read_small(dirfd(dir), de->d_name, buf, sizeof(buf));
        if (n != 2 * OF_GC_KEY_LEN + 14 || strncmp(buf, "app ", 4) != 0 || buf[4 + OF_GC_KEY_LEN] != '\n' ||
            strncmp(buf + 5 + OF_GC_KEY_LEN, "runtime ", 8) != 0 || buf[n - 1] != '\n' ||
            !of_gc_is_hex(buf + 4, OF_GC_KEY_LEN) || !of_gc_is_hex(buf + 13 + OF_GC_KEY_LEN, OF_GC_KEY_LEN))
            continue;
        if (c->record_count == cap) {
            cap = cap ? 2 * cap : 16;
            grown = realloc(c->records, cap * sizeof(*grown));
            if (grown == NULL) {
                of_error("out of memory");
                goto cleanup;
            }
            c->records = grown;
        }
        r = &c->records[c->record_count++];
        memset(r, 0, sizeof(*r));
        memcpy(r->id, de->d_name, OF_GC_KEY_LEN + 1);
        memcpy(r->app, buf + 4, OF_GC_KEY_LEN);
        memcpy(r->runtime, buf + 13 + OF_GC_KEY_LEN, OF_GC_KEY_LEN);
        r->written = st.st_mtime;
    }
    rc = 0;
cleanup:
    if (dir != NULL)
        closedir(dir);
    return rc;
}

static void of_gc_free(struct of_gc_cache *c)
{
    for (int k = 0; k < OF_GC_KINDS; k++) {
        free(c->dirs[k]);
        free(c->layers[k]);
        c->dirs[k] = NULL;
        c->layers[k] = NULL;
        c->counts[k] = 0;
    }
    free(c->apps_dir);
    free(c->records);
    c->apps_dir = NULL;
    c->records = NULL;
    c->record_count = 0;
}

/* Read what the cache holds into `c`. */
static int of_gc_load(struct of_gc_cache *c, const char *root, int sizes)
{
    memset(c, 0, sizeof(*c));
    c->root = root;
    for (int k = 0; k < OF_GC_KINDS; k++)
        if ((c->dirs[k] = of_cache_path(root, of_gc_kind_dirs[k])) == NULL)
            return of_error("out of memory");
    if ((c->apps_dir = of_cache_path(root, OF_GC_APPS_DIR)) == NULL)
        return of_error("out of memory");
    /* Apps before records: a start writes its record before it unpacks its app layer. */
    if (of_gc_list(c, OF_GC_APP, sizes) != 0 || of_gc_list(c, OF_GC_RUNTIME, sizes) != 0 ||
        of_gc_list_records(c) != 0)
        return -1;
    return 0;
}

static struct of_gc_record *of_gc_find_record(struct of_gc_cache *c, const char *app_id)
{
    for (size_t i = 0; i < c->record_count; i++)
        if (app_id[0] != '\0' && memcmp(c->records[i].id, app_id, OF_GC_KEY_LEN) == 0)
            return &c->records[i];
    return NULL;
}

/* Choose the app layers to remove: of a known app, not its newest version, unused for
 * `keep_days`. */
static void of_gc_choose_apps(struct of_gc_cache *c, long keep_days, time_t now)
{
    for (size_t i = 0; i < c->counts[OF_GC_APP]; i++) {
        struct of_gc_layer *a = &c->layers[OF_GC_APP][i];
        struct of_gc_record *r = of_gc_find_record(c, a->app_id);

        if (r == NULL) /* an app unpacked by an older launcher, or never recorded: not ours to judge */
            continue;
        if (strcmp(r->app, a->key) == 0) {
            a->newest = 1;
            r->app_there = 1;
            continue;
        }
        a->remove = now - a->used >= (time_t)keep_days * OF_GC_DAY;
    }
}

/* Choose the runtime layers to remove: those no staying app layer uses, no recent record
 * names, while no app layer is being unpacked. */
static void of_gc_choose_runtimes(struct of_gc_cache *c, time_t now)
{
    for (size_t i = 0; i < c->counts[OF_GC_RUNTIME]; i++) {
        struct of_gc_layer *t = &c->layers[OF_GC_RUNTIME][i];
        int pinned = 0;

        t->users = t->apps = 0;
        for (size_t j = 0; j < c->counts[OF_GC_APP]; j++) {
            const struct of_gc_layer *a = &c->layers[OF_GC_APP][j];

            if (strcmp(a->runtime, t->key) == 0) {
                if (a->used > t->used)
                    t->used = a->used;
                t->apps++;
                t->users += !a->remove;
            }
        }
        /* A recent record whose app layer is not there yet: about to be unpacked. */
        for (size_t j = 0; j < c->record_count; j++) {
            const struct of_gc_record *r = &c->records[j];

            if (strcmp(r->runtime, t->key) == 0 && !r->app_there && now - r->written < OF_GC_RECORD_GRACE)
                pinned = 1;
        }
        /* Just unpacked, its app layer maybe not yet: kept a while whatever uses it. */
        t->remove = t->users == 0 && !pinned && c->unpacking == 0 && now - t->used >= OF_GC_FRESH;
    }
}

/* Remove the chosen layers of one kind; a layer found in use or locked stays (its
 * `remove` is cleared). Returns how many went. */
static int of_gc_remove(struct of_gc_cache *c, int kind)
{
    int removed = 0, r;
    char *final;

    for (size_t i = 0; i < c->counts[kind]; i++) {
        struct of_gc_layer *l = &c->layers[kind][i];

        if (!l->remove)
            continue;
        final = of_cache_path(c->dirs[kind], l->key);
        OF_TEST_POINT("clean");
        r = final != NULL ? of_cache_uninstall(c->dirs[kind], l->key, final, OF_CACHE_IF_UNUSED, NULL, NULL) : -1;
        free(final);
        l->remove = r > 0;
        removed += r > 0;
    }
    return removed;
}

/* Remove the records of apps whose newest app layer is gone, once past the grace. */
static void of_gc_prune_records(struct of_gc_cache *c, time_t now)
{
    char *path;

    for (size_t i = 0; i < c->record_count; i++) {
        const struct of_gc_record *r = &c->records[i];

        if (r->app_there || now - r->written < OF_GC_RECORD_GRACE)
            continue;
        path = of_cache_path(c->apps_dir, r->id);
        if (path != NULL)
            unlink(path);
        free(path);
    }
}

/* Flush and mark the layers published in this boot and not flushed yet (of_cache_settle):
 * those listed before the flush, so none published during it is marked. Returns how many
 * were marked. */
static int of_gc_settle(const char *root)
{
    int fds[OF_GC_SETTLE_MAX], fd, marked;
    size_t count = 0;
    struct dirent *de;
    struct stat st;

    for (int k = 0; k < OF_GC_KINDS; k++) {
        char *path = of_cache_path(root, of_gc_kind_dirs[k]);
        DIR *dir = path != NULL ? opendir(path) : NULL;

        while (dir != NULL && (de = readdir(dir)) != NULL && count < OF_GC_SETTLE_MAX) {
            if (strlen(de->d_name) != OF_GC_KEY_LEN || !of_gc_is_hex(de->d_name, OF_GC_KEY_LEN))
                continue;
            fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0 && fstat(fd, &st) == 0 && of_cache_durable(fd, &st) == 0)
                fds[count++] = fd;
            else if (fd >= 0)
                close(fd);
        }
        if (dir != NULL)
            closedir(dir);
        free(path);
    }
    marked = of_cache_settle(fds, count);
    for (size_t i = 0; i < count; i++)
        close(fds[i]);
    return marked;
}

int of_gc_run(const char *root, long keep_days, time_t now)
{
    struct of_gc_cache c;
    int removed = 0;

    /* First what a start waits for least but a power cut needs most. */
    of_gc_settle(root);

    /* Leftovers first: a killed unpacker's directory, a killed clean-up's half-removed
     * layer, a killed writer's record. */
    for (int k = 0; k < OF_GC_KINDS; k++) {
        char *dir = of_cache_path(root, of_gc_kind_dirs[k]);

        if (dir != NULL)
            of_cache_sweep(dir);
        free(dir);
    }
    if ((c.apps_dir = of_cache_path(root, OF_GC_APPS_DIR)) != NULL)
        of_cache_sweep(c.apps_dir);
    free(c.apps_dir);
    if (of_gc_load(&c, root, 0) != 0)
        goto cleanup;
    of_gc_choose_apps(&c, keep_days, now);
    removed += of_gc_remove(&c, OF_GC_APP);
    of_gc_choose_runtimes(&c, now);
    removed += of_gc_remove(&c, OF_GC_RUNTIME);
    of_gc_prune_records(&c, now);
cleanup:
    of_gc_free(&c);
    return removed;
}

/* In the detached process: stdio on /dev/null, every other fd closed. */
static void of_gc_detach(int keep)
{
    int null = open("/dev/null", O_RDWR);

    if (null >= 0) {
        for (int fd = 0; fd < 3; fd++)
            if (null != fd)
                dup2(null, fd);
        if (null > 2 && null != keep)
            close(null);
    }
    for (int fd = 3; fd < 1024; fd++) /* (close_range needs Linux 5.9) */
        if (fd != keep)
            close(fd);
}

/* Let the app start, and a short one finish, before the flush competes with it for the
 * CPU and the disk (a first start of examples/hello on ext4: ~6 ms slower with the flush
 * beside it, docs/performance.md "Session 9"): wait until process `app` exits, at most
 * OF_GC_APP_WAIT_MS. No wait where pidfds are missing (Linux < 5.3) or `app` is gone. */
static void of_gc_wait_app(pid_t app)
{
    struct pollfd p = { (int)syscall(SYS_pidfd_open, app, 0), POLLIN, 0 };

    if (p.fd < 0)
        return;
    while (poll(&p, 1, OF_GC_APP_WAIT_MS) < 0 && errno == EINTR)
        ;
    close(p.fd);
}

void of_gc_spawn(const char *root, long keep_days)
{
    pid_t app = getpid(); /* the launcher's, which becomes the app's with the exec */
    char *lock = of_cache_path(root, OF_GC_LOCK);
    pid_t child;
    int fd;

    if (lock == NULL)
        return;
    child = fork();
    if (child == 0) {
        /* The middle process: takes the lock (kept by its child), starts the cleaner in
         * a session of its own, and exits, so the cleaner is nobody's child here. */
        fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || setsid() < 0)
            _exit(0);
        if (fork() != 0)
            _exit(0);
        of_gc_detach(fd);
        signal(SIGHUP, SIG_IGN);
        setpriority(PRIO_PROCESS, 0, 10);
        of_gc_wait_app(app);
        OF_TEST_POINT("cleaner");
        of_gc_run(root, keep_days, time(NULL));
        _exit(0);
    }
    if (child > 0)
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
    free(lock);
}

static void of_gc_date(time_t t, time_t now, char *out, size_t size)
{
    struct tm tm;
    char day[32];

    if (gmtime_r(&t, &tm) == NULL || strftime(day, sizeof(day), "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(day, sizeof(day), "%lld", (long long)t);
    snprintf(out, size, "%s (%lld days ago)", day, (long long)((now - t) / OF_GC_DAY));
}

int of_gc_report(const char *root, long keep_days, time_t now, FILE *out)
{
    struct of_gc_cache c;
    uint64_t total = 0;
    char when[96];
    int planned = 0;

    if (of_gc_load(&c, root, 1) != 0) {
        fprintf(out, "cache contents: unreadable: %s\n", of_error_message());
        goto cleanup;
    }
    of_gc_choose_apps(&c, keep_days, now);
    of_gc_choose_runtimes(&c, now);
    for (int k = 0; k < OF_GC_KINDS; k++)
        for (size_t i = 0; i < c.counts[k]; i++)
            total += c.layers[k][i].bytes;
    fprintf(out, "cache size: %.1f MB in %zu runtime and %zu app directories\n", (double)total / 1e6,
            c.counts[OF_GC_RUNTIME], c.counts[OF_GC_APP]);
    for (int k = 0; k < OF_GC_KINDS; k++) {
        for (size_t i = 0; i < c.counts[k]; i++) {
            const struct of_gc_layer *l = &c.layers[k][i];

            of_gc_date(l->used, now, when, sizeof(when));
            fprintf(out, "  %s/%s: %.1f MB, last used %s", of_gc_kind_dirs[k], l->key, (double)l->bytes / 1e6, when);
            if (k == OF_GC_RUNTIME)
                fprintf(out, ", used by %d app director%s\n", l->apps, l->apps == 1 ? "y" : "ies");
            else if (l->app_id[0] == '\0' || of_gc_find_record(&c, l->app_id) == NULL)
                fprintf(out, ", app not known (kept)\n");
            else
                fprintf(out, ", app %.16s, %s\n", l->app_id, l->newest ? "newest version" : "older version");
        }
    }
    fprintf(out, "next clean-up (on a cold start; older versions unused for %ld days, " OF_ENV_CACHE_KEEP_DAYS
                 ") removes:",
            keep_days);
    for (int k = OF_GC_KINDS - 1; k >= 0; k--) {
        for (size_t i = 0; i < c.counts[k]; i++) {
            if (c.layers[k][i].remove) {
                fprintf(out, " %s/%s", of_gc_kind_dirs[k], c.layers[k][i].key);
                planned++;
            }
        }
    }
    fprintf(out, planned > 0 ? " (unless in use then)\n" : " nothing\n");
cleanup:
    of_gc_free(&c);
    return 0;
}
