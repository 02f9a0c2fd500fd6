/*
 * Registry: the scenarios ported from Elixir's registry tests (the RG
 * numbers name them; docs/otp.md describes the Registry), cleanup after an
 * owner dies, via-named GenServers, dispatch, lookups racing registrations
 * on several schedulers, and a registry stopped or killed with keys held.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "sup_fixture.h"

/* registry.c's count of slots, cells and blocks still held by registries
 * (an internal symbol; the tests link the static library). */
size_t arbor__registry_live(void);

enum { EV_READY = 200, EV_QUIT, EV_GOT, EV_DONE, EV_TOPIC };

static arbor_pid_t start_registry(arbor_registry_keys_t keys, unsigned partitions)
{
    arbor_registry_opts_t o = {.keys = keys, .partitions = partitions};
    arbor_pid_t reg = ARBOR_NOPID;
    ASSERT_OK(arbor_registry_start(&o, &reg));
    ASSERT_NE(reg, ARBOR_NOPID);
    return reg;
}

/* Waits for the registries' shared memory to be released: a registry's DOWN
 * is sent just before its exit path frees its tables. */
static void wait_registry_memory_released(int ms)
{
    WAIT_UNTIL(arbor__registry_live() == 0, ms);
}

/* Kills pid and waits for its DOWN; returns the reason. */
static arbor_reason_t kill_wait(arbor_pid_t pid, arbor_reason_t how)
{
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, how));
    for (;;) {
        arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
        arbor_down_msg_t d = *(arbor_down_msg_t *)m->data;
        arbor_msg_free(m);
        if (d.ref == ref)
            return d.reason;
    }
}

static size_t count_of(arbor_pid_t reg)
{
    size_t n = 0;
    ASSERT_OK(arbor_registry_count(reg, &n));
    return n;
}

static size_t lookup_n(arbor_pid_t reg, const char *key, arbor_registry_entry_t *first)
{
    arbor_registry_entry_t *e;
    size_t n;
    ASSERT_OK(arbor_registry_lookup(reg, key, &e, &n));
    if (n && first)
        *first = e[0];
    free(e);
    return n;
}

static unsigned monitored_by(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info.monitored_by;
}

/* The live processes labelled label (at most 64 are looked at). */
static unsigned count_labelled(const char *label, arbor_pid_t *last)
{
    arbor_pid_t pids[64];
    size_t n;
    ASSERT_OK(arbor_processes(pids, 64, &n));
    unsigned found = 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        arbor_process_info_t info;
        if (arbor_process_info(pids[i], &info) == 0 && info.status != ARBOR_STATUS_EXITING &&
            strcmp(info.label, label) == 0) {
            found++;
            if (last)
                *last = pids[i];
        }
    }
    return found;
}

/* ---- a process that holds keys ------------------------------------------------------ */

typedef struct holder_arg {
    arbor_pid_t reg, root;
    int nkeys;
    char prefix[16];
} holder_arg_t;

/* Registers PREFIX-0 .. PREFIX-(n-1) with the index as value, tells the
 * root, then waits for EV_QUIT (or to be killed). */
static void holder(void *arg)
{
    const holder_arg_t *h = arg;
    for (int i = 0; i < h->nkeys; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s-%d", h->prefix, i);
        ASSERT_OK(arbor_registry_register(h->reg, key, &i, sizeof i, NULL));
    }
    arbor_pid_t self = arbor_self();
    arbor_send(h->root, EV_READY, &self, sizeof self);
    arbor_msg_free(arbor_test_recv_tag(EV_QUIT, ARBOR_INFINITY));
}

static arbor_pid_t spawn_holder(arbor_pid_t reg, const char *prefix, int nkeys)
{
    holder_arg_t h = {.reg = reg, .root = arbor_self(), .nkeys = nkeys};
    snprintf(h.prefix, sizeof h.prefix, "%s", prefix);
    arbor_spawn_opts_t o = {.arg_size = sizeof h};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_opt(holder, &h, &o, &pid, NULL));
    arbor_msg_t *m = arbor_test_recv_tag(EV_READY, 5000);
    ASSERT_U64_EQ(*(arbor_pid_t *)m->data, pid);
    arbor_msg_free(m);
    return pid;
}

/* ---- RG-01 ---------------------------------------------------------------------------- */

typedef struct {
    arbor_pid_t reg, root;
} other_arg_t;

static void other_registers(void *arg)
{
    const other_arg_t *a = arg;
    arbor_pid_t owner = ARBOR_NOPID;
    int rc = arbor_registry_register(a->reg, "hello", NULL, 0, &owner);
    int result[2] = {rc, rc == ARBOR_EEXIST && owner == a->root};
    arbor_send(a->root, EV_GOT, result, sizeof result);
}

static void rg01_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 0);
    arbor_pid_t self = arbor_self(), owner = ARBOR_NOPID;
    ASSERT_OK(arbor_registry_register(reg, "hello", NULL, 0, &owner));
    /* The same process again: {:error, {:already_registered, self}}. */
    ASSERT_ERR(arbor_registry_register(reg, "hello", NULL, 0, &owner), ARBOR_EEXIST);
    ASSERT_U64_EQ(owner, self);
    /* Another process: {:error, {:already_registered, owner}}. */
    other_arg_t oa = {reg, self};
    arbor_spawn_opts_t so = {.arg_size = sizeof oa};
    ASSERT_OK(arbor_spawn_opt(other_registers, &oa, &so, NULL, NULL));
    arbor_msg_t *m = arbor_test_recv_tag(EV_GOT, 5000);
    ASSERT_ERR(((int *)m->data)[0], ARBOR_EEXIST);
    ASSERT_TRUE(((int *)m->data)[1]);
    arbor_msg_free(m);
    /* A process may hold many keys. */
    ASSERT_OK(arbor_registry_register(reg, "world", "v", 1, NULL));
    arbor_registry_entry_t e;
    ASSERT_EQ(lookup_n(reg, "hello", &e), 1);
    ASSERT_U64_EQ(e.pid, self);
    ASSERT_EQ(e.size, 0);
    ASSERT_EQ(lookup_n(reg, "world", &e), 1);
    ASSERT_EQ(e.size, 1);
    ASSERT_EQ(e.value[0], 'v');
    ASSERT_EQ(lookup_n(reg, "nobody", NULL), 0);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "hello"), self);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "nobody"), ARBOR_NOPID);
    ASSERT_EQ(count_of(reg), 2);
    /* unregister is :ok also when nothing is registered. */
    ASSERT_OK(arbor_registry_unregister(reg, "hello"));
    ASSERT_OK(arbor_registry_unregister(reg, "hello"));
    ASSERT_OK(arbor_registry_unregister(reg, "never"));
    ASSERT_EQ(lookup_n(reg, "hello", NULL), 0);
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
    wait_registry_memory_released(5000);
}

