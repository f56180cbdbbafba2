/*
 * mappings.c - which file each code address comes from, for pprof.
 *
 * dl_iterate_phdr lists the loaded objects, the main program first (with
 * an empty name: its path is /proc/self/exe's target).  Each loadable
 * segment that is executable becomes one mapping: the kernel maps it from
 * the page that holds its first byte, so start and file offset are rounded
 * down to the page and limit up, as /proc/self/maps shows them; pprof
 * turns an address into a file offset with them and then into the
 * object's own addresses with its program headers.  The build ID comes
 * from the object's GNU build-ID note (in a PT_NOTE segment, which is
 * loaded), so pprof can check it opens the right file.  Objects without a
 * path (the vDSO) are left out: there is no file to read symbols from.
 *
 * The callback runs under the dynamic loader's lock: it only copies into
 * the caller's array.
 */
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "obs/mappings.h"

typedef struct read_state {
    gm_mapping *out;
    size_t n, max;
    bool first;
} read_state;

static void hex_build_id(const struct dl_phdr_info *info, char *hex, size_t cap) {
    hex[0] = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
            const uint8_t *next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                nh->n_descsz * 2 + 1 <= cap) {
                static const char digits[] = "0123456789abcdef";
                for (unsigned k = 0; k < nh->n_descsz; k++) {
                    hex[2 * k] = digits[desc[k] >> 4];
                    hex[2 * k + 1] = digits[desc[k] & 15];
                }
                hex[2 * nh->n_descsz] = 0;
                return;
            }
            p = next;
        }
    }
}

static int add_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    read_state *st = data;
    bool main_program = st->first;
    st->first = false;
    char file[GM_MAPPING_PATH_MAX];
    if (main_program && (!info->dlpi_name || !info->dlpi_name[0])) {
        ssize_t n = readlink("/proc/self/exe", file, sizeof file - 1);
        if (n <= 0)
            return 0;
        file[n] = 0;
    } else {
        if (!info->dlpi_name || !strchr(info->dlpi_name, '/'))
            return 0;
        size_t n = strlen(info->dlpi_name);
        if (n >= sizeof file)
            return 0;
        memcpy(file, info->dlpi_name, n + 1);
    }
    char build_id[80];
    hex_build_id(info, build_id, sizeof build_id);
    uintptr_t page = (uintptr_t)getpagesize();
    for (int i = 0; i < info->dlpi_phnum && st->n < st->max; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        gm_mapping *m = &st->out[st->n++];
        m->start = lo & ~(page - 1);
        m->limit = (lo + ph->p_memsz + page - 1) & ~(page - 1);
        m->offset = ph->p_offset & ~(uint64_t)(page - 1);
        m->bias = info->dlpi_addr;
        memcpy(m->file, file, sizeof file);
        memcpy(m->build_id, build_id, sizeof build_id);
    }
    return st->n < st->max ? 0 : 1;
}

size_t gm_mappings_read(gm_mapping *out, size_t max) {
    read_state st = {out, 0, max, true};
    dl_iterate_phdr(add_object, &st);
    return st.n;
}
