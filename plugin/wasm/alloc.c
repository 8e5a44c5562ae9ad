/* The module's allocator: power-of-two size classes with one free list each,
 * carved from linear memory above __heap_base. It replaces wasi-libc's
 * dlmalloc, which alone is a quarter of the module: the plugin allocates
 * little (a configuration, header values, pending delays), mostly in a few
 * recurring sizes, so splitting and coalescing buy nothing here. Memory is
 * never returned to the host; wasm memory cannot shrink anyway. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PAGE_SIZE 65536u
#define HEADER_SIZE 16u /* keeps payloads aligned for max_align_t */
#define MIN_CLASS 5     /* 32-byte blocks: header + 16 bytes */
#define CLASS_COUNT 32

extern unsigned char __heap_base;

struct free_block {
    struct free_block *next;
};

static struct free_block *free_lists[CLASS_COUNT];
static uintptr_t heap_top, heap_end;

/* The class whose blocks hold size bytes after the header, or -1. */
static int class_for(size_t size)
{
    if (size > (SIZE_MAX >> 2))
        return -1;
    size_t total = size + HEADER_SIZE;
    int c = MIN_CLASS;
    while (((size_t)1 << c) < total)
        c++;
    return c < CLASS_COUNT ? c : -1;
}

static void *carve(int c)
{
    size_t block = (size_t)1 << c;
    if (!heap_top) {
        heap_top = ((uintptr_t)&__heap_base + HEADER_SIZE - 1) & ~(uintptr_t)(HEADER_SIZE - 1);
        heap_end = __builtin_wasm_memory_size(0) * PAGE_SIZE;
    }
    if (heap_end - heap_top < block) {
        size_t pages = (block - (heap_end - heap_top) + PAGE_SIZE - 1) / PAGE_SIZE;
        size_t old_pages = __builtin_wasm_memory_grow(0, pages);
        if (old_pages == SIZE_MAX)
            return NULL;
        heap_end = (old_pages + pages) * PAGE_SIZE; /* contiguous with what was left */
    }
    unsigned char *p = (unsigned char *)heap_top;
    heap_top += block;
    return p;
}

void *malloc(size_t size)
{
    int c = class_for(size);
    if (c < 0)
        return NULL;
    unsigned char *block;
    if (free_lists[c]) {
        block = (unsigned char *)free_lists[c];
        free_lists[c] = free_lists[c]->next;
    } else if (!(block = carve(c))) {
        return NULL;
    }
    *(uint32_t *)block = (uint32_t)c;
    return block + HEADER_SIZE;
}

void free(void *ptr)
{
    if (!ptr)
        return;
    unsigned char *block = (unsigned char *)ptr - HEADER_SIZE;
    int c = (int)*(uint32_t *)block;
    struct free_block *f = (struct free_block *)block;
    f->next = free_lists[c];
    free_lists[c] = f;
}

void *calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *realloc(void *ptr, size_t size)
{
    if (!ptr)
        return malloc(size);
    int c = (int)*(uint32_t *)((unsigned char *)ptr - HEADER_SIZE);
    size_t capacity = ((size_t)1 << c) - HEADER_SIZE;
    if (size <= capacity)
        return ptr;
    void *grown = malloc(size);
    if (grown) {
        memcpy(grown, ptr, capacity);
        free(ptr);
    }
    return grown;
}
