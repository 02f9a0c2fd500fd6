/*
 * Signing in, below HTTP: password rules and yescrypt hashes
 * (passwords.c), and the web's sessions and one-time setup token
 * (web/sessions.c): expiry, closing, the table's limit. The API over real
 * HTTP is tests/web/web_api.py.
 */
#include <string.h>

#include "../../apps/support_system/passwords.h"
#include "../../apps/support_system/web/sessions.h"
#include "test.h"

static bool is_hex_token(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

TEST(password_rules_count_characters_and_refuse_controls)
{
    ticket_error_t err;
    ASSERT_FALSE(password_acceptable("short", &err));
    ASSERT_STREQ(err.code, "bad_password");
    ASSERT_TRUE(password_acceptable("éééééééé", &err)); /* 8 characters, 16 bytes */
    ASSERT_FALSE(password_acceptable("ééééééé", &err)); /* 7 */
    char longest[PASSWORD_MAX + 2];
    memset(longest, 'x', PASSWORD_MAX);
    longest[PASSWORD_MAX] = '\0';
    ASSERT_TRUE(password_acceptable(longest, &err));
    longest[PASSWORD_MAX] = 'x';
    longest[PASSWORD_MAX + 1] = '\0';
    ASSERT_FALSE(password_acceptable(longest, &err));
    ASSERT_FALSE(password_acceptable("tab\there ok", &err));
    ASSERT_FALSE(password_acceptable("caf\xe9 latte", &err)); /* not UTF-8 */
}

static void hashing(void *arg)
{
    char a[PASSWORD_HASH_SIZE], b[PASSWORD_HASH_SIZE];
    ASSERT_OK(password_hash("correct horse", a));
    ASSERT_OK(password_hash("correct horse", b));
    ASSERT_TRUE(strncmp(a, "$y$", 3) == 0);
    ASSERT_TRUE(strcmp(a, b) != 0); /* a salt of its own each time */
    ASSERT_TRUE(strstr(a, "correct") == NULL);
    ASSERT_TRUE(password_verify("correct horse", a));
    ASSERT_TRUE(password_verify("correct horse", b));
    ASSERT_FALSE(password_verify("correct hors", a));
    ASSERT_FALSE(password_verify("correct horse", NULL)); /* the decoy: never true */
    ASSERT_FALSE(password_verify("correct horse", "$y$garbage"));
}

TEST(passwords_are_salted_yescrypt_hashes_checked_on_the_blocking_pool)
{
    arbor_test_run(hashing, NULL);
}

static void session_life(void *arg)
{
    sessions_reset();
    web_session_t s, found;
    ASSERT_OK(sessions_open("ada", ROLE_ADMIN, SESSION_TTL_MS, &s));
    ASSERT_TRUE(is_hex_token(s.token) && is_hex_token(s.csrf));
    ASSERT_TRUE(strcmp(s.token, s.csrf) != 0);
    ASSERT_OK(sessions_find(s.token, &found));
    ASSERT_STREQ(found.agent, "ada");
    ASSERT_EQ(found.role, ROLE_ADMIN);
    ASSERT_STREQ(found.csrf, s.csrf);
    ASSERT_ERR(sessions_find(s.csrf, &found), ARBOR_ENOENT); /* the CSRF token is no session */
    ASSERT_ERR(sessions_find("", &found), ARBOR_ENOENT);

    /* Expiry. */
    web_session_t brief;
    ASSERT_OK(sessions_open("bob", ROLE_AGENT, 1, &brief));
    WAIT_UNTIL(sessions_find(brief.token, &found) == ARBOR_ENOENT, 2000);
    ASSERT_OK(sessions_find(s.token, &found));

    /* Closing one, and all of an agent's. */
    web_session_t b1, b2;
    ASSERT_OK(sessions_open("bob", ROLE_AGENT, SESSION_TTL_MS, &b1));
    ASSERT_OK(sessions_open("bob", ROLE_AGENT, SESSION_TTL_MS, &b2));
    sessions_close(s.token);
    ASSERT_ERR(sessions_find(s.token, &found), ARBOR_ENOENT);
    ASSERT_OK(sessions_find(b1.token, &found));
    sessions_close_agent("bob");
    ASSERT_ERR(sessions_find(b1.token, &found), ARBOR_ENOENT);
    ASSERT_ERR(sessions_find(b2.token, &found), ARBOR_ENOENT);
    sessions_reset();
}

TEST(sessions_expire_close_and_close_by_agent)
{
    arbor_test_run(session_life, NULL);
}

TEST(a_full_session_table_drops_the_session_that_expires_first)
{
    sessions_reset();
    web_session_t first, s, found;
    ASSERT_OK(sessions_open("soon", ROLE_AGENT, 60000, &first));
    for (int i = 1; i < SESSIONS_MAX; i++)
        ASSERT_OK(sessions_open("later", ROLE_AGENT, SESSION_TTL_MS, &s));
    ASSERT_OK(sessions_find(first.token, &found));
    web_session_t newest;
    ASSERT_OK(sessions_open("newest", ROLE_AGENT, SESSION_TTL_MS, &newest));
    ASSERT_ERR(sessions_find(first.token, &found), ARBOR_ENOENT);
    ASSERT_OK(sessions_find(newest.token, &found));
    ASSERT_OK(sessions_find(s.token, &found));
    sessions_reset();
}

static void setup_token(void *arg)
{
    sessions_reset();
    char t1[SESSION_TOKEN_SIZE], t2[SESSION_TOKEN_SIZE];
    ASSERT_OK(sessions_setup_issue(SETUP_TTL_MS, t1));
    ASSERT_TRUE(is_hex_token(t1));
    ASSERT_FALSE(sessions_setup_redeem(""));
    ASSERT_FALSE(sessions_setup_redeem("00"));
    ASSERT_TRUE(sessions_setup_redeem(t1));
    ASSERT_FALSE(sessions_setup_redeem(t1)); /* once */

    /* A new one replaces the old. */
    ASSERT_OK(sessions_setup_issue(SETUP_TTL_MS, t1));
    ASSERT_OK(sessions_setup_issue(SETUP_TTL_MS, t2));
    ASSERT_FALSE(sessions_setup_redeem(t1));
    ASSERT_TRUE(sessions_setup_redeem(t2));

    /* It expires. */
    ASSERT_OK(sessions_setup_issue(1, t1));
    int64_t issued = ticket_now_ms(); /* the clock expiry reads */
    WAIT_UNTIL(ticket_now_ms() > issued + 1, 2000);
    ASSERT_FALSE(sessions_setup_redeem(t1));
    sessions_reset();
}

TEST(the_setup_token_is_valid_once_and_expires)
{
    arbor_test_run(setup_token, NULL);
}

TEST(token_comparison_needs_equal_non_empty_tokens)
{
    ASSERT_TRUE(sessions_token_equal("abc", "abc"));
    ASSERT_FALSE(sessions_token_equal("abc", "abd"));
    ASSERT_FALSE(sessions_token_equal("abc", "abcd"));
    ASSERT_FALSE(sessions_token_equal("", ""));
}