TEST(RG_01_unique_keys_already_registered_for_self_and_for_others)
{
    arbor_test_run(rg01_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

/* ---- RG-03 and via names ------------------------------------------------------------- */

enum { C_GET = 1, C_ADD };

static arbor_gs_ret_t counter_init(void **state, void *arg)
{
    int *n = arbor_alloc(sizeof *n);
    if (!n)
        return arbor_gs_halt(arbor_error("oom"));
    *n = arg ? *(int *)arg : 0;
    *state = n;
    return arbor_gs_ok();
}

static arbor_gs_ret_t counter_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    int *n = *state;
    if (req->tag == C_ADD)
        *n += *(const int *)req->data;
    return arbor_gs_reply(n, sizeof *n);
}

static arbor_gs_ret_t counter_cast(void **state, const arbor_msg_t *msg)
{
    *(int *)*state += *(const int *)msg->data;
    return arbor_gs_noreply();
}

static const arbor_gen_server_t counter_gs = {.label = "counter",
                                              .init = counter_init,
                                              .handle_call = counter_call,
                                              .handle_cast = counter_cast};

static int counter_get(arbor_pid_t reg, const char *key)
{
    arbor_msg_t *reply;
    ASSERT_OK(arbor_registry_call(reg, key, C_GET, NULL, 0, 1000, &reply, NULL));
    int v = *(int *)reply->data;
    arbor_msg_free(reply);
    return v;
}

static void rg03_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 0);
    int start = 10;
    const char value[] = "value";
    arbor_pid_t pid = ARBOR_NOPID, other = ARBOR_NOPID;
    ASSERT_OK(arbor_registry_start_server_value(reg, "hello", value, sizeof value, &counter_gs,
                                                &start, NULL, &pid, NULL));
    /* lookup -> [{pid, :value}] */
    arbor_registry_entry_t e;
    ASSERT_EQ(lookup_n(reg, "hello", &e), 1);
    ASSERT_U64_EQ(e.pid, pid);
    ASSERT_EQ(e.size, sizeof value);
    ASSERT_STREQ((const char *)e.value, "value");
    /* update/get through the name. */
    int five = 5, two = 2;
    arbor_msg_t *reply;
    ASSERT_OK(arbor_registry_call(reg, "hello", C_ADD, &five, sizeof five, 1000, &reply, NULL));
    ASSERT_EQ(*(int *)reply->data, 15);
    arbor_msg_free(reply);
    ASSERT_OK(arbor_registry_cast(reg, "hello", C_ADD, &two, sizeof two));
    ASSERT_EQ(counter_get(reg, "hello"), 17);
    /* A second start under the same name: {:error, {:already_started, pid}}; linked, and the
     * failed start does not hurt us (we do not trap exits). */
    arbor_gs_opts_t linked = {.link = true};
    ASSERT_ERR(arbor_registry_start_server(reg, "hello", &counter_gs, NULL, &linked, &other, NULL),
               ARBOR_EEXIST);
    ASSERT_U64_EQ(other, pid);
    ASSERT_EQ(lookup_n(reg, "hello", NULL), 1);
    ASSERT_EQ(counter_get(reg, "hello"), 17);
    ASSERT_OK(arbor_gs_stop(pid, ARBOR_NORMAL, arbor_test_scaled_ms(1000), NULL));
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
    wait_registry_memory_released(5000);
}

TEST(RG_03_via_named_server_works_and_second_start_is_already_started)
{
    arbor_test_run(rg03_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

static arbor_gs_ret_t failing_init(void **state, void *arg)
{
    return arbor_gs_halt(arbor_error("no"));
}

static const arbor_gen_server_t failing_gs = {.label = "failing", .init = failing_init};

static void via_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 2);
    arbor_pid_t pid = ARBOR_NOPID, pid2 = ARBOR_NOPID;
    /* A missing name: call exits noproc, cast is :ok. */
    ASSERT_ERR(arbor_registry_call(reg, "svc", C_GET, NULL, 0, 1000, NULL, NULL), ARBOR_ENOPROC);
    ASSERT_OK(arbor_registry_cast(reg, "svc", C_ADD, &(int){1}, sizeof(int)));
    ASSERT_OK(arbor_registry_start_server(reg, "svc", &counter_gs, NULL, NULL, &pid, NULL));
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_STREQ(info.label, "counter"); /* the user's behaviour name, not the wrapper's */
    /* After the owner is killed the name is free at once: whereis checks liveness, and a new
     * start succeeds even if the partition has not seen the DOWN yet. */
    ASSERT_REASON(kill_wait(pid, ARBOR_KILL), ARBOR_EXIT_KILLED, "");
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "svc"), ARBOR_NOPID);
    ASSERT_ERR(arbor_registry_call(reg, "svc", C_GET, NULL, 0, 1000, NULL, NULL), ARBOR_ENOPROC);
    ASSERT_OK(arbor_registry_cast(reg, "svc", C_ADD, &(int){1}, sizeof(int)));
    ASSERT_OK(arbor_registry_start_server(reg, "svc", &counter_gs, NULL, NULL, &pid2, NULL));
    ASSERT_NE(pid2, pid);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "svc"), pid2);
    ASSERT_EQ(counter_get(reg, "svc"), 0);
    /* An init that fails releases the key before the start returns. */
    arbor_reason_t why;
    ASSERT_ERR(arbor_registry_start_server(reg, "bad", &failing_gs, NULL, NULL, &pid, &why),
               ARBOR_EEXIT);
    ASSERT_REASON(why, ARBOR_EXIT_ERROR, "no");
    ASSERT_EQ(lookup_n(reg, "bad", NULL), 0);
    /* Names and registries a via name cannot use. */
    arbor_gs_opts_t named = {.name = "x"};
    ASSERT_ERR(arbor_registry_start_server(reg, "y", &counter_gs, NULL, &named, &pid, NULL),
               ARBOR_EINVAL);
    arbor_pid_t dup = start_registry(ARBOR_REGISTRY_DUPLICATE, 1);
    ASSERT_ERR(arbor_registry_start_server(dup, "y", &counter_gs, NULL, NULL, &pid, NULL),
               ARBOR_EINVAL);
    ASSERT_ERR(arbor_registry_call(dup, "y", C_GET, NULL, 0, 1000, NULL, NULL), ARBOR_EINVAL);
    ASSERT_OK(arbor_registry_stop(dup, ARBOR_NORMAL));
    ASSERT_OK(arbor_gs_stop(pid2, ARBOR_NORMAL, arbor_test_scaled_ms(1000), NULL));
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
    wait_registry_memory_released(5000);
}

