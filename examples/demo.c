#include <stdio.h>
#include <gomem.h>
int main(void) { void *p = gm_alloc(100); printf("%p %zu\n", p, gm_size(p)); return 0; }
