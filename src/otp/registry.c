/*
 * Registry: partitioned, with lookups that take no message round trip.
 * Built on the public API only. The cells' hash tables are in
 * registry_cell.c, via names in registry_via.c.
 *
 * Shape. A registry is a small tree of processes:
 *
 *   registry (plain process, traps exits)   the pid users hold; owns the
 *   |                                       "anchor" (below) and stops the
 *   |                                       rest when its parent says so
 *   +-- partition 0 .. N-1 (GenServers, linked)
 *                                           monitor the registered processes
 *                                           and own the other writes:
 *                                           unregister, and the cleanup when
 *                                           a registered process dies
 *
 * A key goes to partition hash(key) % N. Each partition publishes its
 * entries in a "cell": a hash table of keys (and one of owners) guarded by
 * a pthread rwlock. A register is written by the registering process
 * itself, under the write lock (Elixir's Registry.register writes ETS from
 * the caller), with no round trip; the partition changes the cell for the
 * other writes; lookup, whereis, dispatch and count read it under the read
 * lock, from any thread, without messaging anybody, so readers on
 * different schedulers never queue behind one process. A partition
 * monitors (Elixir links) every process holding keys in it: the first
 * register of a process in a cell makes the partition monitor it
 * (arbor_monitor_by(), as Elixir's caller links itself to the partition).
 * The partition drops all of that process's keys when its DOWN arrives,
 * and demonitors when the process unregisters its last key there.
 *
 * Memory lifetime: the rule. The hard case is a registry that is killed:
 * a killed process runs no code of ours, yet its entries must be freed and
 * a reader on another thread may be reading them at that very moment. The
 * runtime frees a dead process's arbor_alloc() memory without taking our
 * lock, so nothing readers touch may live there. Instead:
 *
 *   1. The rwlocks live in static memory (cells[], initialised once, never
 *      destroyed): a lock outlives every registry, so a reader can always
 *      take it, however stale the pointer that led it there.
 *   2. Everything reachable from a cell (entries, owners, slot arrays) is
 *      malloc'd, belongs to the cell, and is written or freed only under
 *      the cell's write lock. Who owns the cell is the field cell.reg (the
 *      registry's pid, which the runtime never reuses within a run), also
 *      under the lock. Readers and partitions check cell.reg under the
 *      lock before touching anything else; a cell whose reg is not theirs
 *      is as good as empty.
 *   3. Before it reserves anything, the registry process registers an
 *      exit hook (arbor_on_exit) with the anchor: the record of what it
 *      reserved. The hook runs in the dying process's own exit path,
 *      however it died (kill included), before its links are told. It
 *      retires the registry: under dir_mu it unpublishes the slot, and
 *      under each cell's write lock it frees the cell's contents and sets
 *      cell.reg to NOPID. A reader holding a read lock finishes first; one
 *      that comes later finds the cell retired and reports ARBOR_ENOPROC.
 *   4. Partitions are linked to the registry and die with it. One still
 *      alive for a moment after the retirement (the exit signal is in
 *      flight), or a process registering then, finds cell.reg changed and
 *      refuses to write. An orderly stop
 *      clears each cell in the partition's terminate() as well.
 *
 * So every byte is freed exactly once, by the anchor, whatever was killed
 * in whatever order; an orderly stop frees most of it earlier. The price:
 * a fixed pool of REG_SLOTS registries and CELL_POOL partitions per OS
 * process (start returns ARBOR_EAGAIN beyond it), about 230 KiB of static
 * memory (the 128 KiB of cells is initialised at the first start, the
 * slots are touched as they are used).
 *
 * Finding a registry. Readers have only the registry's pid. slots[] is a
 * static table searched from hash(pid): a slot holds the pid, the number of
 * partitions, the cells and the partition pids, all atomics, published with
 * a release store of the pid. A reader may read a slot that is being
 * reused under it; every such mix-up ends at a cell whose reg is not the
 * pid it asked for, which it treats as "not running".
 *
 * Locking rules. A cell lock is held only for a bounded walk or update and
 * never across an Arbor call that can yield or receive (arbor_send,
 * arbor_demonitor with FLUSH, any call): a process killed at such a point
 * would die holding the lock. Inside, only arbor_monitor_by() and
 * arbor_alive() are called; neither yields. No code holds two cell
 * locks at once. Order: dir_mu, then a cell lock. The rwlocks prefer
 * writers, so a partition is not starved by a stream of lookups.
 *
 * Scaling. lookup, dispatch and count touch only the cell's lock; whereis,
 * call and cast also check that the owner is alive with arbor_alive(),
 * which takes no lock either.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arbor.h"
#include "otp.h"
#include "registry_cell.h"

#define REG_SLOTS 128
#define CELL_POOL 1024
#define PART_MAX  ARBOR_REGISTRY_PARTITIONS_MAX

/* ---- the directory of registries ---------------------------------------------------- */

