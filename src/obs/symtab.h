/*
 * symtab.h - function names from an ELF file's symbol tables.
 */
#ifndef GM_OBS_SYMTAB_H
#define GM_OBS_SYMTAB_H

#include "gm.h"

typedef struct gm_symtab {
    const uint8_t *file; /* the whole file, mapped read-only */
    size_t size;
    const void *syms;    /* .symtab, or .dynsym when stripped */
    size_t nsyms;
    const char *strs;
    size_t strsize;
} gm_symtab;

/* Maps path and finds its symbol table; false if it cannot (the reason is
 * not reported: names are then left to pprof). */
bool gm_symtab_open(gm_symtab *t, const char *path);
void gm_symtab_close(gm_symtab *t);
/* The function whose code holds vaddr (an address in the file's own
 * terms, i.e. run-time address minus load bias), or NULL. */
const char *gm_symtab_lookup(const gm_symtab *t, uint64_t vaddr);

#endif /* GM_OBS_SYMTAB_H */
