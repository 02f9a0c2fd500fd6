/*
 * Passwords (passwords.h): libxcrypt's yescrypt.
 */
#include "passwords.h"

#include <arbor.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../common/utf8.h"

/* A yescrypt hash at password_hash's cost, for password_verify(NULL): the
 * same work as a real check, whose answer is then false whatever matches. */
static const char decoy_hash[] =
    "$y$j9T$oimjzvOwfgoxHSmFEfD2J1$8notlTy93H50KqPo6esfUjLP28cOGCqh2TcGu6AtaU6";

bool password_acceptable(const char *password, ticket_error_t *err)
{
    size_t chars = 0, len = strlen(password);
    const char *why = NULL;
    if (!utf8_check(password, len, &chars, NULL))
        why = "the password is not valid UTF-8 text";
    else if (chars < PASSWORD_MIN)
        why = "the password is shorter than 8 characters";
    else if (chars > PASSWORD_MAX)
        why = "the password is longer than 128 characters";
    for (size_t i = 0; !why && i < len; i++)
        if ((unsigned char)password[i] < 0x20 || password[i] == 0x7f)
            why = "the password contains a control character";
    if (!why)
        return true;
    snprintf(err->code, sizeof err->code, "bad_password");
    snprintf(err->message, sizeof err->message, "%s", why);
    return false;
}

typedef struct crypt_job {
    const char *password;
    const char *setting; /* a salt from crypt_gensalt_rn, or a whole hash */
    char out[PASSWORD_HASH_SIZE];
} crypt_job_t;

/* Blocking pool: crypt_r into job->out ("" when it fails). */
static void *run_crypt(void *arg)
{
    crypt_job_t *job = arg;
    job->out[0] = '\0';
    struct crypt_data *data = calloc(1, sizeof *data); /* 32 KiB: not on a process stack */
    if (!data)
        return NULL;
    const char *h = crypt_r(job->password, job->setting, data);
    /* libxcrypt answers a failure with a string starting with '*'. */
    if (h && h[0] == '$' && strlen(h) < sizeof job->out)
        snprintf(job->out, sizeof job->out, "%s", h);
    explicit_bzero(data, sizeof *data);
    free(data);
    return NULL;
}

int password_hash(const char *password, char hash[PASSWORD_HASH_SIZE])
{
    char random[16], salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random ||
        !crypt_gensalt_rn("$y$", 0, random, sizeof random, salt, sizeof salt))
        return ARBOR_EAGAIN;
    crypt_job_t job = {.password = password, .setting = salt};
    arbor_blocking(run_crypt, &job, NULL);
    if (!job.out[0])
        return ARBOR_EAGAIN;
    snprintf(hash, PASSWORD_HASH_SIZE, "%s", job.out);
    return 0;
}

bool password_verify(const char *password, const char *hash)
{
    crypt_job_t job = {.password = password, .setting = hash ? hash : decoy_hash};
    arbor_blocking(run_crypt, &job, NULL);
    size_t n = strlen(job.setting);
    if (!hash || !job.out[0] || strlen(job.out) != n)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(job.out[i] ^ job.setting[i]);
    return diff == 0;
}
