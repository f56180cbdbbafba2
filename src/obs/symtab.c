/*
 * symtab.c - reading function names from ELF symbol tables.
 *
 * dladdr names only the exported (dynamic) symbols, and most of a C
 * program's functions are not exported.  So the profile writer reads the
 * symbol table of each file the profile's addresses come from: the file is
 * mapped read-only, the section headers give .symtab (kept unless the file
 * was stripped) or else .dynsym, with the string table their sh_link
 * names.  A function symbol (STT_FUNC or STT_GNU_IFUNC, defined, of
 * nonzero size) covers [st_value, st_value + st_size).  Lookups scan the
 * table: a profile has at most a few thousand distinct addresses.
 *
 * Every offset read from the file is checked against its size, so a
 * truncated or odd file yields no names, never a fault.
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obs/symtab.h"

static bool in_file(const gm_symtab *t, uint64_t off, uint64_t len) {
    return off <= t->size && len <= t->size - off;
}

static bool find_table(gm_symtab *t, uint32_t type) {
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)t->file;
    if (eh->e_shentsize != sizeof(ElfW(Shdr)) ||
        !in_file(t, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr))))
        return false;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(t->file + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != type || sh[i].sh_entsize != sizeof(ElfW(Sym)) || sh[i].sh_link >= eh->e_shnum)
            continue;
        const ElfW(Shdr) *str = &sh[sh[i].sh_link];
        if (!in_file(t, sh[i].sh_offset, sh[i].sh_size) || !in_file(t, str->sh_offset, str->sh_size))
            continue;
        t->syms = t->file + sh[i].sh_offset;
        t->nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
        t->strs = (const char *)t->file + str->sh_offset;
        t->strsize = str->sh_size;
        return true;
    }
    return false;
}

bool gm_symtab_open(gm_symtab *t, const char *path) {
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
        close(fd);
        return false;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return false;
    t->file = p;
    t->size = (size_t)st.st_size;
    const ElfW(Ehdr) *eh = p;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        !(find_table(t, SHT_SYMTAB) || find_table(t, SHT_DYNSYM))) {
        gm_symtab_close(t);
        return false;
    }
    return true;
}

void gm_symtab_close(gm_symtab *t) {
    if (t->file)
        munmap((void *)t->file, t->size);
    memset(t, 0, sizeof *t);
}

const char *gm_symtab_lookup(const gm_symtab *t, uint64_t vaddr) {
    const ElfW(Sym) *syms = t->syms;
    for (size_t i = 0; i < t->nsyms; i++) {
        const ElfW(Sym) *s = &syms[i];
        unsigned type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF || s->st_size == 0)
            continue;
        if (vaddr - s->st_value < s->st_size) {
            if (s->st_name >= t->strsize)
                return NULL;
            const char *name = t->strs + s->st_name;
            return memchr(name, 0, t->strsize - s->st_name) ? name : NULL;
        }
    }
    return NULL;
}
