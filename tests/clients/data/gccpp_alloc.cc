// A C++ program on Debian's libgccpp.so.1 (gc_cpp.h): collectable objects
// (class gc), objects with destructors run as finalizers (gc_cleanup), and
// uncollectable arrays (new (NoGC)) freed with delete[].  libgccpp itself
// runs unchanged on top of whichever libgc.so.1 is loaded.
#include <gc_cpp.h>
#include <cstdio>

struct Node : public gc {
    Node *next;
    long v;
};
struct Fin : public gc_cleanup {
    static int n;
    ~Fin() { n++; }
};
int Fin::n = 0;
Node *head;

int main() {
    GC_INIT();
    long checked = 0;
    for (int r = 0; r < 20; r++) {
        head = 0;
        for (long i = 0; i < 100000; i++) {
            Node *x = new Node;
            x->v = i;
            x->next = head;
            head = x;
        }
        for (int i = 0; i < 1000; i++)
            new Fin;
        long want = 99999;
        for (Node *x = head; x; x = x->next, want--, checked++)
            if (x->v != want) {
                std::printf("node %ld holds %ld\n", want, x->v);
                return 1;
            }
        int *u = new (NoGC) int[10];
        delete[] u;
    }
    GC_gcollect();
    GC_gcollect();
    std::printf("checked %ld nodes; destructors run as finalizers: %s\n", checked, Fin::n > 0 ? "yes" : "no");
    return 0;
}
