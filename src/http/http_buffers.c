/*
 * A server's cache of connection buffers.
 *
 * An idle keep-alive connection holds no buffers (docs/http.md, "Memory"),
 * so a connection that goes idle between its requests would take its
 * buffers from malloc and give them back for every request: about 52 KB
 * (the 36 KB block of input, head and header arrays, the 16 KB output),
 * blocks too large for glibc's per-thread caches, whose frees also move
 * the heap's top up and down. The cache keeps a few of them for the next
 * request of any connection of the server instead.
 *
 * Bounded: at most HTTP_CACHE_SLOTS blocks and as many outputs; one given
 * back to a full cache is freed. Emptied when the server drains (a block
 * given back while it drains is freed), when it is freed, and by the
 * drainer's tick when nothing was taken from it since the tick before,
 * so that a quiet server soon holds nothing. A block in the cache is no
 * process's (arbor_disown): a connection adopts the one it takes, so that
 * the runtime's accounting and a process's death see it as before. Any
 * thread: one lock per server, held for a few instructions.
 */
#include "http_internal.h"

int arbor__http_cache_init(http_buffer_cache_t *cache)
{
    cache->n[HTTP_BUF_BLOCK] = cache->n[HTTP_BUF_OUT] = 0;
    cache->used = false;
    return pthread_mutex_init(&cache->lock, NULL) == 0 ? 0 : ARBOR_ENOMEM;
}

/* Takes what the cache holds out of it, under its lock; the caller frees
 * it outside. Returns how many, in out. */
static size_t take_all(http_buffer_cache_t *cache, void *out[2 * HTTP_CACHE_SLOTS])
{
    size_t n = 0;
    for (int kind = 0; kind < 2; kind++) {
        while (cache->n[kind])
            out[n++] = cache->slots[kind][--cache->n[kind]];
    }
    return n;
}

/* Frees what the cache holds; with only_unused, only when nothing was
 * taken from it since the last call. Takes the blocks out under the lock
 * and frees them outside it. */
static void drop(http_buffer_cache_t *cache, bool only_unused)
{
    void *blocks[2 * HTTP_CACHE_SLOTS];
    size_t n = 0;
    pthread_mutex_lock(&cache->lock);
    if (!only_unused || !cache->used)
        n = take_all(cache, blocks);
    cache->used = false;
    pthread_mutex_unlock(&cache->lock);
    for (size_t i = 0; i < n; i++)
        arbor_free_disowned(blocks[i]);
}

void arbor__http_cache_destroy(http_buffer_cache_t *cache)
{
    drop(cache, false);
    pthread_mutex_destroy(&cache->lock);
}

void *arbor__http_cache_take(arbor_http_server_t *srv, int kind)
{
    http_buffer_cache_t *cache = &srv->cache;
    void *b = NULL;
    pthread_mutex_lock(&cache->lock);
    cache->used = true;
    if (cache->n[kind])
        b = cache->slots[kind][--cache->n[kind]];
    pthread_mutex_unlock(&cache->lock);
    arbor_adopt(b);
    return b;
}

void arbor__http_cache_give(arbor_http_server_t *srv, int kind, void *b)
{
    if (!b)
        return;
    http_buffer_cache_t *cache = &srv->cache;
    arbor_disown(b);
    pthread_mutex_lock(&cache->lock);
    /* draining is read under the lock that the drain's emptying takes
     * after setting it: a block is either seen by that emptying or not
     * kept. */
    bool keep = cache->n[kind] < HTTP_CACHE_SLOTS && !arbor__http_draining(srv);
    if (keep)
        cache->slots[kind][cache->n[kind]++] = b;
    pthread_mutex_unlock(&cache->lock);
    if (!keep)
        arbor_free_disowned(b);
}

void arbor__http_cache_empty(arbor_http_server_t *srv)
{
    drop(&srv->cache, false);
}

void arbor__http_cache_tick(arbor_http_server_t *srv)
{
    drop(&srv->cache, true);
}

size_t arbor__http_cache_held(arbor_http_server_t *srv, int kind)
{
    pthread_mutex_lock(&srv->cache.lock);
    size_t n = srv->cache.n[kind];
    pthread_mutex_unlock(&srv->cache.lock);
    return n;
}
