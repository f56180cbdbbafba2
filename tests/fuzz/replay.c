/*
 * replay.c - runs every file of a corpus folder (default: the seed corpus,
 * tests/fuzz/corpus) through fuzz_api.c's LLVMFuzzerTestOneInput, for the
 * ordinary test run (test_fuzz_corpus) and to replay a crash found by the
 * fuzzer: test_fuzz_corpus FILE-OR-FOLDER...
 */
#include <dirent.h>
#include <sys/stat.h>

#include "gm_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f, "cannot open %s: %s", path, strerror(errno));
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 1;
}

static int run_path(const char *path) {
    struct stat st;
    CHECK(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    CHECK(d, "opendir %s: %s", path, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        n += run_file(full);
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    int n = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            n += run_path(argv[i]);
    } else {
        n = run_path(GM_FUZZ_CORPUS);
    }
    CHECK(n > 0, "no inputs");
    printf("test_fuzz_corpus: %d inputs replayed: ok\n", n);
    return 0;
}
