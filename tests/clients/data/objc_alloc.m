/* A GNU Objective-C program on the garbage-collected runtime (libobjc_gc):
 * it allocates instances of a class with an object pointer and a
 * non-pointer field, links them into lists and drops most of them, then
 * checks the survivors.  Instances come from the runtime's GC functions
 * (GC_malloc_explicitly_typed with the class's layout). */
#include <objc/runtime.h>
#include <stdio.h>
#include <stdint.h>

__attribute__((objc_root_class))
@interface Node
{
  Class isa;
  Node *next;
  intptr_t value;
  char pad[40];
}
+ (id) new;
- (Node *) next;
- (void) setNext: (Node *)n;
- (intptr_t) value;
- (void) setValue: (intptr_t)v;
@end

@implementation Node
+ (id) new { return class_createInstance (self, 0); }
- (Node *) next { return next; }
- (void) setNext: (Node *)n { next = n; }
- (intptr_t) value { return value; }
- (void) setValue: (intptr_t)v { value = v; }
@end

int main (void)
{
  Node *keep = nil;
  long kept = 0;
  for (long round = 0; round < 40; round++)
    {
      Node *head = nil;
      for (long i = 0; i < 50000; i++)
        {
          Node *n = [Node new];
          [n setValue: round * 100000 + i];
          [n setNext: head];
          head = n;
        }
      /* keep one node per round, drop the rest */
      [head setNext: keep];
      keep = head;
      kept++;
    }
  long count = 0, sum = 0;
  for (Node *n = keep; n != nil; n = [n next])
    {
      count++;
      sum += [n value] % 1000;
    }
  printf ("kept %ld rounds, %ld nodes, checksum %ld\n", kept, count, sum);
  return count == kept ? 0 : 1;
}