TEST(registry_via_name_is_reusable_after_the_owner_dies_and_missing_names_behave_as_in_otp)
{
    arbor_test_run(via_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

/* ---- RG-05, adapted: monitored (Elixir: linked) while any key is held ------------------ */

static void rg05_root(void *arg)
{
    /* One partition, so both keys live in the same one: Elixir links the caller to the
     * partition while it holds a key there; Arbor's partition monitors it instead. */
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 1);
    arbor_pid_t self = arbor_self();
    unsigned base = monitored_by(self);
    ASSERT_OK(arbor_registry_register(reg, "hello", NULL, 0, NULL));
    ASSERT_EQ(monitored_by(self), base + 1);
    ASSERT_OK(arbor_registry_register(reg, "world", NULL, 0, NULL));
    ASSERT_EQ(monitored_by(self), base + 1); /* one monitor per partition, not per key */
    ASSERT_OK(arbor_registry_unregister(reg, "hello"));
    ASSERT_EQ(monitored_by(self), base + 1); /* kept: "world" is still held */
    ASSERT_OK(arbor_registry_unregister(reg, "world"));
    ASSERT_EQ(monitored_by(self), base); /* removed with the last key */
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
}

TEST(RG_05_monitor_kept_while_any_key_is_held_and_removed_after_the_last)
{
    arbor_test_run(rg05_root, NULL);
}

/* An owner's first entry lives in the owner's block (registry_cell.h):
 * freed while the owner holds others, its place takes the next key; every
 * key keeps its own value through that, and the last unregister frees the
 * owner's block with its first entry (ASan sees a double or missed free). */
static void first_slot_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 1);
    arbor_pid_t self = arbor_self();
    ASSERT_OK(arbor_registry_register(reg, "first", "1", 2, NULL));
    ASSERT_OK(arbor_registry_register(reg, "second", "2", 2, NULL));
    ASSERT_OK(arbor_registry_unregister(reg, "first"));             /* the owner's own slot */
    ASSERT_OK(arbor_registry_register(reg, "third", "3", 2, NULL)); /* takes it again */
    ASSERT_OK(arbor_registry_register(reg, "fourth", "4", 2, NULL));
    const char *keys[] = {"second", "third", "fourth"};
    for (int i = 0; i < 3; i++) {
        arbor_registry_entry_t e;
        ASSERT_EQ(lookup_n(reg, keys[i], &e), 1);
        ASSERT_U64_EQ(e.pid, self);
        ASSERT_EQ(e.size, 2);
        ASSERT_EQ(e.value[0], '2' + i);
    }
    ASSERT_EQ(lookup_n(reg, "first", NULL), 0);
    ASSERT_EQ(count_of(reg), 3);
    ASSERT_OK(arbor_registry_unregister(reg, "third"));
    ASSERT_OK(arbor_registry_unregister(reg, "second"));
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "fourth"), self);
    ASSERT_OK(arbor_registry_unregister(reg, "fourth"));
    ASSERT_EQ(count_of(reg), 0);
    /* And again, held at the registry's stop: its cell frees both kinds. */
    ASSERT_OK(arbor_registry_register(reg, "a", NULL, 0, NULL));
    ASSERT_OK(arbor_registry_register(reg, "b", NULL, 0, NULL));
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
}

TEST(an_owners_first_entry_slot_is_freed_and_taken_again)
{
    arbor_test_run(first_slot_root, NULL);
    wait_registry_memory_released(5000);
}

/* ---- a register is written by the caller ------------------------------------------------ */

/* Elixir's Registry.register writes ETS from the caller and links it to the
 * partition: no round trip. Arbor's caller writes the cell itself and makes
 * the partition monitor it, so a register neither waits for a suspended
 * partition nor loses the monitor that cleans up after it. */
static void suspended_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 1);
    arbor_pid_t part = ARBOR_NOPID;
    ASSERT_EQ(count_labelled("registry_partition", &part), 1);
    ASSERT_OK(arbor_gs_suspend(part, 5000));
    /* spawn_holder() waits 5 s for the holder's three registers. */
    arbor_pid_t h = spawn_holder(reg, "s", 3);
    arbor_registry_entry_t e;
    ASSERT_EQ(lookup_n(reg, "s-2", &e), 1);
    ASSERT_U64_EQ(e.pid, h);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "s-0"), h);
    ASSERT_EQ(monitored_by(h), 1); /* one monitor for the three keys, the holder's side at once */
    /* The holder dies before the partition runs again: its keys still go. */
    kill_wait(h, ARBOR_KILL);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "s-0"), ARBOR_NOPID);
    /* A dead owner's key is free at once, and its DOWN, handled later,
     * leaves the new owner's key alone. */
    arbor_pid_t self = arbor_self();
    ASSERT_OK(arbor_registry_register(reg, "s-1", NULL, 0, NULL));
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "s-1"), self);
    ASSERT_OK(arbor_gs_resume(part, 5000));
    WAIT_UNTIL(count_of(reg) == 1, 5000);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "s-1"), self);
    ASSERT_EQ(lookup_n(reg, "s-0", NULL), 0);
    ASSERT_EQ(lookup_n(reg, "s-2", NULL), 0);
    /* The partition took our monitor in before our unregister: it drops it. */
    unsigned base = monitored_by(self);
    ASSERT_OK(arbor_registry_unregister(reg, "s-1"));
    ASSERT_EQ(monitored_by(self), base - 1);
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
}

TEST(a_register_is_written_by_the_caller_while_the_partition_is_suspended)
{
    arbor_test_run(suspended_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

/* ---- cleanup when the owner dies -------------------------------------------------------- */

static void owner_dies_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 4);
    arbor_pid_t h = spawn_holder(reg, "k", 20);
    ASSERT_EQ(count_of(reg), 20);
    arbor_registry_entry_t e;
    ASSERT_EQ(lookup_n(reg, "k-7", &e), 1);
    ASSERT_U64_EQ(e.pid, h);
    ASSERT_EQ(*(int *)e.value, 7);
    kill_wait(h, ARBOR_KILL);
    /* Cleanup is asynchronous (the partitions handle the DOWN), and complete. */
    WAIT_UNTIL(count_of(reg) == 0, 5000);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "k-%d", i);
        ASSERT_EQ(lookup_n(reg, key, NULL), 0);
    }
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
}

TEST(registry_keys_are_removed_when_their_owner_dies)
{
    arbor_test_run(owner_dies_root, NULL);
}

/* ---- Registry.keys/2 ------------------------------------------------------------------ */

static int by_key(const void *a, const void *b)
{
    return strcmp(((const arbor_registry_key_t *)a)->key, ((const arbor_registry_key_t *)b)->key);
}

