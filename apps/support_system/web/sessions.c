/*
 * Web sessions in memory (sessions.h).
 */
#include "sessions.h"

#include <arbor.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static struct {
    pthread_mutex_t lock;
    web_session_t open[SESSIONS_MAX];
    size_t n;
    char setup[SESSION_TOKEN_SIZE]; /* "": none */
    char spent[SESSION_TOKEN_SIZE]; /* the one redeemed last, until the next is issued */
    int64_t setup_expires_ms;
    void (*on_end)(void); /* sessions_watch_ends() */
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* After sessions were forgotten (the lock no longer held): tells the
 * watcher. */
static void ended(void)
{
    pthread_mutex_lock(&table.lock);
    void (*fn)(void) = table.on_end;
    pthread_mutex_unlock(&table.lock);
    if (fn)
        fn();
}

void sessions_watch_ends(void (*fn)(void))
{
    pthread_mutex_lock(&table.lock);
    table.on_end = fn;
    pthread_mutex_unlock(&table.lock);
}

static int random_token(char out[SESSION_TOKEN_SIZE])
{
    unsigned char bytes[32];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
        return ARBOR_EAGAIN;
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}

bool sessions_token_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n != strlen(b) || n == 0)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* Removes open[i] (the lock held). */
static void forget(size_t i)
{
    table.open[i] = table.open[--table.n];
}

int sessions_open(const char *agent, credential_role_t role, int64_t ttl_ms, web_session_t *out)
{
    memset(out, 0, sizeof *out);
    if (random_token(out->token) || random_token(out->csrf))
        return ARBOR_EAGAIN;
    snprintf(out->agent, sizeof out->agent, "%s", agent);
    out->role = role;
    out->expires_ms = ticket_now_ms() + ttl_ms;
    pthread_mutex_lock(&table.lock);
    bool full = table.n == SESSIONS_MAX;
    if (full) {
        size_t first = 0;
        for (size_t i = 1; i < table.n; i++)
            if (table.open[i].expires_ms < table.open[first].expires_ms)
                first = i;
        forget(first);
    }
    table.open[table.n++] = *out;
    pthread_mutex_unlock(&table.lock);
    if (full)
        ended();
    return 0;
}

int sessions_find(const char *token, web_session_t *out)
{
    int64_t now = ticket_now_ms();
    int rc = ARBOR_ENOENT;
    pthread_mutex_lock(&table.lock);
    for (size_t i = 0; i < table.n; i++) {
        if (!sessions_token_equal(table.open[i].token, token))
            continue;
        if (table.open[i].expires_ms > now) {
            *out = table.open[i];
            rc = 0;
        } else {
            forget(i);
        }
        break;
    }
    pthread_mutex_unlock(&table.lock);
    return rc;
}

void sessions_close(const char *token)
{
    bool closed = false;
    pthread_mutex_lock(&table.lock);
    for (size_t i = 0; i < table.n; i++)
        if (sessions_token_equal(table.open[i].token, token)) {
            forget(i);
            closed = true;
            break;
        }
    pthread_mutex_unlock(&table.lock);
    if (closed)
        ended();
}

void sessions_close_agent(const char *agent)
{
    bool closed = false;
    pthread_mutex_lock(&table.lock);
    for (size_t i = table.n; i-- > 0;)
        if (strcmp(table.open[i].agent, agent) == 0) {
            forget(i);
            closed = true;
        }
    pthread_mutex_unlock(&table.lock);
    if (closed)
        ended();
}

int sessions_setup_issue(int64_t ttl_ms, char out[SESSION_TOKEN_SIZE])
{
    if (random_token(out))
        return ARBOR_EAGAIN;
    pthread_mutex_lock(&table.lock);
    snprintf(table.setup, sizeof table.setup, "%s", out);
    table.spent[0] = '\0';
    table.setup_expires_ms = ticket_now_ms() + ttl_ms;
    pthread_mutex_unlock(&table.lock);
    return 0;
}

bool sessions_setup_redeem(const char *token)
{
    pthread_mutex_lock(&table.lock);
    bool ok = table.setup[0] && ticket_now_ms() < table.setup_expires_ms &&
              sessions_token_equal(table.setup, token);
    if (ok) { /* once */
        memcpy(table.spent, table.setup, sizeof table.spent);
        table.setup[0] = '\0';
    }
    pthread_mutex_unlock(&table.lock);
    return ok;
}

void sessions_setup_give_back(const char *token)
{
    pthread_mutex_lock(&table.lock);
    if (!table.setup[0] && table.spent[0] && sessions_token_equal(table.spent, token)) {
        memcpy(table.setup, table.spent, sizeof table.setup);
        table.spent[0] = '\0';
    }
    pthread_mutex_unlock(&table.lock);
}

void sessions_reset(void)
{
    pthread_mutex_lock(&table.lock);
    table.n = 0;
    table.setup[0] = table.spent[0] = '\0';
    pthread_mutex_unlock(&table.lock);
}
