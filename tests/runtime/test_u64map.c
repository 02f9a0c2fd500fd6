/*
 * The small hash map behind links, monitors, aliases and the supervisors'
 * indexes (src/common/u64map.c): a map of one entry keeps it in place and
 * allocates nothing; from the second entry on it is a table. Checked
 * against a plain array through growth, replacement, deletion and reuse.
 */
#include "../../src/common/u64map.h"
#include "test.h"

enum { KEYS = 200 };

/* Checks that m holds exactly the keys k with present[k], valued k * 3 + gen. */
static void check_contents(const arbor__u64map_t *m, const bool *present, uint64_t gen)
{
    uint32_t n = 0;
    for (uint64_t k = 2; k < KEYS; k++) {
        uint64_t v = 0;
        ASSERT_EQ(arbor__u64map_get(m, k, &v), present[k]);
        if (present[k]) {
            ASSERT_U64_EQ(v, k * 3 + gen);
            n++;
        }
    }
    ASSERT_EQ(m->count, n);
    uint32_t pos = 0, seen = 0;
    uint64_t key, val;
    while (arbor__u64map_next(m, &pos, &key, &val)) {
        ASSERT_TRUE(key < KEYS && present[key]);
        ASSERT_U64_EQ(val, key * 3 + gen);
        seen++;
    }
    ASSERT_EQ(seen, n);
}

TEST(u64map_matches_a_plain_array_through_growth_and_deletion)
{
    arbor__u64map_t m = {0};
    static bool present[KEYS];
    check_contents(&m, present, 0);
    for (uint64_t gen = 0; gen < 3; gen++) {
        /* Grow one key at a time, checking the in-place stage on the way. */
        for (uint64_t k = 2; k < KEYS; k++) {
            ASSERT_TRUE(arbor__u64map_put(&m, k, k * 3 + gen));
            present[k] = true;
            if (k < 6)
                check_contents(&m, present, gen);
        }
        check_contents(&m, present, gen);
        /* Replacing keeps the count. */
        ASSERT_TRUE(arbor__u64map_put(&m, 7, 7 * 3 + gen));
        check_contents(&m, present, gen);
        /* Delete all but one, then the last. */
        for (uint64_t k = 3; k < KEYS; k++) {
            uint64_t v;
            ASSERT_TRUE(arbor__u64map_del(&m, k, &v));
            ASSERT_U64_EQ(v, k * 3 + gen);
            ASSERT_FALSE(arbor__u64map_del(&m, k, NULL));
            present[k] = false;
        }
        check_contents(&m, present, gen);
        ASSERT_TRUE(arbor__u64map_del(&m, 2, NULL));
        present[2] = false;
        check_contents(&m, present, gen);
        if (gen == 1)
            arbor__u64map_free(&m); /* the next round starts in place again */
    }
    arbor__u64map_free(&m);
}

TEST(u64map_single_entry_in_place_replaces_and_deletes)
{
    arbor__u64map_t m = {0};
    uint64_t v;
    ASSERT_TRUE(arbor__u64map_put(&m, 42, 1));
    ASSERT_TRUE(arbor__u64map_put(&m, 42, 2)); /* replace, still in place */
    ASSERT_EQ(m.count, 1);
    ASSERT_EQ(m.cap, 0);
    ASSERT_FALSE(arbor__u64map_get(&m, 43, &v));
    ASSERT_FALSE(arbor__u64map_del(&m, 43, &v));
    ASSERT_TRUE(arbor__u64map_get(&m, 42, &v));
    ASSERT_U64_EQ(v, 2);
    ASSERT_TRUE(arbor__u64map_del(&m, 42, &v));
    ASSERT_U64_EQ(v, 2);
    ASSERT_EQ(m.count, 0);
    uint32_t pos = 0;
    uint64_t key;
    ASSERT_FALSE(arbor__u64map_next(&m, &pos, &key, &v));
    arbor__u64map_free(&m); /* nothing to free: no leak report, no crash */
}

/* A process's map of one entry costs it no memory; the second entry
 * does (process_heap maps allocate with arbor_alloc()). */
static void heap_root(void *arg)
{
    arbor__u64map_t m = {.process_heap = true};
    arbor_process_info_t before, after;
    ASSERT_OK(arbor_process_info(arbor_self(), &before));
    ASSERT_TRUE(arbor__u64map_put(&m, 10, 1));
    ASSERT_OK(arbor_process_info(arbor_self(), &after));
    ASSERT_EQ(after.heap_bytes, before.heap_bytes);
    ASSERT_TRUE(arbor__u64map_put(&m, 11, 2));
    ASSERT_OK(arbor_process_info(arbor_self(), &after));
    ASSERT_GT(after.heap_bytes, before.heap_bytes);
    uint64_t v;
    ASSERT_TRUE(arbor__u64map_get(&m, 10, &v));
    ASSERT_U64_EQ(v, 1);
    arbor__u64map_free(&m);
    ASSERT_OK(arbor_process_info(arbor_self(), &after));
    ASSERT_EQ(after.heap_bytes, before.heap_bytes);
}

