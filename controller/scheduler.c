/* SPDX-License-Identifier: Apache-2.0 */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

/*
 * Layout of a pass (N challenges, M candidates, P in progress):
 *  1. one sequential scan of the snapshot: each in-progress challenge goes to `inprog` (and adds to its
 *     namespace's load), each candidate to `cand`, both with their key hash and namespace id;
 *  2. a table keyed by the conflict key takes the in-progress keys, then every candidate: per key only the
 *     oldest candidate stays alive, and none where the key is in progress. What stays alive is exactly
 *     the eligible set, so no later step checks keys again;
 *  3. counting sort of the live candidates by namespace into `grp` (one contiguous segment each);
 *  4. each namespace's oldest is found by a linear scan of its segment, which becomes a binary min-heap
 *     only when a second one is needed; a min-heap of namespaces ordered by (load, age of the head,
 *     namespace name) hands out the picks.
 * Tables use open addressing with linear probing; the namespace table has a generation stamp per slot
 * and is never cleared, the key table (8-byte slots) is cleared per pass over the part in use. Equal
 * hashes are confirmed by comparing the strings (unless the caller supplied cached namespace hashes).
 */

/* How many entries ahead the scans prefetch the memory they will touch. */
#define PREFETCH_AHEAD 24

/* Marks a table slot whose key is in progress; the low bits hold the snapshot index. */
#define REF_INPROG 0x80000000u
/* cand.ns of a candidate that lost to an older one or to an in-progress key */
#define NS_DEAD UINT32_MAX

struct cand {
    int64_t created;
    uint64_t kh;  /* key hash */
    uint32_t idx; /* index into the snapshot */
    uint32_t ns;  /* namespace id, or NS_DEAD */
};

struct gent { /* a live candidate in its namespace's segment */
    int64_t created;
    uint32_t idx;
};

struct kslot { /* 8 bytes: the table is the one structure of a pass that outgrows the caches */
    uint32_t tag; /* high half of the key hash, low bit forced to 1; 0 = empty */
    uint32_t ref; /* position in cand, or REF_INPROG | snapshot index */
};

struct nslot {
    uint64_t h;
    uint32_t id;
    uint32_t gen;
};

struct nsinfo {
    const char *name;
    size_t len;
    uint64_t h;
    uint32_t load; /* in progress, plus picks of this pass */
    uint32_t cnt;  /* live candidates */
    uint32_t off;  /* segment start in grp; advances as heads are taken */
    uint32_t left; /* live candidates still in the segment */
    bool heaped;
};

struct sched {
    uint32_t gen;
    struct cand *cand, *inprog;
    size_t cand_cap, inprog_cap;
    struct gent *grp;
    size_t grp_cap;
    struct kslot *kt; /* keys: oldest candidate, or in progress; cleared per pass up to kt_mask */
    size_t kt_cap, kt_mask;
    struct nslot *nst;
    size_t nst_cap;
    struct nsinfo *ns;
    size_t ns_n, ns_cap;
    uint32_t *nsheap;
    size_t nsheap_cap;
    uint32_t *cursor; /* counting-sort cursors, one per namespace */
    size_t cursor_cap;
    sched_stats_t stats;
};

/* ---- states and types -------------------------------------------------------------------------- */

static const char *const state_names[] = {
    [SCHED_STATE_UNKNOWN] = "",          [SCHED_STATE_PENDING] = "pending", [SCHED_STATE_PROCESSING] = "processing",
    [SCHED_STATE_READY] = "ready",       [SCHED_STATE_VALID] = "valid",     [SCHED_STATE_INVALID] = "invalid",
    [SCHED_STATE_EXPIRED] = "expired",   [SCHED_STATE_ERRORED] = "errored", [SCHED_STATE_REVOKED] = "revoked",
    [SCHED_STATE_DEACTIVATED] = "deactivated",
};