/* The keys of pid in reg, sorted, joined by spaces (in out). */
static void keys_of(arbor_pid_t reg, arbor_pid_t pid, char *out, size_t size)
{
    arbor_registry_key_t *keys;
    size_t n;
    ASSERT_OK(arbor_registry_keys(reg, pid, &keys, &n));
    if (n) /* keys is NULL when there are none */
        qsort(keys, n, sizeof *keys, by_key);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "", keys[i].key);
    free(keys);
}

/* As Elixir's Registry.keys/2: every key of the process, from every
 * partition; in a duplicate registry once per entry; none for a process
 * that holds none; none once the owner's DOWN is processed. */
static void keys_root(void *arg)
{
    char got[256];
    arbor_pid_t self = arbor_self();
    arbor_pid_t uniq = start_registry(ARBOR_REGISTRY_UNIQUE, 4);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++)
        ASSERT_OK(arbor_registry_register(uniq, names[i], NULL, 0, NULL));
    keys_of(uniq, self, got, sizeof got);
    ASSERT_STREQ(got, "a b c d e");
    arbor_pid_t h = spawn_holder(uniq, "k", 3);
    keys_of(uniq, h, got, sizeof got);
    ASSERT_STREQ(got, "k-0 k-1 k-2");
    ASSERT_OK(arbor_registry_unregister(uniq, "c"));
    keys_of(uniq, self, got, sizeof got);
    ASSERT_STREQ(got, "a b d e");
    /* A process whose one key is in any partition, the first or another. */
    arbor_pid_t single[8];
    for (int i = 0; i < 8; i++) {
        char prefix[8], want[16];
        snprintf(prefix, sizeof prefix, "p%d", i);
        snprintf(want, sizeof want, "p%d-0", i);
        single[i] = spawn_holder(uniq, prefix, 1);
        keys_of(uniq, single[i], got, sizeof got);
        ASSERT_STREQ(got, want);
    }
    for (int i = 0; i < 8; i++)
        kill_wait(single[i], ARBOR_KILL);
    kill_wait(h, ARBOR_KILL);
    WAIT_UNTIL(count_of(uniq) == 4, 5000);
    keys_of(uniq, h, got, sizeof got);
    ASSERT_STREQ(got, "");

    arbor_pid_t dup = start_registry(ARBOR_REGISTRY_DUPLICATE, 2);
    ASSERT_OK(arbor_registry_register(dup, "hello", NULL, 0, NULL));
    ASSERT_OK(arbor_registry_register(dup, "hello", NULL, 0, NULL));
    ASSERT_OK(arbor_registry_register(dup, "x", NULL, 0, NULL));
    keys_of(dup, self, got, sizeof got);
    ASSERT_STREQ(got, "hello hello x");
    keys_of(dup, uniq, got, sizeof got); /* a process with no keys there */
    ASSERT_STREQ(got, "");

    arbor_registry_key_t *keys = NULL;
    size_t n = 9;
    ASSERT_ERR(arbor_registry_keys(dup, self, NULL, &n), ARBOR_EINVAL);
    ASSERT_ERR(arbor_registry_keys(dup, self, &keys, NULL), ARBOR_EINVAL);
    ASSERT_OK(arbor_registry_stop(dup, ARBOR_NORMAL));
    ASSERT_ERR(arbor_registry_keys(dup, self, &keys, &n), ARBOR_ENOPROC);
    ASSERT_EQ(n, 0);
    ASSERT_TRUE(keys == NULL);
    ASSERT_OK(arbor_registry_stop(uniq, ARBOR_NORMAL));
}

TEST(RG_keys_lists_every_key_of_a_process_across_partitions)
{
    arbor_test_run(keys_root, NULL);
    wait_registry_memory_released(5000);
}

static void reregister_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 2);
    arbor_pid_t self = arbor_self();
    for (int round = 0; round < 50; round++) {
        arbor_pid_t h = spawn_holder(reg, "k", 1);
        arbor_pid_t owner = ARBOR_NOPID;
        ASSERT_ERR(arbor_registry_register(reg, "k-0", NULL, 0, &owner), ARBOR_EEXIST);
        ASSERT_U64_EQ(owner, h);
        /* Kill it and register at once: the partition may not have seen the DOWN yet, and
         * the key must be free all the same. */
        ASSERT_OK(arbor_exit_pid(h, ARBOR_KILL));
        arbor_test_wait_dead(h, 5000);
        ASSERT_OK(arbor_registry_register(reg, "k-0", NULL, 0, NULL));
        ASSERT_U64_EQ(arbor_registry_whereis(reg, "k-0"), self);
        ASSERT_OK(arbor_registry_unregister(reg, "k-0"));
    }
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
}

TEST(registry_key_whose_owner_died_can_be_registered_again_at_once)
{
    arbor_test_run(reregister_root, NULL);
}

/* ---- dispatch --------------------------------------------------------------------------- */

typedef struct {
    arbor_pid_t reg, root;
    int times; /* registrations under "topic" */
} sub_arg_t;

static void subscriber(void *arg)
{
    const sub_arg_t *s = arg;
    for (int i = 0; i < s->times; i++)
        ASSERT_OK(arbor_registry_register(s->reg, "topic", NULL, 0, NULL));
    ASSERT_OK(arbor_registry_register(s->reg, "other", NULL, 0, NULL));
    arbor_pid_t self = arbor_self();
    arbor_send(s->root, EV_READY, &self, sizeof self);
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(ARBOR_INFINITY);
        uint64_t tag = m->tag;
        arbor_msg_free(m);
        if (tag == EV_QUIT)
            return;
        if (tag == EV_TOPIC)
            arbor_send(s->root, EV_GOT, &self, sizeof self);
    }
}