TEST(u64map_of_one_entry_allocates_nothing)
{
    arbor_test_run(heap_root, NULL);
}

/* A set (a process's links) keeps keys only: membership as a map's, every
 * value 0, in place and through growth and deletion. */
TEST(u64map_set_keeps_keys_and_reports_values_as_zero)
{
    arbor__u64map_t s = {.set = true};
    for (uint64_t k = 2; k < KEYS; k++) {
        ASSERT_TRUE(arbor__u64map_put(&s, k, k * 3));
        uint64_t v = 99;
        ASSERT_TRUE(arbor__u64map_get(&s, 2, &v));
        ASSERT_U64_EQ(v, 0);
    }
    ASSERT_EQ(s.count, KEYS - 2);
    uint32_t pos = 0, seen = 0;
    uint64_t key, val;
    while (arbor__u64map_next(&s, &pos, &key, &val)) {
        ASSERT_TRUE(key >= 2 && key < KEYS);
        ASSERT_U64_EQ(val, 0);
        seen++;
    }
    ASSERT_EQ(seen, KEYS - 2);
    for (uint64_t k = 2; k < KEYS; k += 2)
        ASSERT_TRUE(arbor__u64map_del(&s, k, NULL));
    for (uint64_t k = 2; k < KEYS; k++)
        ASSERT_EQ(arbor__u64map_get(&s, k, NULL), k % 2 == 1);
    arbor__u64map_free(&s);
    ASSERT_TRUE(s.set); /* still a set when it fills again */
}

/* Half the memory of a map: the table has no values. */
static size_t heap_bytes(void)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(arbor_self(), &info));
    return info.heap_bytes;
}

static void set_heap_root(void *arg)
{
    arbor__u64map_t m = {.process_heap = true}, s = {.process_heap = true, .set = true};
    size_t base = heap_bytes();
    for (uint64_t k = 2; k < 1002; k++)
        ASSERT_TRUE(arbor__u64map_put(&m, k, k));
    size_t map_bytes = heap_bytes() - base;
    for (uint64_t k = 2; k < 1002; k++)
        ASSERT_TRUE(arbor__u64map_put(&s, k, k));
    size_t set_bytes = heap_bytes() - base - map_bytes;
    ASSERT_TRUE(set_bytes * 2 <= map_bytes + 64);
    arbor__u64map_free(&m);
    arbor__u64map_free(&s);
    ASSERT_EQ(heap_bytes(), base);
}

TEST(u64map_set_takes_half_the_memory_of_a_map)
{
    arbor_test_run(set_heap_root, NULL);
}

/* Deleting shifts the rest of a probe run back instead of leaving a
 * tombstone: random puts and deletes over a small table, where runs are
 * long and wrap round its end, keep it equal to a plain array. */
TEST(u64map_random_puts_and_deletes_match_a_plain_array)
{
    arbor__u64map_t m = {0};
    static bool present[KEYS];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int op = 0; op < 200000; op++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift */
        uint64_t k = 2 + x % 40;                 /* few keys: a table of 64 at most */
        if ((x >> 32) % 3 == 0) {
            ASSERT_EQ(arbor__u64map_del(&m, k, NULL), present[k]);
            present[k] = false;
        } else {
            ASSERT_TRUE(arbor__u64map_put(&m, k, k * 3));
            present[k] = true;
        }
        if (op % 97 == 0)
            check_contents(&m, present, 0);
    }
    check_contents(&m, present, 0);
    arbor__u64map_free(&m);
}

/* A table whose size holds steady while its keys come and go (a
 * supervisor's monitors while it stops children, a caller's monitor per
 * call) keeps its one allocation: no deleted slots pile up to force a
 * rehash. */
TEST(u64map_steady_churn_keeps_its_table)
{
    arbor__u64map_t m = {0};
    for (uint64_t k = 2; k < 22; k++)
        ASSERT_TRUE(arbor__u64map_put(&m, k, k));
    const uint64_t *slots = m.slots;
    uint32_t cap = m.cap;
    for (uint64_t k = 22; k < 100000; k++) {
        ASSERT_TRUE(arbor__u64map_put(&m, k, k));
        ASSERT_TRUE(arbor__u64map_del(&m, k - 20, NULL));
    }
    ASSERT_EQ(m.count, 20);
    ASSERT_EQ(m.cap, cap);
    ASSERT_TRUE(m.slots == slots);
    for (uint64_t k = 100000 - 20; k < 100000; k++)
        ASSERT_TRUE(arbor__u64map_get(&m, k, NULL));
    arbor__u64map_free(&m);
}
