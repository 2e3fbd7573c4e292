/* Fair-share scheduling priority as Slurm's priority/multifactor plugin
 * computes it, as a pure library (no I/O, no clock, no threads) for the
 * facility's local executor and, later, the dashboard:
 *
 *   - an association tree: root -> accounts (nested) -> users (leaves), each
 *     with raw shares; users carry raw usage (e.g. core-seconds), an account's
 *     usage is the sum over its subtree;
 *   - usage decay with a half-life (PriorityDecayHalfLife);
 *   - the "classic" fair-share factor (PriorityFlags=NO_FAIR_TREE)
 *     https://slurm.schedmd.com/classic_fair_share.html
 *   - the "Fair Tree" fair-share factor (Slurm's default since 19.05)
 *     https://slurm.schedmd.com/fair_tree.html
 *   - the multifactor job priority (age and fair-share terms) and the order
 *     of a pending queue https://slurm.schedmd.com/priority_multifactor.html
 *
 * Node ids are small ints handed out in creation order; the root is
 * GF_FS_ROOT. A node's parent always has a smaller id than the node. Results
 * are written to caller arrays indexed by node id, of gf_fs_tree_size() rows.
 *
 * Not thread-safe per tree; separate trees may be used from separate threads. */
#ifndef GF_FACILITY_FAIRSHARE_H
#define GF_FACILITY_FAIRSHARE_H

#include <stdint.h>
#include "core/error.h"

#define GF_FS_ROOT      0
#define GF_FS_NAME_MAX  64      /* bytes of a node name, including the NUL */

typedef enum {
    GF_FS_ACCOUNT = 0,          /* may have children, carries no usage of its own */
    GF_FS_USER    = 1,          /* a leaf: the association jobs are charged to */
} gf_fs_kind;

typedef struct gf_fs_tree gf_fs_tree;

/* A node as the caller described it. usage: a user's raw usage; for an
 * account (and the root) the sum over its subtree. */
typedef struct {
    const char *name;           /* owned by the tree; valid until it is freed */
    int parent;                 /* -1 for the root */
    gf_fs_kind kind;            /* the root is an account */
    double shares;              /* raw shares among its siblings */
    double usage;
    int n_children;
} gf_fs_node_info;

/* A new tree holding only the root (an account named "root"). */
gf_status gf_fs_tree_create(gf_fs_tree **out);
void      gf_fs_tree_free(gf_fs_tree *t);

/* Adds an account or a user under `parent` (an account) and returns its id.
 * shares >= 0 and finite; name non-empty, shorter than GF_FS_NAME_MAX and
 * unique among the parent's children (the same user name may appear under
 * several accounts: each is its own association, as in Slurm). */
gf_status gf_fs_node_add(gf_fs_tree *t, int parent, const char *name, gf_fs_kind kind, double shares,
                         int *id);

/* Replaces / adds to a user's raw usage (finite, the result >= 0). */
gf_status gf_fs_node_set_usage(gf_fs_tree *t, int id, double usage);
gf_status gf_fs_node_add_usage(gf_fs_tree *t, int id, double delta);

/* The total usage that classic fair-share normalises by (R_H on the classic
 * page: everything the machine delivered in the same decayed window). 0, the
 * default, means the sum of all users' usage. A total below that sum is
 * taken as the sum. */
gf_status gf_fs_tree_set_total_usage(gf_fs_tree *t, double total);

int       gf_fs_tree_size(const gf_fs_tree *t);     /* nodes, root included */
int       gf_fs_tree_users(const gf_fs_tree *t);    /* user associations */
gf_status gf_fs_node_info_get(const gf_fs_tree *t, int id, gf_fs_node_info *out);
/* The child of `parent` called `name`. */
gf_status gf_fs_node_find(const gf_fs_tree *t, int parent, const char *name, int *id);

/* ---------------------------------------------------------------------------
 * Decay. usage * 2^(-elapsed_s / half_life_s). half_life_s <= 0 means no decay
 * (PriorityDecayHalfLife=0) and elapsed_s <= 0 leaves usage as it is. Slurm's
 * decay thread applies (1 - 0.693/half_life)^elapsed, a first-order
 * approximation of the same curve; this is the exact curve. */