static void dispatch_root(void *arg)
{
    enum { N = 40 };
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_DUPLICATE, 4);
    arbor_pid_t subs[N];
    int got[N] = {0};
    for (int i = 0; i < N; i++) {
        sub_arg_t s = {reg, arbor_self(), i == 0 ? 2 : 1}; /* subs[0] registers twice */
        arbor_spawn_opts_t o = {.arg_size = sizeof s};
        ASSERT_OK(arbor_spawn_opt(subscriber, &s, &o, &subs[i], NULL));
        arbor_msg_free(arbor_test_recv_tag(EV_READY, 5000));
    }
    ASSERT_EQ(lookup_n(reg, "topic", NULL), N + 1);
    ASSERT_EQ(count_of(reg), 2 * N + 1);
    size_t sent = 0;
    ASSERT_OK(arbor_registry_dispatch(reg, "topic", EV_TOPIC, "x", 1, &sent));
    ASSERT_EQ(sent, N + 1);
    for (int k = 0; k < N + 1; k++) {
        arbor_msg_t *m = arbor_test_recv_tag(EV_GOT, 5000);
        arbor_pid_t from = *(arbor_pid_t *)m->data;
        arbor_msg_free(m);
        int i = 0;
        while (i < N && subs[i] != from)
            i++;
        ASSERT_LT(i, N);
        got[i]++;
    }
    arbor_test_no_message(50);
    ASSERT_EQ(got[0], 2); /* one message per entry */
    for (int i = 1; i < N; i++)
        ASSERT_EQ(got[i], 1);
    ASSERT_OK(arbor_registry_dispatch(reg, "nobody", EV_TOPIC, NULL, 0, &sent));
    ASSERT_EQ(sent, 0);
    ASSERT_ERR(arbor_registry_dispatch(reg, "topic", ARBOR_TAG_DOWN, NULL, 0, &sent), ARBOR_EINVAL);
    /* Duplicate keys have no single owner. */
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "topic"), ARBOR_NOPID);
    /* unregister removes all of the caller's entries under the key. */
    for (int i = 0; i < N; i++)
        ASSERT_OK(arbor_send(subs[i], EV_QUIT, NULL, 0));
    WAIT_UNTIL(count_of(reg) == 0, 5000);
    ASSERT_OK(arbor_registry_register(reg, "t", NULL, 0, NULL));
    ASSERT_OK(arbor_registry_register(reg, "t", NULL, 0, NULL));
    ASSERT_EQ(lookup_n(reg, "t", NULL), 2);
    ASSERT_OK(arbor_registry_unregister(reg, "t"));
    ASSERT_EQ(lookup_n(reg, "t", NULL), 0);
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
}

TEST(duplicate_registry_dispatch_reaches_every_entry_exactly_once)
{
    arbor_test_run(dispatch_root, NULL);
}

/* ---- lookups racing registrations on several schedulers ----------------------------------- */

/* Sized for a busy two-core machine under TSan: about 4 s of CPU (12 s at
 * 150 rounds and 3,000 reads, which took over 60 s of wall time there). The
 * power is in the overlap, not the count: every round still runs all four
 * writers' 96 registrations against eight readers and a thread on four
 * schedulers, and TSan reports an unordered access the first time it
 * overlaps. */
enum { WRITERS = 4, READERS = 8, OWN_KEYS = 64, SHARED_KEYS = 8, ROUNDS = 50, READS = 1000 };

typedef struct {
    int writer, key; /* the value each writer stores */
} val_t;

typedef struct race {
    arbor_pid_t reg, root;
    arbor_pid_t writers[WRITERS]; /* complete before any writer or reader reads it */
    atomic_bool writers_done;     /* the readers read until every writer has finished */
    atomic_bool stop_thread;
} race_t;

/* A writer's or reader's argument, copied into the process (spawn's arg_size). */
typedef struct role {
    race_t *race;
    int index;
} role_t;

/* Returns whether key had an entry. */
static bool check_entry(race_t *r, const char *key, bool shared, int k)
{
    arbor_registry_entry_t *e;
    size_t n;
    ASSERT_OK(arbor_registry_lookup(r->reg, key, &e, &n));
    ASSERT_LE(n, 1);
    if (n == 1) {
        val_t v;
        ASSERT_EQ(e[0].size, sizeof v);
        memcpy(&v, e[0].value, sizeof v);
        ASSERT_TRUE(v.writer >= 0 && v.writer < WRITERS);
        ASSERT_EQ(v.key, k);
        ASSERT_U64_EQ(e[0].pid, r->writers[v.writer]);
        if (!shared)
            ASSERT_EQ(v.writer, k % WRITERS);
    }
    free(e);
    if (n == 0)
        return false;
    arbor_pid_t w = arbor_registry_whereis(r->reg, key);
    if (w != ARBOR_NOPID) {
        int i = 0;
        while (i < WRITERS && r->writers[i] != w)
            i++;
        ASSERT_LT(i, WRITERS);
    }
    return true;
}

static void key_name(char *buf, size_t size, bool shared, int k)
{
    snprintf(buf, size, shared ? "shared-%d" : "own-%d", k);
}

/* A process that registers and dies without unregistering (the DOWN path). */
static void mayfly(void *arg)
{
    race_t *r = arg;
    char key[32];
    snprintf(key, sizeof key, "mayfly-%llu", (unsigned long long)arbor_self());
    ASSERT_OK(arbor_registry_register(r->reg, key, NULL, 0, NULL));
}

static void writer(void *arg)
{
    race_t *r = ((const role_t *)arg)->race;
    int w = ((const role_t *)arg)->index;
    arbor_msg_free(arbor_test_recv_tag(EV_READY, 5000)); /* every writer pid is known */
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = w; k < OWN_KEYS; k += WRITERS) {
            char key[32];
            key_name(key, sizeof key, false, k);
            val_t v = {w, k};
            ASSERT_OK(arbor_registry_register(r->reg, key, &v, sizeof v, NULL));
        }
        for (int k = 0; k < SHARED_KEYS; k++) {
            char key[32];
            key_name(key, sizeof key, true, k);
            val_t v = {w, k};
            arbor_pid_t owner = ARBOR_NOPID;
            int rc = arbor_registry_register(r->reg, key, &v, sizeof v, &owner);
            if (rc == ARBOR_EEXIST)
                ASSERT_NE(owner, arbor_self());
            else
                ASSERT_OK(rc);
        }
        if (round % 10 == 0)
            ASSERT_OK(arbor_spawn(mayfly, r, NULL));
        for (int k = w; k < OWN_KEYS; k += WRITERS) {
            char key[32];
            key_name(key, sizeof key, false, k);
            ASSERT_OK(arbor_registry_unregister(r->reg, key));
        }
        for (int k = 0; k < SHARED_KEYS; k++) {
            char key[32];
            key_name(key, sizeof key, true, k);
            ASSERT_OK(arbor_registry_unregister(r->reg, key));
        }
    }
    arbor_send(r->root, EV_DONE, NULL, 0);
}

static void reader(void *arg)
{
    race_t *r = ((const role_t *)arg)->race;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(((const role_t *)arg)->index + 1);
    int hits = 0;
    /* At least READS lookups, and on until the writers are done: on a busy
     * machine a fixed count could all run before the first registration or
     * after the last, and see nothing. */
    for (int i = 0; i < READS || !atomic_load(&r->writers_done); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bool shared = (x & 3) == 0;
        int k = (int)((x >> 8) % (shared ? SHARED_KEYS : OWN_KEYS));
        char key[32];
        key_name(key, sizeof key, shared, k);
        hits += check_entry(r, key, shared, k);
        if (i % 64 == 0) {
            size_t n;
            ASSERT_OK(arbor_registry_count(r->reg, &n));
            arbor_yield();
        }
    }
    arbor_send(r->root, EV_DONE, &hits, sizeof hits);
}