sched_state_t sched_state_parse(const char *s)
{
    if (!s || !*s)
        return SCHED_STATE_UNKNOWN;
    for (size_t i = 1; i < sizeof(state_names) / sizeof(state_names[0]); i++)
        if (strcmp(s, state_names[i]) == 0)
            return (sched_state_t)i;
    return SCHED_STATE_UNKNOWN;
}

bool sched_state_is_final(sched_state_t st)
{
    switch (st) {
    case SCHED_STATE_VALID:
    case SCHED_STATE_INVALID:
    case SCHED_STATE_EXPIRED:
    case SCHED_STATE_ERRORED:
    case SCHED_STATE_REVOKED:
    case SCHED_STATE_DEACTIVATED:
        return true;
    default:
        return false;
    }
}

int sched_type_parse(const char *s, sched_type_t *out)
{
    if (s && strcmp(s, "HTTP-01") == 0)
        *out = SCHED_TYPE_HTTP01;
    else if (s && strcmp(s, "DNS-01") == 0)
        *out = SCHED_TYPE_DNS01;
    else
        return -1;
    return 0;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* dnsName without one leading "*." */
static const char *key_name(const char *dns)
{
    dns = str_or_empty(dns);
    return (dns[0] == '*' && dns[1] == '.') ? dns + 2 : dns;
}

static unsigned char lower_ascii(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

int sched_key(const char *dns_name, sched_type_t type, char *buf, size_t buflen)
{
    const char *k = key_name(dns_name);
    const char *t = type == SCHED_TYPE_DNS01 ? "DNS-01" : "HTTP-01";
    size_t kl = strlen(k), tl = strlen(t);
    if (!buf || buflen < kl + 1 + tl + 1)
        return -1;
    for (size_t i = 0; i < kl; i++)
        buf[i] = (char)lower_ascii((unsigned char)k[i]);
    buf[kl] = '/';
    memcpy(buf + kl + 1, t, tl + 1);
    return 0;
}

/* ---- hashing ------------------------------------------------------------------------------------ */

/* ASCII upper case to lower case in all eight bytes of w at once; other bytes unchanged. */
static uint64_t swar_lower(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t low7 = w & (0x7f * ones);
    uint64_t ge_a = low7 + (0x3f * ones); /* high bit set where byte >= 'A' */
    uint64_t gt_z = low7 + (0x25 * ones); /* high bit set where byte > 'Z' */
    uint64_t upper = (ge_a ^ gt_z) & ~w & (0x80 * ones);
    return w | (upper >> 2);
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Word-at-a-time hash of s[0..len), lower-cased first when fold is set. */
static uint64_t hash_bytes(const char *s, size_t len, bool fold, uint64_t seed)
{
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (fold)
            w = swar_lower(w);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    if (len & 7) {
        uint64_t w;
        if (len >= 8) {
            /* the last eight bytes, overlapping the previous word (len is mixed in, so no ambiguity) */
            memcpy(&w, s + len - 8, 8);
        } else {
            w = 0;
            for (size_t i = 0; i < len; i++)
                w |= (uint64_t)(unsigned char)s[i] << (8 * i);
        }
        if (fold)
            w = swar_lower(w);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    }
    return mix64(h);
}

uint64_t sched_key_hash(const char *dns_name, sched_type_t type)
{
    const char *k = key_name(dns_name);
    uint64_t h = hash_bytes(k, strlen(k), true, 0x5bd1e995u + (uint64_t)type);
    return h ? h : 1;
}

static uint64_t ns_hash_len(const char *ns, size_t len)
{
    uint64_t h = hash_bytes(ns, len, false, 0x27d4eb2fu);
    return h ? h : 1;
}

uint64_t sched_ns_hash(const char *ns)
{
    ns = str_or_empty(ns);
    return ns_hash_len(ns, strlen(ns));
}

static uint64_t key_hash(const sched_challenge_t *c)
{
    return c->key_hash ? c->key_hash : sched_key_hash(c->dns_name, c->type);
}

static bool key_eq(const sched_challenge_t *a, const sched_challenge_t *b)
{
    if (a->type != b->type)
        return false;
    const unsigned char *x = (const unsigned char *)key_name(a->dns_name);
    const unsigned char *y = (const unsigned char *)key_name(b->dns_name);
    if (x == y)
        return true;
    for (;; x++, y++) {
        if (lower_ascii(*x) != lower_ascii(*y))
            return false;
        if (!*x)
            return true;
    }
}

static int strcmp_fast(const char *a, const char *b)
{
    a = str_or_empty(a);
    b = str_or_empty(b);
    return a == b ? 0 : strcmp(a, b);
}

/* Age order across the whole snapshot: older first; ties by namespace, name, uid, then position. */
static int age_cmp(const sched_challenge_t *all, uint32_t ia, int64_t ca, uint32_t ib, int64_t cb)
{
    if (ca != cb)
        return ca < cb ? -1 : 1;
    const sched_challenge_t *a = &all[ia], *b = &all[ib];
    int r = strcmp_fast(a->ns, b->ns);
    if (!r)
        r = strcmp_fast(a->name, b->name);
    if (!r)
        r = strcmp_fast(a->uid, b->uid);
    if (!r && ia != ib)
        r = ia < ib ? -1 : 1;
    return r;
}

/* ---- tables ------------------------------------------------------------------------------------- */

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

/* Returns a buffer of at least need (>= 1) elements: p itself when big enough, else a larger copy (p is then
 * released). NULL when out of memory, p still owned by the caller. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need == 0)
        need = 1;
    if (p && *cap >= need)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *np = realloc(p, c * elem);
    if (np)
        *cap = c;
    return np;
}

#define GROW(s, field, capfield, need)                                                             \
    do {                                                                                           \
        void *np_ = grow((s)->field, &(s)->capfield, (need), sizeof(*(s)->field));                  \
        if (!np_)                                                                                  \
            return -1;                                                                             \
        (s)->field = np_;                                                                          \
    } while (0)

/* Readies an empty key table of at least 2*n slots for this pass (only the part in use is cleared). */
static int kt_reserve(struct sched *s, size_t n)
{
    size_t want = pow2_at_least(2 * n + 1);
    if (s->kt_cap < want) {
        free(s->kt);
        s->kt = NULL;
        s->kt_cap = 0;
        s->kt = malloc(want * sizeof(*s->kt));
        if (!s->kt)
            return -1;
        s->kt_cap = want;
    }
    memset(s->kt, 0, want * sizeof(*s->kt));
    s->kt_mask = want - 1;
    return 0;
}

static uint32_t kt_tag(uint64_t kh)
{
    return (uint32_t)(kh >> 32) | 1u;
}

/* Snapshot index behind a slot's reference. */
static uint32_t ref_idx(const struct sched *s, uint32_t ref)
{
    return (ref & REF_INPROG) ? (ref & ~REF_INPROG) : s->cand[ref].idx;
}

/* Slot of the key of all[idx] (hash kh): the existing one, or a claimed empty one (*fresh set; the caller
 * fills ref). Equal tags are confirmed by comparing the names. */
static struct kslot *kt_find(struct sched *s, const sched_challenge_t *all, uint32_t idx, uint64_t kh, bool *fresh)
{
    uint32_t tag = kt_tag(kh);
    for (size_t i = (size_t)kh & s->kt_mask;; i = (i + 1) & s->kt_mask) {
        struct kslot *sl = &s->kt[i];
        if (sl->tag == 0) {
            sl->tag = tag;
            *fresh = true;
            return sl;
        }
        if (sl->tag == tag && key_eq(&all[ref_idx(s, sl->ref)], &all[idx])) {
            *fresh = false;
            return sl;
        }
    }
}

static void nst_insert_slot(struct sched *s, uint64_t h, uint32_t id)
{
    size_t mask = s->nst_cap - 1;
    size_t i = (size_t)h & mask;
    while (s->nst[i].gen == s->gen)
        i = (i + 1) & mask;
    s->nst[i].gen = s->gen;
    s->nst[i].h = h;
    s->nst[i].id = id;
}

/* Rebuilds the namespace table at twice the size from the namespaces seen so far in this pass. */
static int nst_grow(struct sched *s)
{
    size_t cap = s->nst_cap ? s->nst_cap * 2 : 256;
    struct nslot *t = calloc(cap, sizeof(*t));
    if (!t)
        return -1;
    free(s->nst);
    s->nst = t;
    s->nst_cap = cap;
    for (size_t i = 0; i < s->ns_n; i++)
        nst_insert_slot(s, s->ns[i].h, (uint32_t)i);
    return 0;
}

/* Equality of two byte strings of length len, eight bytes at a time. */
static bool bytes_eq(const char *a, const char *b, size_t len)
{
    if (len < 8)
        return memcmp(a, b, len) == 0;
    uint64_t x, y;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    memcpy(&x, a + len - 8, 8);
    memcpy(&y, b + len - 8, 8);
    return x == y;
}

/* Namespace id of name (registered on first sight), or -1 when out of memory. given: the caller's cached
 * sched_ns_hash(), trusted without reading the string, or 0. */
static int64_t ns_id(struct sched *s, const char *name, uint64_t given)
{
    name = str_or_empty(name);
    size_t len = given ? 0 : strlen(name);
    uint64_t h = given ? given : ns_hash_len(name, len);
    size_t mask = s->nst_cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct nslot *sl = &s->nst[i];
        if (sl->gen != s->gen)
            break;
        if (sl->h == h) {
            const struct nsinfo *o = &s->ns[sl->id];
            if (given || o->name == name)
                return sl->id;
            size_t olen = o->len != SIZE_MAX ? o->len : strlen(o->name);
            if (olen == len && bytes_eq(o->name, name, len))
                return sl->id;
        }
    }
    if ((s->ns_n + 1) * 2 > s->nst_cap) {
        if (nst_grow(s) < 0)
            return -1;
    }
    GROW(s, ns, ns_cap, s->ns_n + 1);
    uint32_t id = (uint32_t)s->ns_n++;
    s->ns[id] = (struct nsinfo){.name = name, .len = given ? SIZE_MAX : len, .h = h};
    nst_insert_slot(s, h, id);
    return id;
}

/* Takes candidate pos out of the running. */
static void cand_drop(struct sched *s, uint32_t pos)
{
    struct cand *c = &s->cand[pos];
    if (c->ns != NS_DEAD) {
        s->ns[c->ns].cnt--;
        c->ns = NS_DEAD;
    }
}

/* ---- heaps -------------------------------------------------------------------------------------- */

static bool gent_less(const sched_challenge_t *all, const struct gent *a, const struct gent *b)
{
    return age_cmp(all, a->idx, a->created, b->idx, b->created) < 0;
}

static void gheap_down(const sched_challenge_t *all, struct gent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && gent_less(all, &h[l], &h[m]))
            m = l;
        if (l + 1 < n && gent_less(all, &h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        struct gent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Moves the oldest live candidate of a namespace that has not needed a heap yet to the front of its
 * segment (a linear scan: most namespaces give at most one pick per pass). */
static void ns_first_head(struct sched *s, const sched_challenge_t *all, struct nsinfo *ns)
{
    struct gent *seg = &s->grp[ns->off];
    size_t m = 0;
    for (size_t i = 1; i < ns->left; i++)
        if (gent_less(all, &seg[i], &seg[m]))
            m = i;
    struct gent t = seg[0];
    seg[0] = seg[m];
    seg[m] = t;
}

/* Removes the head; the next oldest is at the front afterwards (when any is left). */
static void ns_pop_head(struct sched *s, const sched_challenge_t *all, struct nsinfo *ns)
{
    if (!ns->heaped) {
        /* the head was placed by a scan and the rest is unordered: heapify the rest */
        ns->off++;
        ns->left--;
        ns->heaped = true;
        struct gent *seg = &s->grp[ns->off];
        for (size_t i = ns->left / 2; i-- > 0;)
            gheap_down(all, seg, ns->left, i);
        return;
    }
    struct gent *seg = &s->grp[ns->off];
    ns->left--;
    seg[0] = seg[ns->left];
    gheap_down(all, seg, ns->left, 0);
}

static bool ns_less(const struct sched *s, const sched_challenge_t *all, uint32_t a, uint32_t b)
{
    const struct nsinfo *x = &s->ns[a], *y = &s->ns[b];
    if (x->load != y->load)
        return x->load < y->load;
    const struct gent *ha = &s->grp[x->off], *hb = &s->grp[y->off];
    /* heads of different namespaces never compare equal (age_cmp falls back to the namespace name) */
    return age_cmp(all, ha->idx, ha->created, hb->idx, hb->created) < 0;
}

static void nsheap_down(const struct sched *s, const sched_challenge_t *all, uint32_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && ns_less(s, all, h[l], h[m]))
            m = l;
        if (l + 1 < n && ns_less(s, all, h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* ---- the pass ----------------------------------------------------------------------------------- */

sched_t *sched_new(void)
{
    return calloc(1, sizeof(struct sched));
}

void sched_free(sched_t *s)
{
    if (!s)
        return;
    free(s->cand);
    free(s->inprog);
    free(s->grp);
    free(s->kt);
    free(s->nst);
    free(s->ns);
    free(s->nsheap);
    free(s->cursor);
    free(s);
}

void sched_last_stats(const sched_t *s, sched_stats_t *out)
{
    if (!out)
        return;
    if (!s) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = s->stats;
}

/* Next generation; on wrap-around the tables are wiped so that stale stamps cannot alias. */
static void next_gen(struct sched *s)
{
    if (++s->gen == 0) {
        if (s->nst)
            memset(s->nst, 0, s->nst_cap * sizeof(*s->nst));
        s->gen = 1;
    }
}

int sched_pass(sched_t *s, const sched_challenge_t *all, size_t n, const sched_limits_t *lim, size_t *out_idx,
               size_t *out_n)
{
    static const sched_limits_t defaults = SCHED_LIMITS_DEFAULT;
    if (out_n)
        *out_n = 0;
    if (!s || !out_n || (n > 0 && !all) || n >= REF_INPROG)
        return -1;
    if (!lim)
        lim = &defaults;
    if (lim->max_per_tick > 0 && !out_idx)
        return -1;
    memset(&s->stats, 0, sizeof(s->stats));

    /* Cheap first look: a full cap (the steady state under load) needs nothing else. */
    size_t p = 0;
    for (size_t i = 0; i < n; i++)
        p += all[i].processing;
    s->stats.in_progress = p;
    size_t slots = p >= lim->max_concurrent ? 0 : lim->max_concurrent - p;
    if (slots > lim->max_per_tick)
        slots = lim->max_per_tick;
    if (slots == 0) {
        for (size_t i = 0; i < n; i++)
            s->stats.candidates += !all[i].processing && !sched_state_is_final(all[i].state);
        return 0;
    }

    next_gen(s);
    s->ns_n = 0;
    GROW(s, cand, cand_cap, n - p);
    GROW(s, inprog, inprog_cap, p);
    if (s->nst_cap == 0 && nst_grow(s) < 0)
        return -1;

    /* 1. classify */
    size_t m = 0, q = 0;
    const char *last_ns = NULL;
    int64_t last_id = -1;
    for (size_t i = 0; i < n; i++) {
        const sched_challenge_t *c = &all[i];
        if (i + PREFETCH_AHEAD < n && !all[i + PREFETCH_AHEAD].key_hash) {
            /* the strings live wherever the caller allocated them: ask for them early (not needed when
             * the caller cached the hashes) */
            __builtin_prefetch(all[i + PREFETCH_AHEAD].dns_name);
            __builtin_prefetch(all[i + PREFETCH_AHEAD].ns);
        }
        if (!c->processing && sched_state_is_final(c->state))
            continue;
        /* snapshots often come grouped by namespace, with shared strings: skip the lookup then */
        int64_t id = (last_id >= 0 && c->ns == last_ns) ? last_id : ns_id(s, c->ns, c->ns_hash);
        if (id < 0)
            return -1;
        last_ns = c->ns;
        last_id = id;
        struct cand e = {.created = c->created, .kh = key_hash(c), .idx = (uint32_t)i, .ns = (uint32_t)id};
        if (c->processing) {
            s->ns[id].load++;
            s->inprog[q++] = e;
        } else {
            s->cand[m++] = e;
            s->ns[id].cnt++;
        }
    }
    s->stats.candidates = m;
    if (m == 0)
        return 0;

    /* 2. keys: in progress first, then the oldest candidate of each key survives */
    if (kt_reserve(s, m + q) < 0)
        return -1;
    for (size_t i = 0; i < q; i++) {
        bool fresh;
        struct kslot *sl = kt_find(s, all, s->inprog[i].idx, s->inprog[i].kh, &fresh);
        if (fresh)
            sl->ref = REF_INPROG | s->inprog[i].idx;
    }
    size_t kmask = s->kt_mask;
    for (size_t i = 0; i < m; i++) {
        struct cand *c = &s->cand[i];
        if (i + PREFETCH_AHEAD < m) /* the table outgrows the caches: hide the latency */
            __builtin_prefetch(&s->kt[(size_t)s->cand[i + PREFETCH_AHEAD].kh & kmask]);
        bool fresh;
        struct kslot *sl = kt_find(s, all, c->idx, c->kh, &fresh);
        if (fresh) {
            sl->ref = (uint32_t)i;
        } else if (sl->ref & REF_INPROG) {
            cand_drop(s, (uint32_t)i);
        } else {
            const struct cand *o = &s->cand[sl->ref];
            if (age_cmp(all, c->idx, c->created, o->idx, o->created) < 0) {
                cand_drop(s, sl->ref);
                sl->ref = (uint32_t)i;
            } else {
                cand_drop(s, (uint32_t)i);
            }
        }
    }

    /* 3. group the live candidates by namespace */
    GROW(s, grp, grp_cap, m);
    GROW(s, cursor, cursor_cap, s->ns_n);
    GROW(s, nsheap, nsheap_cap, s->ns_n);
    uint32_t off = 0;
    for (size_t i = 0; i < s->ns_n; i++) {
        struct nsinfo *ns = &s->ns[i];
        ns->off = off;
        ns->left = ns->cnt;
        ns->heaped = false;
        s->cursor[i] = off;
        off += ns->cnt;
    }
    for (size_t i = 0; i < m; i++) {
        const struct cand *c = &s->cand[i];
        if (c->ns != NS_DEAD)
            s->grp[s->cursor[c->ns]++] = (struct gent){.created = c->created, .idx = c->idx};
    }

    /* 4. hand out the picks */
    size_t hn = 0;
    for (size_t i = 0; i < s->ns_n; i++) {
        struct nsinfo *ns = &s->ns[i];
        if (ns->cnt == 0)
            continue;
        s->stats.namespaces++;
        s->stats.eligible += ns->cnt;
        ns_first_head(s, all, ns);
        s->nsheap[hn++] = (uint32_t)i;
    }
    for (size_t i = hn / 2; i-- > 0;)
        nsheap_down(s, all, s->nsheap, hn, i);

    size_t picked = 0;
    while (picked < slots && hn > 0) {
        struct nsinfo *ns = &s->ns[s->nsheap[0]];
        out_idx[picked++] = s->grp[ns->off].idx;
        ns->load++;
        ns_pop_head(s, all, ns);
        if (ns->left == 0)
            s->nsheap[0] = s->nsheap[--hn];
        nsheap_down(s, all, s->nsheap, hn, 0);
    }
    *out_n = picked;
    s->stats.picked = picked;
    return 0;
}
