/*
 * hooks_stub.c - placeholder hooks until the scheduler lands.
 * The goroutine subsystem replaces this file.
 */
#include "gm.h"

void gm_task_scan_stacks(gm_thread *t, gm_scan_fn scan, void *ctx) { (void)t, (void)scan, (void)ctx; }
void gm_task_shrink_stacks(gm_thread *t) { (void)t; }
void gm_task_thread_exit(gm_thread *t) { (void)t; }
void gm_task_stack_stats(uint64_t *inuse, uint64_t *sys) { *inuse = 0; *sys = 0; }