typedef struct slot {
    _Atomic arbor_pid_t pid; /* published registry; ARBOR_NOPID when none */
    _Atomic unsigned nparts;
    _Atomic int keys;
    _Atomic unsigned cell[PART_MAX];
    _Atomic arbor_pid_t part[PART_MAX];
    arbor_pid_t owner; /* dir_mu: the registry holding the slot */
} slot_t;

/* What the registry reserved, for its exit hook: only the registry process
 * and, at its death, its exit path touch it. */
typedef struct anchor {
    arbor_pid_t reg;
    int slot; /* -1 until reserved */
    unsigned ncells;
    unsigned cell[PART_MAX];
} anchor_t;

static pthread_once_t cells_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t dir_mu = PTHREAD_MUTEX_INITIALIZER;
static slot_t slots[REG_SLOTS];
static cell_t cells[CELL_POOL];
static bool cell_taken[CELL_POOL]; /* dir_mu */
static size_t slots_taken;         /* dir_mu */
static size_t cells_in_use;        /* dir_mu */

static void init_cells(void)
{
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__ /* an enum constant there, not a macro */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    for (size_t i = 0; i < CELL_POOL; i++)
        pthread_rwlock_init(&cells[i].lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

/* Reserves a slot and nparts cells for the registry of anchor a. The slot
 * is not visible to readers until publish(). */
static int dir_reserve(anchor_t *a, arbor_registry_keys_t keys, unsigned nparts)
{
    pthread_once(&cells_once, init_cells);
    pthread_mutex_lock(&dir_mu);
    slot_t *s = NULL;
    size_t start = arbor__reg_mix(a->reg) % REG_SLOTS;
    for (size_t i = 0; i < REG_SLOTS && !s; i++)
        if (slots[(start + i) % REG_SLOTS].owner == ARBOR_NOPID)
            s = &slots[(start + i) % REG_SLOTS];
    if (!s || cells_in_use + nparts > CELL_POOL) {
        pthread_mutex_unlock(&dir_mu);
        return ARBOR_EAGAIN;
    }
    s->owner = a->reg;
    a->slot = (int)(s - slots);
    slots_taken++;
    for (unsigned i = 0, idx = 0; i < nparts; idx++) {
        if (cell_taken[idx])
            continue;
        cell_t *c = &cells[idx];
        cell_taken[idx] = true;
        cells_in_use++;
        a->cell[a->ncells++] = idx;
        pthread_rwlock_wrlock(&c->lock);
        c->reg = a->reg;
        c->part = i;
        pthread_rwlock_unlock(&c->lock);
        /* Release: a reader that loads this index sees an initialised lock. */
        atomic_store_explicit(&s->cell[i], idx, memory_order_release);
        i++;
    }
    atomic_store_explicit(&s->nparts, nparts, memory_order_relaxed);
    atomic_store_explicit(&s->keys, (int)keys, memory_order_relaxed);
    pthread_mutex_unlock(&dir_mu);
    return 0;
}

/* Makes the registry visible: the release store of the pid publishes the
 * fields stored before it. */
static void dir_publish(const anchor_t *a, const arbor_pid_t *parts)
{
    slot_t *s = &slots[a->slot];
    for (unsigned i = 0; i < a->ncells; i++)
        atomic_store_explicit(&s->part[i], parts[i], memory_order_relaxed);
    atomic_store_explicit(&s->pid, a->reg, memory_order_release);
}

/* The anchor's exit hook: runs once, in the registry process's exit path,
 * however it died. See rule 3. */
static void anchor_release(void *ptr)
{
    anchor_t *a = ptr;
    pthread_mutex_lock(&dir_mu);
    if (a->slot >= 0) {
        slot_t *s = &slots[a->slot];
        atomic_store_explicit(&s->pid, ARBOR_NOPID, memory_order_release);
        s->owner = ARBOR_NOPID;
        slots_taken--;
    }
    for (unsigned i = 0; i < a->ncells; i++) {
        cell_t *c = &cells[a->cell[i]];
        pthread_rwlock_wrlock(&c->lock);
        if (c->reg == a->reg) {
            arbor__reg_cell_clear(c);
            c->reg = ARBOR_NOPID;
        }
        pthread_rwlock_unlock(&c->lock);
        cell_taken[a->cell[i]] = false;
        cells_in_use--;
    }
    pthread_mutex_unlock(&dir_mu);
    arbor__reg_block_free(a);
}

size_t arbor__registry_live(void);

/* For the tests: blocks, slots and cells still held by registries; 0 once
 * every registry has been retired. */
size_t arbor__registry_live(void)
{
    pthread_mutex_lock(&dir_mu);
    size_t n = slots_taken + cells_in_use;
    pthread_mutex_unlock(&dir_mu);
    return n + arbor__reg_live_blocks();
}

typedef struct view {
    slot_t *slot;
    unsigned nparts;
    arbor_registry_keys_t keys;
} view_t;

/* Finds the published registry reg. The view may be stale by the time it
 * is used; read_cell() catches that. */
static int open_view(arbor_pid_t reg, view_t *v)
{
    if (reg == ARBOR_NOPID)
        return ARBOR_ENOPROC;
    size_t start = arbor__reg_mix(reg) % REG_SLOTS;
    for (size_t i = 0; i < REG_SLOTS; i++) {
        slot_t *s = &slots[(start + i) % REG_SLOTS];
        if (atomic_load_explicit(&s->pid, memory_order_acquire) != reg)
            continue;
        v->slot = s;
        v->nparts = atomic_load_explicit(&s->nparts, memory_order_relaxed);
        v->keys = (arbor_registry_keys_t)atomic_load_explicit(&s->keys, memory_order_relaxed);
        if (v->nparts == 0 || v->nparts > PART_MAX)
            return ARBOR_ENOPROC; /* reused under us */
        return 0;
    }
    return ARBOR_ENOPROC;
}

/* Read-locks partition part of reg, or returns NULL (lock released) if
 * the cell no longer belongs to it. */
static cell_t *read_cell(arbor_pid_t reg, const view_t *v, unsigned part)
{
    unsigned idx = atomic_load_explicit(&v->slot->cell[part], memory_order_acquire);
    if (idx >= CELL_POOL)
        return NULL;
    cell_t *c = &cells[idx];
    pthread_rwlock_rdlock(&c->lock);
    if (c->reg == reg && c->part == part)
        return c;
    pthread_rwlock_unlock(&c->lock);
    return NULL;
}

/* ---- keys and liveness ----------------------------------------------------------- */

static int check_key(const char *key, size_t *len)
{
    if (!key)
        return ARBOR_EINVAL;
    *len = strnlen(key, KEY_MAX + 1);
    return *len > KEY_MAX ? ARBOR_ETOOBIG : 0;
}

/* ---- partitions -------------------------------------------------------------------- */

typedef struct req {
    arbor_pid_t reg;
    uint64_t hash;
    uint8_t key_len, size;
    char key[KEY_MAX + 1];
    unsigned char value[VALUE_MAX];
} req_t;

typedef struct rep {
    int rc;
} rep_t;

typedef struct partition {
    arbor_pid_t reg;
    unsigned part;
    cell_t *cell;
    arbor_registry_keys_t keys;
} partition_t;

static arbor_gs_ret_t part_init(void **state, void *arg)
{
    partition_t *p = arbor_alloc(sizeof *p);
    if (!p)
        return arbor_gs_halt(arbor_error("out of memory"));
    *p = *(const partition_t *)arg;
    *state = p;
    return arbor_gs_ok();
}

static void demonitor_all(const arbor_ref_t *refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (refs[i])
            arbor_demonitor(refs[i], ARBOR_DEMONITOR_FLUSH);
}

static rep_t do_unregister(const partition_t *p, arbor_pid_t pid, const req_t *r)
{
    rep_t rep = {0};
    arbor_ref_t drop = 0;
    cell_t *c = p->cell;
    pthread_rwlock_wrlock(&c->lock);
    owner_t *o = NULL;
    if (c->reg != p->reg || r->reg != p->reg)
        rep.rc = ARBOR_ENOPROC;
    else
        o = arbor__reg_find_owner(c, pid);
    for (entry_t *e = o ? o->entries : NULL, *next; e && !drop; e = next) {
        next = e->owner_next;
        if (arbor__reg_entry_is(e, r->hash, r->key, r->key_len))
            drop = arbor__reg_remove_entry(c, e); /* non-zero: that was o's last entry, o is gone */
    }
    pthread_rwlock_unlock(&c->lock);
    demonitor_all(&drop, 1);
    return rep;
}

static arbor_gs_ret_t part_call(void **state, const arbor_msg_t *msg, arbor_from_t from)
{
    const partition_t *p = *state;
    rep_t rep = {ARBOR_EINVAL};
    if (msg->size == sizeof(req_t)) {
        const req_t *r = msg->data;
        if (msg->tag == ARBOR__TAG_REG_UNREGISTER)
            rep = do_unregister(p, from.pid, r);
    }
    return arbor_gs_reply(&rep, sizeof rep);
}

/* A registered process died: all its keys here go. */
static arbor_gs_ret_t part_info(void **state, const arbor_msg_t *msg)
{
    const partition_t *p = *state;
    if (msg->tag != ARBOR_TAG_DOWN || msg->size != sizeof(arbor_down_msg_t))
        return arbor_gs_noreply();
    const arbor_down_msg_t *d = msg->data;
    cell_t *c = p->cell;
    pthread_rwlock_wrlock(&c->lock);
    owner_t *o = c->reg == p->reg ? arbor__reg_find_owner(c, d->pid) : NULL;
    if (o && o->mref == d->ref)
        while (!arbor__reg_remove_entry(c, o->entries)) /* the last one frees o */
            ;
    pthread_rwlock_unlock(&c->lock);
    return arbor_gs_noreply();
}

/* An orderly stop frees the cell's contents now; the anchor would anyway. */
static void part_terminate(void **state, const arbor_reason_t *reason)
{
    const partition_t *p = *state;
    pthread_rwlock_wrlock(&p->cell->lock);
    if (p->cell->reg == p->reg)
        arbor__reg_cell_clear(p->cell);
    pthread_rwlock_unlock(&p->cell->lock);
}

static void part_format(void *state, char *buf, size_t size)
{
    const partition_t *p = state;
    snprintf(buf, size, "partition %u", p->part);
}

static const arbor_gen_server_t partition_gs = {
    .label = "registry_partition",
    .init = part_init,
    .handle_call = part_call,
    .handle_info = part_info,
    .terminate = part_terminate,
    .format_status = part_format,
};

/* ---- the registry process ------------------------------------------------------- */

/* The start request, copied into the registry's memory (spawn's arg_size). */
typedef struct reg_start {
    arbor__start_t start; /* where the ack goes (start.c) */
    arbor_registry_keys_t keys;
    unsigned nparts;
    bool named;
    char name[ARBOR_NAME_MAX + 1];
} reg_start_t;

typedef struct registry {
    arbor_pid_t self, parent;
    unsigned nparts;
    arbor_pid_t part[PART_MAX];
} registry_t;

static void ack(const reg_start_t *st, int rc, arbor_pid_t owner, arbor_reason_t reason)
{
    arbor__start_ack(&st->start,
                     (arbor__start_ack_t){.status = rc, .owner = owner, .reason = reason});
}

static void report_partition_exit(unsigned part, arbor_reason_t reason)
{
    char detail[32];
    snprintf(detail, sizeof detail, "partition %u", part);
    arbor_report(&(arbor_report_t){.kind = ARBOR_REPORT_SUPERVISOR,
                                   .pid = arbor_self(),
                                   .behaviour = "registry",
                                   .what = "partition_terminated",
                                   .reason = reason,
                                   .detail = detail});
}

/* Stops the partitions, last first (skipping `dead`), then the registry.
 * A partition that does not stop in time is killed; it finds its cell
 * retired if it runs again before the kill lands. */
static _Noreturn void shut_down(const registry_t *r, arbor_reason_t reason, arbor_pid_t dead)
{
    for (unsigned i = r->nparts; i-- > 0;) {
        if (r->part[i] == dead)
            continue;
        if (arbor_gs_stop(r->part[i], ARBOR_SHUTDOWN, 5000, NULL) == ARBOR_ETIMEDOUT)
            arbor_exit_pid(r->part[i], ARBOR_KILL);
    }
    arbor_exit(reason);
}

static _Noreturn void serve(const registry_t *r)
{
    for (;;) {
        arbor_msg_t *m;
        arbor_receive(ARBOR_INFINITY, &m);
        uint64_t tag = m->tag;
        arbor_exit_msg_t e = {0};
        arbor_reason_t stop = ARBOR_NORMAL;
        /* The reasons' texts are copied out of m into our memory. */
        if (tag == ARBOR_TAG_EXIT && m->size == sizeof e) {
            memcpy(&e, m->data, sizeof e);
            e.reason = arbor_reason_copy(&e.reason);
        } else if (tag == ARBOR__TAG_GS_STOP && m->size >= sizeof stop) {
            memcpy(&stop, m->data, sizeof stop);
            arbor__reason_wire_in(&stop, m, sizeof stop);
            stop = arbor_reason_copy(&stop);
        } else {
            tag = 0;
        }
        arbor_msg_free(m);
        if (tag == ARBOR__TAG_GS_STOP)
            shut_down(r, stop, ARBOR_NOPID); /* arbor_gs_stop() / arbor_registry_stop() */
        if (tag != ARBOR_TAG_EXIT)
            continue;
        if (e.from == r->parent)
            shut_down(r, e.reason, ARBOR_NOPID);
        for (unsigned i = 0; i < r->nparts; i++) {
            if (r->part[i] != e.from)
                continue;
            /* Elixir's registry supervisor allows no restart: a partition
             * that ends takes the registry down with shutdown. */
            if (!arbor_reason_is_clean(&e.reason))
                report_partition_exit(i, e.reason);
            shut_down(r, ARBOR_SHUTDOWN, e.from);
        }
        /* An EXIT from anybody else is ignored, as a supervisor does. */
        arbor_reason_free(&e.reason);
    }
}

static void registry_main(void *arg)
{
    const reg_start_t *st = arg; /* our own copy */
    registry_t r = {.self = arbor_self(), .parent = st->start.parent, .nparts = st->nparts};
    arbor_pid_t owner = ARBOR_NOPID;
    int rc = st->named ? arbor_register(st->name, r.self, &owner) : 0;
    if (rc) {
        ack(st, rc, owner, ARBOR_NORMAL);
        return;
    }
    /* The anchor goes first: from here on, whatever we reserve is released
     * when we die, however we die. */
    anchor_t *a = arbor__reg_block_alloc(sizeof *a);
    if (!a) {
        ack(st, ARBOR_ENOMEM, ARBOR_NOPID, ARBOR_NORMAL);
        return;
    }
    a->reg = r.self;
    a->slot = -1;
    if (arbor_on_exit(anchor_release, a) != 0) {
        arbor__reg_block_free(a);
        ack(st, ARBOR_ENOMEM, ARBOR_NOPID, ARBOR_NORMAL);
        return;
    }
    if ((rc = dir_reserve(a, st->keys, st->nparts))) {
        ack(st, rc, ARBOR_NOPID, ARBOR_NORMAL);
        return;
    }
    for (unsigned i = 0; i < r.nparts; i++) {
        partition_t pa = {.reg = r.self, .part = i, .cell = &cells[a->cell[i]], .keys = st->keys};
        arbor_reason_t why = ARBOR_NORMAL;
        arbor_gs_opts_t go = {.link = true};
        rc = arbor_gs_start(&partition_gs, &pa, &go, &r.part[i], &why);
        if (rc) {
            r.nparts = i;
            for (unsigned j = 0; j < i; j++)
                arbor_exit_pid(r.part[j], ARBOR_KILL);
            ack(st, rc, ARBOR_NOPID, why);
            return; /* normal: a linked starter is not hurt */
        }
    }
    dir_publish(a, r.part);
    ack(st, 0, ARBOR_NOPID, ARBOR_NORMAL);
    serve(&r);
}

/* ---- starting and stopping --------------------------------------------------------- */

static int spawn_registry(void *ctx, bool link, arbor_ref_t *mref, arbor_pid_t *pid)
{
    arbor_spawn_opts_t so = {.link = link,
                             .monitor = mref != NULL,
                             .trap_exit = true,
                             .label = "registry",
                             .arg_size = sizeof(reg_start_t)};
    return arbor_spawn_opt(registry_main, ctx, &so, pid, mref);
}

static unsigned default_partitions(void)
{
    arbor_stats_t st;
    arbor_stats(&st);
    unsigned n = st.schedulers ? st.schedulers : 1;
    return n > PART_MAX ? PART_MAX : n;
}

int arbor_registry_start(const arbor_registry_opts_t *opts, arbor_pid_t *pid_out)
{
    if (!opts || (opts->keys != ARBOR_REGISTRY_UNIQUE && opts->keys != ARBOR_REGISTRY_DUPLICATE) ||
        opts->partitions > PART_MAX)
        return ARBOR_EINVAL;
    reg_start_t st = {.keys = opts->keys};
    if (opts->name) {
        size_t len = strnlen(opts->name, ARBOR_NAME_MAX + 1);
        if (len == 0 || len > ARBOR_NAME_MAX)
            return ARBOR_EINVAL;
        memcpy(st.name, opts->name, len);
        st.named = true;
    }
    if (!arbor_self())
        return ARBOR_ENOTPROC;
    st.nparts = opts->partitions ? opts->partitions : default_partitions();
    /* The registry copies st (arg_size) after start.c has filled in where
     * its ack goes. */
    arbor__start_spawn_t how = {spawn_registry, &st, opts->link, 0};
    return arbor__start_sync(&st.start, &how, pid_out, NULL);
}

int arbor_registry_stop(arbor_pid_t reg, arbor_reason_t reason)
{
    if (!arbor_self())
        return ARBOR_ENOTPROC;
    view_t v;
    if (open_view(reg, &v))
        return ARBOR_ENOPROC;
    arbor_reason_t got;
    int rc = arbor_gs_stop(reg, reason, ARBOR_INFINITY, &got);
    if (rc == ARBOR_EEXIT)
        arbor_reason_free(&got);
    return rc;
}

/* ---- writes: register from the caller, unregister through the key's partition ------ */

static int make_req(arbor_pid_t reg, const char *key, const void *value, size_t size, req_t *r)
{
    size_t len;
    int rc = check_key(key, &len);
    if (rc)
        return rc;
    if (size && !value)
        return ARBOR_EINVAL;
    if (size > VALUE_MAX)
        return ARBOR_ETOOBIG;
    memset(r, 0, sizeof *r);
    r->reg = reg;
    r->hash = arbor__reg_key_hash(key, len);
    r->key_len = (uint8_t)len;
    memcpy(r->key, key, len);
    r->size = (uint8_t)size;
    if (size)
        memcpy(r->value, value, size);
    return 0;
}

/* The registry's view, and the partition that owns r's key: its index
 * and its process. */
static int key_partition(const req_t *r, view_t *v, unsigned *part, arbor_pid_t *server)
{
    int rc = open_view(r->reg, v);
    if (rc)
        return rc;
    *part = arbor__reg_part_of(r->hash, v->nparts);
    *server = atomic_load_explicit(&v->slot->part[*part], memory_order_relaxed);
    return 0;
}

static int part_request(uint64_t kind, const req_t *r)
{
    view_t v;
    unsigned part;
    arbor_pid_t server;
    int rc = key_partition(r, &v, &part, &server);
    if (rc)
        return rc;
    arbor_msg_t *m;
    rc = arbor_gs_call(server, kind, r, sizeof *r, ARBOR_INFINITY, &m, NULL);
    if (rc == ARBOR_EEXIT || rc == ARBOR_ENOPROC)
        return ARBOR_ENOPROC; /* the registry went away meanwhile */
    if (rc)
        return rc;
    rep_t rep = {ARBOR_EINVAL};
    if (m->size == sizeof rep)
        memcpy(&rep, m->data, sizeof rep);
    arbor_msg_free(m);
    return rep.rc;
}

/* Registers the caller in its key's cell itself, as Elixir's
 * Registry.register writes ETS from the caller: no round trip to the
 * partition, which learns of a new owner by the monitor the caller makes
 * it hold (arbor_monitor_by(); Elixir's caller links itself to it). The
 * partition takes that monitor in before any later request of the caller
 * (an unregister), and a DOWN for an owner that is no longer in the cell
 * finds nothing to remove. */
static int register_here(const req_t *r, arbor_pid_t *owner_out)
{
    view_t v;
    unsigned part;
    arbor_pid_t server;
    int rc = key_partition(r, &v, &part, &server);
    if (rc)
        return rc;
    unsigned idx = atomic_load_explicit(&v.slot->cell[part], memory_order_acquire);
    if (idx >= CELL_POOL)
        return ARBOR_ENOPROC;
    cell_t *c = &cells[idx];
    arbor_pid_t self = arbor_self();
    pthread_rwlock_wrlock(&c->lock);
    if (c->reg != r->reg || c->part != part) {
        rc = ARBOR_ENOPROC;
        goto out;
    }
    if (v.keys == ARBOR_REGISTRY_UNIQUE) {
        entry_t *e = arbor__reg_first_match(c, r->hash, r->key, r->key_len);
        /* A dead owner whose DOWN the partition has not handled yet loses
         * the key now (Elixir: "has unique registrations even if partition
         * is delayed"). The partition's monitor of it stays: its DOWN comes
         * and removes whatever keys the owner still holds. */
        if (e && e->pid != self && !arbor_alive(e->pid)) {
            arbor__reg_remove_entry(c, e);
            e = NULL;
        }
        if (e) {
            rc = ARBOR_EEXIST;
            if (owner_out)
                *owner_out = e->pid;
            goto out;
        }
    }
    rc = arbor__reg_add_entry(c, self, server, r->hash, r->key, r->key_len, r->value, r->size);
out:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int arbor_registry_register(arbor_pid_t reg, const char *key, const void *value, size_t size,
                            arbor_pid_t *owner_out)
{
    if (!arbor_self())
        return ARBOR_ENOTPROC;
    req_t r;
    int rc = make_req(reg, key, value, size, &r);
    return rc ? rc : register_here(&r, owner_out);
}

int arbor_registry_unregister(arbor_pid_t reg, const char *key)
{
    if (!arbor_self())
        return ARBOR_ENOTPROC;
    req_t r;
    int rc = make_req(reg, key, NULL, 0, &r);
    return rc ? rc : part_request(ARBOR__TAG_REG_UNREGISTER, &r);
}

/* ---- reads: under the key's read lock, no messages ---------------------------------- */

/* Read-locks the cell of key in reg. */
static int open_key(arbor_pid_t reg, const char *key, view_t *v, cell_t **c, uint64_t *hash,
                    size_t *len)
{
    int rc = check_key(key, len);
    if (rc || (rc = open_view(reg, v)))
        return rc;
    *hash = arbor__reg_key_hash(key, *len);
    *c = read_cell(reg, v, arbor__reg_part_of(*hash, v->nparts));
    return *c ? 0 : ARBOR_ENOPROC;
}

int arbor_registry_lookup(arbor_pid_t reg, const char *key, arbor_registry_entry_t **out, size_t *n)
{
    if (!out || !n)
        return ARBOR_EINVAL;
    *out = NULL;
    *n = 0;
    view_t v;
    cell_t *c;
    uint64_t h;
    size_t len;
    int rc = open_key(reg, key, &v, &c, &h, &len);
    if (rc)
        return rc;
    size_t count = arbor__reg_collect(c, h, key, len, NULL, NULL), i = 0;
    arbor_registry_entry_t *arr = count ? malloc(count * sizeof *arr) : NULL;
    if (count && !arr)
        rc = ARBOR_ENOMEM;
    else if (arr)
        i = arbor__reg_collect(c, h, key, len, NULL, arr);
    pthread_rwlock_unlock(&c->lock);
    *out = arr;
    *n = i;
    return rc;
}

arbor_pid_t arbor_registry_whereis(arbor_pid_t reg, const char *key)
{
    view_t v;
    cell_t *c;
    uint64_t h;
    size_t len;
    if (open_key(reg, key, &v, &c, &h, &len))
        return ARBOR_NOPID;
    entry_t *e = v.keys == ARBOR_REGISTRY_UNIQUE ? arbor__reg_first_match(c, h, key, len) : NULL;
    arbor_pid_t pid = e ? e->pid : ARBOR_NOPID;
    pthread_rwlock_unlock(&c->lock);
    return pid && arbor_alive(pid) ? pid : ARBOR_NOPID;
}

int arbor_registry_dispatch(arbor_pid_t reg, const char *key, uint64_t tag, const void *data,
                            size_t size, size_t *sent)
{
    if (sent)
        *sent = 0;
    if ((tag >= ARBOR_TAG_SYSTEM && tag < ARBOR_TAG_OTP) || (size && !data))
        return ARBOR_EINVAL;
    if (size > ARBOR_MSG_MAX)
        return ARBOR_ETOOBIG;
    view_t v;
    cell_t *c;
    uint64_t h;
    size_t len;
    int rc = open_key(reg, key, &v, &c, &h, &len);
    if (rc)
        return rc;
    /* Copy the pids out, then send without the lock: arbor_send may yield,
     * and a caller killed there must not leak the copy, so a process gets
     * it from its own heap. */
    bool proc = arbor_self() != ARBOR_NOPID;
    size_t count = arbor__reg_collect(c, h, key, len, NULL, NULL), i = 0;
    arbor_pid_t small[32];
    arbor_pid_t *pids = count <= 32 ? small
                        : proc      ? arbor_alloc(count * sizeof *pids)
                                    : malloc(count * sizeof *pids);
    if (pids)
        i = arbor__reg_collect(c, h, key, len, pids, NULL);
    pthread_rwlock_unlock(&c->lock);
    if (!pids)
        return ARBOR_ENOMEM;
    for (size_t j = 0; j < i && rc == 0; j++)
        rc = arbor_send(pids[j], tag, data, size);
    if (pids != small && proc)
        arbor_free(pids);
    else if (pids != small)
        free(pids);
    if (sent && rc == 0)
        *sent = i;
    return rc;
}

int arbor_registry_count(arbor_pid_t reg, size_t *n)
{
    if (!n)
        return ARBOR_EINVAL;
    *n = 0;
    view_t v;
    int rc = open_view(reg, &v);
    if (rc)
        return rc;
    size_t total = 0;
    for (unsigned i = 0; i < v.nparts; i++) {
        cell_t *c = read_cell(reg, &v, i);
        if (!c)
            return ARBOR_ENOPROC;
        total += c->keys.count;
        pthread_rwlock_unlock(&c->lock);
    }
    *n = total;
    return 0;
}

int arbor_registry_keys(arbor_pid_t reg, arbor_pid_t pid, arbor_registry_key_t **out, size_t *n)
{
    if (!out || !n)
        return ARBOR_EINVAL;
    *out = NULL;
    *n = 0;
    view_t v;
    int rc = open_view(reg, &v);
    if (rc)
        return rc;
    arbor_registry_key_t *keys = NULL;
    size_t count = 0;
    for (unsigned i = 0; i < v.nparts && rc == 0; i++) {
        cell_t *c = read_cell(reg, &v, i);
        if (!c) {
            rc = ARBOR_ENOPROC;
            break;
        }
        const owner_t *o = arbor__reg_find_owner(c, pid);
        if (o && o->count) {
            arbor_registry_key_t *grown = realloc(keys, (count + o->count) * sizeof *keys);
            if (grown)
                keys = grown;
            else
                rc = ARBOR_ENOMEM;
            for (const entry_t *e = grown ? o->entries : NULL; e; e = e->owner_next) {
                memcpy(keys[count].key, e->key, e->key_len);
                keys[count++].key[e->key_len] = '\0';
            }
        }
        pthread_rwlock_unlock(&c->lock);
    }
    if (rc) {
        free(keys);
        return rc;
    }
    *out = keys;
    *n = count;
    return 0;
}

/* ---- for via names (registry_via.c) ------------------------------------------ */

/* The live owner of key in reg, a registry with unique keys: 0 and *pid,
 * ARBOR_ENOENT, ARBOR_EINVAL (duplicate keys or a bad key), ARBOR_ENOPROC. */
int arbor__registry_unique_owner(arbor_pid_t reg, const char *key, arbor_pid_t *pid)
{
    size_t len;
    view_t v;
    int rc = check_key(key, &len);
    if (rc || (rc = open_view(reg, &v)))
        return rc;
    if (v.keys != ARBOR_REGISTRY_UNIQUE)
        return ARBOR_EINVAL;
    *pid = arbor_registry_whereis(reg, key);
    return *pid ? 0 : ARBOR_ENOENT;
}

/* Checks key and value as a registration in reg would. */
int arbor__registry_check_entry(arbor_pid_t reg, const char *key, const void *value, size_t size)
{
    req_t probe;
    return make_req(reg, key, value, size, &probe);
}

/* 0 when reg is a running registry with unique keys; ARBOR_EINVAL for
 * duplicate keys, ARBOR_ENOPROC when it is not running. */
int arbor__registry_check_unique(arbor_pid_t reg)
{
    view_t v;
    int rc = open_view(reg, &v);
    return rc ? rc : v.keys == ARBOR_REGISTRY_UNIQUE ? 0 : ARBOR_EINVAL;
}