/* A plain thread, not a process: lookups need no process. */
static void *thread_reader(void *arg)
{
    race_t *r = arg;
    for (int i = 0; !atomic_load(&r->stop_thread); i++) {
        char key[32];
        key_name(key, sizeof key, i % 2, i % SHARED_KEYS);
        check_entry(r, key, i % 2, i % SHARED_KEYS);
    }
    return NULL;
}

static void race_root(void *arg)
{
    static race_t r; /* the processes and the thread read it; it outlives them all */
    memset(&r, 0, sizeof r);
    r.reg = start_registry(ARBOR_REGISTRY_UNIQUE, 0);
    r.root = arbor_self();
    arbor_spawn_opts_t o = {.arg_size = sizeof(role_t)};
    for (int i = 0; i < WRITERS; i++)
        ASSERT_OK(arbor_spawn_opt(writer, &(role_t){&r, i}, &o, &r.writers[i], NULL));
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, thread_reader, &r), 0);
    for (int i = 0; i < READERS; i++)
        ASSERT_OK(arbor_spawn_opt(reader, &(role_t){&r, i}, &o, NULL, NULL));
    for (int i = 0; i < WRITERS; i++)
        ASSERT_OK(arbor_send(r.writers[i], EV_READY, NULL, 0));
    int hits = 0, writers_done = 0;
    for (int i = 0; i < WRITERS + READERS; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(EV_DONE, arbor_test_scaled_ms(60000));
        if (m->size == sizeof hits)
            hits += *(int *)m->data;
        else if (++writers_done == WRITERS)
            atomic_store(&r.writers_done, true);
        arbor_msg_free(m);
    }
    ASSERT_GT(hits, 0); /* the readers did see registrations, not only an empty table */
    atomic_store(&r.stop_thread, true);
    pthread_join(th, NULL);
    /* Every writer unregistered everything; the mayflies' keys go with their DOWNs. */
    WAIT_UNTIL(count_of(r.reg) == 0, 5000);
    ASSERT_OK(arbor_registry_stop(r.reg, ARBOR_NORMAL));
    wait_registry_memory_released(5000);
}

TEST_TIMEOUT(registry_lookups_on_many_schedulers_race_registrations_consistently, 120)
{
    arbor_config_t cfg = {.schedulers = 4};
    arbor_test_run_with(&cfg, race_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

/* ---- a registry killed under concurrent lookups ------------------------------------------ */

typedef struct {
    arbor_pid_t reg, root;
} looker_arg_t;

/* Looks up until the registry is gone: every answer is the holder's entry or ENOPROC. */
static void looker(void *arg)
{
    const looker_arg_t *a = arg;
    arbor_send(a->root, EV_READY, NULL, 0);
    for (unsigned i = 0;; i++) {
        char key[16];
        snprintf(key, sizeof key, "k-%u", i % 64);
        arbor_registry_entry_t *e;
        size_t n;
        int rc = arbor_registry_lookup(a->reg, key, &e, &n);
        if (rc == ARBOR_ENOPROC)
            break;
        ASSERT_OK(rc);
        ASSERT_LE(n, 1);
        if (n)
            ASSERT_EQ(*(int *)e[0].value, (int)(i % 64));
        free(e);
        if (i % 128 == 0)
            arbor_yield();
    }
    arbor_send(a->root, EV_DONE, NULL, 0);
}

static void killed_under_lookups_root(void *arg)
{
    enum { LOOKERS = 8 };
    for (int round = 0; round < 10; round++) {
        arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 0);
        arbor_pid_t h = spawn_holder(reg, "k", 64);
        looker_arg_t la = {reg, arbor_self()};
        arbor_spawn_opts_t o = {.arg_size = sizeof la};
        for (int i = 0; i < LOOKERS; i++) {
            ASSERT_OK(arbor_spawn_opt(looker, &la, &o, NULL, NULL));
            arbor_msg_free(arbor_test_recv_tag(EV_READY, 5000));
        }
        arbor_sleep((uint64_t)round % 3);
        ASSERT_REASON(kill_wait(reg, ARBOR_KILL), ARBOR_EXIT_KILLED, "");
        for (int i = 0; i < LOOKERS; i++)
            arbor_msg_free(arbor_test_recv_tag(EV_DONE, 10000));
        ASSERT_OK(arbor_send(h, EV_QUIT, NULL, 0));
        wait_registry_memory_released(5000);
    }
}

TEST_TIMEOUT(registry_killed_under_concurrent_lookups_leaks_and_breaks_nothing, 60)
{
    arbor_config_t cfg = {.schedulers = 4};
    arbor_test_run_with(&cfg, killed_under_lookups_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

/* ---- a registry stopped or killed with keys held ------------------------------------------ */

typedef struct {
    bool kill;
} end_arg_t;

static void ended_root(void *arg)
{
    const end_arg_t *ea = arg;
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 4);
    arbor_pid_t dup = start_registry(ARBOR_REGISTRY_DUPLICATE, 3);
    arbor_pid_t holders[3];
    for (int i = 0; i < 3; i++) {
        char prefix[8];
        snprintf(prefix, sizeof prefix, "h%d", i);
        holders[i] = spawn_holder(reg, prefix, 100);
    }
    ASSERT_OK(arbor_registry_register(dup, "t", "v", 1, NULL));
    ASSERT_OK(arbor_registry_register(dup, "t", "w", 1, NULL));
    ASSERT_EQ(count_of(reg), 300);
    ASSERT_GT(arbor__registry_live(), 300);
    if (ea->kill) {
        ASSERT_REASON(kill_wait(reg, ARBOR_KILL), ARBOR_EXIT_KILLED, "");
        ASSERT_REASON(kill_wait(dup, ARBOR_KILL), ARBOR_EXIT_KILLED, "");
    } else {
        ASSERT_OK(arbor_registry_stop(reg, ARBOR_SHUTDOWN));
        ASSERT_OK(arbor_registry_stop(dup, ARBOR_NORMAL));
    }
    wait_registry_memory_released(5000);
    /* Gone for readers and writers alike. */
    arbor_registry_entry_t *e;
    size_t n;
    ASSERT_ERR(arbor_registry_lookup(reg, "h0-1", &e, &n), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_registry_count(reg, &n), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_registry_register(reg, "x", NULL, 0, NULL), ARBOR_ENOPROC);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "h0-1"), ARBOR_NOPID);
    ASSERT_ERR(arbor_registry_stop(reg, ARBOR_NORMAL), ARBOR_ENOPROC);
    /* The holders live on (monitored, never linked) and are no longer monitored once the
     * partitions are gone (killed ones die a moment after the registry). */
    WAIT_UNTIL(count_labelled("registry_partition", NULL) == 0, 5000);
    for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(arbor_test_alive(holders[i]));
        /* Demonitor signals do not wake their receiver: a message does. */
        ASSERT_OK(arbor_send(holders[i], EV_GOT, NULL, 0));
        WAIT_UNTIL(monitored_by(holders[i]) == 0, 5000);
        ASSERT_OK(arbor_send(holders[i], EV_QUIT, NULL, 0));
    }
    /* A new registry reuses the pool. */
    arbor_pid_t again = start_registry(ARBOR_REGISTRY_UNIQUE, 0);
    ASSERT_OK(arbor_registry_register(again, "h0-1", NULL, 0, NULL));
    ASSERT_EQ(count_of(again), 1);
    /* Left running: the runtime kills it when the root exits; nothing may leak then either. */
}

