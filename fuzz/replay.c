/* Run fuzz_launcher.c's LLVMFuzzerTestOneInput on files and directories of files, for
 * compilers without libFuzzer (the CI test replays fuzz/corpus this way under ASan and
 * UBSan). Prints how many inputs ran; any sanitizer report aborts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;
    int rc = -1;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto cleanup;
    data = malloc((size_t)size + 1);
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size)
        goto cleanup;
    LLVMFuzzerTestOneInput(data, (size_t)size);
    rc = 0;
cleanup:
    if (rc != 0)
        perror(path);
    free(data);
    if (f != NULL)
        fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    char path[4096];
    struct dirent *de;
    struct stat st;
    long count = 0;
    int failed = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        DIR *dir;

        if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            failed |= replay_file(argv[i]) != 0;
            count++;
            continue;
        }
        dir = opendir(argv[i]);
        while (dir != NULL && (de = readdir(dir)) != NULL) {
            snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
            if (de->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            failed |= replay_file(path) != 0;
            count++;
        }
        if (dir != NULL)
            closedir(dir);
    }
    printf("replayed %ld inputs\n", count);
    return failed;
}