double    gf_fs_decay(double usage, double elapsed_s, double half_life_s);
/* Decays every user's usage and the total set by gf_fs_tree_set_total_usage.
 * elapsed_s >= 0, half_life_s >= 0 (0: no decay), both finite. */
gf_status gf_fs_tree_decay(gf_fs_tree *t, double elapsed_s, double half_life_s);

/* ---------------------------------------------------------------------------
 * Fair-share factors, one row per node (the root's row holds shares_norm = 1
 * and the total usage, nothing else that means anything). */
typedef struct {
    double usage_raw;           /* user: its usage; account: subtree sum */
    double shares_norm;         /* classic: product down the tree of shares/sum of siblings' shares;
                                 * fair tree: shares / sum of siblings' shares ("Shares Norm") */
    double usage_norm;          /* usage_raw / total usage */
    double usage_efctv;         /* classic: effective usage U_E;
                                 * fair tree: usage_raw / parent's usage_raw (0 when that is 0) */
    double level_fs;            /* fair tree: S / U (INFINITY without usage, 0 without shares); classic: 0 */
    double fs_factor;           /* in [0, 1]. classic: 2^(-U_E/S) for users and accounts;
                                 * fair tree: rank / users for users, 0 for accounts */
    int rank;                   /* fair tree: users' rank, users..1 (1 is lowest); 0 otherwise */
} gf_fs_result;

/* Classic: S = prod (S_node / S_siblings+node) from the root down;
 * U_E = U_N for the accounts just under the root, below them
 * U_E = U_N + (U_E,parent - U_N) * S_raw / S_raw,all_siblings; F = 2^(-U_E/S)
 * (0 where S is 0). */
gf_status gf_fs_classic(const gf_fs_tree *t, gf_fs_result *res /* (size) */);

/* Fair Tree: LF = S / U among siblings; siblings sorted by LF descending
 * (on equal LF users before accounts), visited depth first, users ranked
 * from `users` down in pre-order; fs_factor = rank / users. Ties as the
 * fair_tree page documents: sibling users with equal LF share a rank; a user
 * tied with a sibling account gives its rank to that account's first user;
 * tied sibling accounts have their children lists merged before descending. */
gf_status gf_fs_fair_tree(const gf_fs_tree *t, gf_fs_result *res /* (size) */);

/* ---------------------------------------------------------------------------
 * Multifactor priority, the age and fair-share terms of
 *   Job_priority = PriorityWeightAge * age_factor + PriorityWeightFairshare * fs_factor + ...
 * age_factor = min(1, age / max_age) (PriorityMaxAge; max_age_s 0 gives every
 * waiting job 1, as Slurm does), 0 for a job submitted after `now`. */
typedef struct {
    double w_age;               /* PriorityWeightAge, >= 0 */
    double w_fairshare;         /* PriorityWeightFairshare, >= 0 */
    double max_age_s;           /* PriorityMaxAge in seconds, >= 0 */
} gf_fs_weights;

typedef struct {
    int64_t job_id;
    int user;                   /* a GF_FS_USER node of the tree */
    double submit_time;         /* seconds, same clock as `now` */
} gf_fs_job;

typedef struct {
    int64_t job_id;
    int user;
    double submit_time;
    double age_factor;          /* [0, 1] */
    double fs_factor;           /* [0, 1], the user's row of the results */
    double priority;            /* w_age * age_factor + w_fairshare * fs_factor */
} gf_fs_job_priority;

double gf_fs_age_factor(double age_s, double max_age_s);

/* Fills out[0..n) with jobs[0..n) in scheduling order: priority descending,
 * then submit time ascending, then job id ascending (the order Slurm's
 * scheduler evaluates jobs of equal partition tier). fs: the results of
 * gf_fs_classic or gf_fs_fair_tree on the same tree. On error out is
 * unspecified. */
gf_status gf_fs_jobs_order(const gf_fs_tree *t, const gf_fs_result *fs /* (size) */, const gf_fs_weights *w,
                           const gf_fs_job *jobs /* (n) */, int n, double now, gf_fs_job_priority *out /* (n) */);

#endif