TEST(registry_stopped_with_keys_held_releases_everything)
{
    end_arg_t ea = {false};
    arbor_test_run(ended_root, &ea);
    ASSERT_EQ(arbor__registry_live(), 0);
}

TEST(registry_killed_with_keys_held_releases_everything)
{
    end_arg_t ea = {true};
    arbor_test_run(ended_root, &ea);
    ASSERT_EQ(arbor__registry_live(), 0);
}

/* ---- the tables: growth, removal, collisions -------------------------------------------- */

enum { HOLDERS = 48 };

typedef struct {
    arbor_pid_t reg, root;
    int i;
} keys_holder_arg_t;

/* Registers "p<i>" and "q<i>", then unregisters "q<i>" when told, and
 * quits when told again. */
static void table_holder(void *arg)
{
    const keys_holder_arg_t *h = arg;
    char key[32];
    snprintf(key, sizeof key, "p%d", h->i);
    ASSERT_OK(arbor_registry_register(h->reg, key, &h->i, sizeof h->i, NULL));
    snprintf(key, sizeof key, "q%d", h->i);
    ASSERT_OK(arbor_registry_register(h->reg, key, &h->i, sizeof h->i, NULL));
    arbor_send(h->root, EV_READY, NULL, 0);
    arbor_msg_free(arbor_test_recv_tag(EV_QUIT, ARBOR_INFINITY));
    ASSERT_OK(arbor_registry_unregister(h->reg, key));
    arbor_send(h->root, EV_DONE, NULL, 0);
    arbor_msg_free(arbor_test_recv_tag(EV_QUIT, ARBOR_INFINITY));
}

/* Whether key k<i> (held by self) is registered, as lookups see it. */
static void expect_own_key(arbor_pid_t reg, int i, bool held)
{
    char key[32];
    snprintf(key, sizeof key, "k%d", i);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, key), held ? arbor_self() : ARBOR_NOPID);
}

static void tables_root(void *arg)
{
    enum { KEYS = 3000 };
    /* One partition: every key and owner in one cell's tables, which grow
     * from 16 slots through eight doublings and lose keys in an order
     * unlike the one they came in, so that runs wrap and gaps close. */
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 1);
    char key[32];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_OK(arbor_registry_register(reg, key, &i, sizeof i, NULL));
    }
    arbor_pid_t holders[HOLDERS];
    for (int i = 0; i < HOLDERS; i++) {
        keys_holder_arg_t h = {reg, arbor_self(), i};
        arbor_spawn_opts_t o = {.arg_size = sizeof h};
        ASSERT_OK(arbor_spawn_opt(table_holder, &h, &o, &holders[i], NULL));
        arbor_msg_free(arbor_test_recv_tag(EV_READY, 5000));
    }
    ASSERT_EQ(count_of(reg), KEYS + 2 * HOLDERS);
    /* Every third key, from the last down; then every other one of the rest. */
    for (int i = KEYS - 1; i >= 0; i--)
        if (i % 3 == 0) {
            snprintf(key, sizeof key, "k%d", i);
            ASSERT_OK(arbor_registry_unregister(reg, key));
        }
    for (int i = 0; i < KEYS; i++)
        expect_own_key(reg, i, i % 3 != 0);
    for (int i = 0; i < KEYS; i++)
        if (i % 3 != 0 && i % 2 == 0) {
            snprintf(key, sizeof key, "k%d", i);
            ASSERT_OK(arbor_registry_unregister(reg, key));
        }
    int held = 0;
    for (int i = 0; i < KEYS; i++) {
        expect_own_key(reg, i, i % 3 != 0 && i % 2 != 0);
        held += i % 3 != 0 && i % 2 != 0;
    }
    /* Owners leave the owners' table: half drop a key, half die. */
    for (int i = 0; i < HOLDERS; i += 2) {
        ASSERT_OK(arbor_send(holders[i], EV_QUIT, NULL, 0));
        arbor_msg_free(arbor_test_recv_tag(EV_DONE, 5000));
    }
    for (int i = 1; i < HOLDERS; i += 2)
        kill_wait(holders[i], ARBOR_KILL);
    WAIT_UNTIL(count_of(reg) == (size_t)held + HOLDERS / 2, 5000);
    for (int i = 0; i < HOLDERS; i++) {
        arbor_registry_entry_t e;
        snprintf(key, sizeof key, "p%d", i);
        ASSERT_EQ(lookup_n(reg, key, &e), i % 2 == 0 ? 1u : 0u);
        if (i % 2 == 0)
            ASSERT_EQ(*(int *)e.value, i);
        snprintf(key, sizeof key, "q%d", i);
        ASSERT_EQ(lookup_n(reg, key, NULL), 0u);
    }
    /* The freed keys can be taken again, and found. */
    for (int i = 0; i < KEYS; i += 3) {
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_OK(arbor_registry_register(reg, key, NULL, 0, NULL));
    }
    for (int i = 0; i < KEYS; i++)
        expect_own_key(reg, i, i % 3 == 0 || i % 2 != 0);
    for (int i = 0; i < HOLDERS; i += 2)
        kill_wait(holders[i], ARBOR_KILL);
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
    wait_registry_memory_released(5000);
}

TEST(registry_tables_keep_every_key_through_growth_and_removals)
{
    arbor_test_run(tables_root, NULL);
}

static void duplicate_order_root(void *arg)
{
    /* Entries under one key are many slots of one run in the table; a
     * removal among them closes the gap and loses none. */
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_DUPLICATE, 1);
    enum { N = 40 };
    for (int i = 0; i < N; i++) {
        char other[16];
        snprintf(other, sizeof other, "o%d", i);
        ASSERT_OK(arbor_registry_register(reg, "t", &i, sizeof i, NULL));
        ASSERT_OK(arbor_registry_register(reg, other, &i, sizeof i, NULL));
    }
    ASSERT_EQ(lookup_n(reg, "t", NULL), (size_t)N);
    ASSERT_OK(arbor_registry_unregister(reg, "o7"));
    ASSERT_EQ(lookup_n(reg, "t", NULL), (size_t)N);
    arbor_registry_entry_t *e;
    size_t n;
    ASSERT_OK(arbor_registry_lookup(reg, "t", &e, &n));
    int seen[N] = {0};
    for (size_t k = 0; k < n; k++) {
        int v = *(int *)e[k].value;
        ASSERT_TRUE(v >= 0 && v < N);
        ASSERT_EQ(seen[v]++, 0);
    }
    free(e);
    ASSERT_OK(arbor_registry_unregister(reg, "t"));
    ASSERT_EQ(lookup_n(reg, "t", NULL), 0u);
    ASSERT_EQ(count_of(reg), (size_t)N - 1);
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
    wait_registry_memory_released(5000);
}

