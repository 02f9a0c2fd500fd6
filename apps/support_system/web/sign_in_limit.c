/*
 * Sign-in rate limiting (sign_in_limit.h): two fixed tables, names and
 * addresses, searched linearly (512 entries: a few microseconds, only on
 * sign-in).
 */
#include "sign_in_limit.h"

#include <arbor.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../ticket.h"

typedef struct entry {
    char key[TICKET_NAME_SIZE]; /* "": free */
    unsigned failures;          /* within the window */
    int64_t last_ms;            /* the last failure's time */
    int64_t blocked_until_ms;
} entry_t;

typedef struct limits {
    entry_t entries[SIGN_IN_ENTRIES];
    unsigned free_failures;
    bool names; /* keys are agents' names: one whatever their ASCII case */
} limits_t;

static struct {
    pthread_mutex_t lock;
    limits_t names, addresses;
} table = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .names = {.free_failures = SIGN_IN_FREE_PER_NAME, .names = true},
           .addresses = {.free_failures = SIGN_IN_FREE_PER_ADDRESS}};

static int64_t now_ms(void)
{
    return (int64_t)arbor_now_ms();
}

/* key's entry, or NULL; an entry past its window is forgotten. */
static entry_t *find(limits_t *l, const char *key, int64_t now)
{
    for (size_t i = 0; i < SIGN_IN_ENTRIES; i++) {
        entry_t *e = &l->entries[i];
        if (e->key[0] && now - e->last_ms > SIGN_IN_WINDOW_MS)
            e->key[0] = '\0';
        if (e->key[0] &&
            (l->names ? ticket_same_agent_name(e->key, key) : strcmp(e->key, key) == 0))
            return e;
    }
    return NULL;
}

/* A new entry for key: a free one, else the one whose last failure is oldest. */
static entry_t *add(limits_t *l, const char *key)
{
    entry_t *oldest = &l->entries[0];
    for (size_t i = 0; i < SIGN_IN_ENTRIES; i++) {
        entry_t *e = &l->entries[i];
        if (!e->key[0]) {
            oldest = e;
            break;
        }
        if (e->last_ms < oldest->last_ms)
            oldest = e;
    }
    *oldest = (entry_t){.failures = 0};
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    return oldest;
}

static int64_t wait_of(limits_t *l, const char *key, int64_t now)
{
    entry_t *e = find(l, key, now);
    return e && e->blocked_until_ms > now ? e->blocked_until_ms - now : 0;
}

static void count(limits_t *l, const char *key, int64_t now)
{
    entry_t *e = find(l, key, now);
    if (!e)
        e = add(l, key);
    e->failures++;
    e->last_ms = now;
    if (e->failures >= l->free_failures) {
        unsigned doublings = e->failures - l->free_failures;
        int64_t block = SIGN_IN_FIRST_BLOCK_MS;
        while (doublings-- > 0 && block < SIGN_IN_MAX_BLOCK_MS)
            block *= 2;
        e->blocked_until_ms = now + (block < SIGN_IN_MAX_BLOCK_MS ? block : SIGN_IN_MAX_BLOCK_MS);
    }
}

int64_t sign_in_wait_ms(const char *name, const char *address)
{
    pthread_mutex_lock(&table.lock);
    int64_t now = now_ms();
    int64_t by_name = wait_of(&table.names, name, now);
    int64_t by_address = wait_of(&table.addresses, address, now);
    pthread_mutex_unlock(&table.lock);
    return by_name > by_address ? by_name : by_address;
}

void sign_in_failed(const char *name, const char *address)
{
    pthread_mutex_lock(&table.lock);
    int64_t now = now_ms();
    count(&table.names, name, now);
    count(&table.addresses, address, now);
    pthread_mutex_unlock(&table.lock);
}

void sign_in_succeeded(const char *name)
{
    pthread_mutex_lock(&table.lock);
    entry_t *e = find(&table.names, name, now_ms());
    if (e)
        e->key[0] = '\0';
    pthread_mutex_unlock(&table.lock);
}

void sign_in_limit_reset(void)
{
    pthread_mutex_lock(&table.lock);
    memset(table.names.entries, 0, sizeof table.names.entries);
    memset(table.addresses.entries, 0, sizeof table.addresses.entries);
    pthread_mutex_unlock(&table.lock);
}