TEST(duplicate_registry_entries_of_one_key_survive_removals_beside_them)
{
    arbor_test_run(duplicate_order_root, NULL);
}

/* ---- partitions, supervisors, bad arguments --------------------------------------------- */

static void partition_crash_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 3);
    ASSERT_OK(arbor_registry_register(reg, "k", NULL, 0, NULL));
    arbor_pid_t part = ARBOR_NOPID;
    ASSERT_EQ(count_labelled("registry_partition", &part), 3);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(part, &info));
    ASSERT_EQ(info.links, 1); /* to the registry */
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(reg, &ref));
    ASSERT_OK(arbor_exit_pid(part, ARBOR_KILL));
    /* No restart: the registry goes down with shutdown, and takes the others with it. */
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
    ASSERT_REASON(((arbor_down_msg_t *)m->data)->reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_msg_free(m);
    wait_registry_memory_released(5000);
    ASSERT_U64_EQ(arbor_registry_whereis(reg, "k"), ARBOR_NOPID);
    WAIT_UNTIL(count_labelled("registry_partition", NULL) == 0, 5000);
}

static void quiet(const arbor_report_t *report, void *ctx) {}

TEST(a_partition_that_dies_takes_the_registry_down)
{
    arbor_report_set_handler(quiet, NULL); /* the expected partition report */
    arbor_test_run(partition_crash_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

static int registry_child_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_registry_opts_t o = {.keys = ARBOR_REGISTRY_UNIQUE, .partitions = 2, .link = true};
    int rc = arbor_registry_start(&o, pid);
    if (rc)
        *err = arbor_error("registry start: %s", arbor_err_name(rc));
    return rc ? ARBOR_EEXIT : 0;
}

static void supervised_root(void *arg)
{
    arbor_child_spec_t spec = {
        .id = "registry", .start = registry_child_start, .type = ARBOR_SUPERVISOR_CHILD};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
    arbor_pid_t reg = child_pid(sup, "registry");
    ASSERT_OK(arbor_registry_register(reg, "k", NULL, 0, NULL));
    kill_wait(reg, ARBOR_KILL);
    arbor_pid_t reg2 = ARBOR_NOPID;
    WAIT_UNTIL((reg2 = child_pid(sup, "registry")) != ARBOR_NOPID && reg2 != reg, 5000);
    /* Restarted empty. */
    ASSERT_EQ(lookup_n(reg2, "k", NULL), 0);
    ASSERT_OK(arbor_registry_register(reg2, "k", NULL, 0, NULL));
    /* The supervisor stops it with an exit signal, as any child. */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    ASSERT_FALSE(arbor_test_alive(reg2));
    wait_registry_memory_released(5000);
}

TEST(registry_under_a_supervisor_restarts_empty_and_stops_with_it)
{
    arbor_test_run(supervised_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}

static void bad_args_root(void *arg)
{
    arbor_pid_t reg = start_registry(ARBOR_REGISTRY_UNIQUE, 1);
    char long_key[ARBOR_REGISTRY_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    unsigned char big[ARBOR_REGISTRY_VALUE_MAX + 1] = {0};
    arbor_registry_entry_t *e;
    size_t n;
    ASSERT_ERR(arbor_registry_register(reg, NULL, NULL, 0, NULL), ARBOR_EINVAL);
    ASSERT_ERR(arbor_registry_register(reg, long_key, NULL, 0, NULL), ARBOR_ETOOBIG);
    ASSERT_ERR(arbor_registry_register(reg, "k", big, sizeof big, NULL), ARBOR_ETOOBIG);
    ASSERT_ERR(arbor_registry_register(reg, "k", NULL, 3, NULL), ARBOR_EINVAL);
    ASSERT_ERR(arbor_registry_lookup(reg, long_key, &e, &n), ARBOR_ETOOBIG);
    long_key[ARBOR_REGISTRY_KEY_MAX] = '\0'; /* exactly the limit */
    ASSERT_OK(arbor_registry_register(reg, long_key, big, ARBOR_REGISTRY_VALUE_MAX, NULL));
    ASSERT_EQ(lookup_n(reg, long_key, NULL), 1);
    ASSERT_OK(arbor_registry_register(reg, "", NULL, 0, NULL)); /* the empty key is a key */
    /* Not a registry: ourselves, and a pid that never was one. */
    arbor_pid_t self = arbor_self();
    ASSERT_ERR(arbor_registry_register(self, "k", NULL, 0, NULL), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_registry_lookup(self, "k", &e, &n), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_registry_count(ARBOR_NOPID, &n), ARBOR_ENOPROC);
    ASSERT_U64_EQ(arbor_registry_whereis(self, "k"), ARBOR_NOPID);
    ASSERT_OK(arbor_registry_cast(self, "k", 1, NULL, 0));
    /* Options. */
    arbor_pid_t pid;
    arbor_registry_opts_t o = {.partitions = ARBOR_REGISTRY_PARTITIONS_MAX + 1};
    ASSERT_ERR(arbor_registry_start(&o, &pid), ARBOR_EINVAL);
    o = (arbor_registry_opts_t){.keys = 7};
    ASSERT_ERR(arbor_registry_start(&o, &pid), ARBOR_EINVAL);
    ASSERT_OK(arbor_register("taken", self, NULL));
    o = (arbor_registry_opts_t){.name = "taken"};
    ASSERT_ERR(arbor_registry_start(&o, &pid), ARBOR_EEXIST);
    ASSERT_U64_EQ(pid, self);
    o = (arbor_registry_opts_t){.name = "named", .link = true};
    ASSERT_OK(arbor_registry_start(&o, &pid));
    ASSERT_U64_EQ(arbor_whereis("named"), pid);
    ASSERT_OK(arbor_registry_stop(pid, ARBOR_NORMAL));
    ASSERT_OK(arbor_registry_stop(reg, ARBOR_NORMAL));
    wait_registry_memory_released(5000);
}

TEST(registry_bad_arguments_and_unknown_registries_are_refused)
{
    arbor_test_run(bad_args_root, NULL);
    ASSERT_EQ(arbor__registry_live(), 0);
}
