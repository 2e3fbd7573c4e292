/* Fair-share priority (see fairshare.h): the association tree, usage decay,
 * Slurm's classic and Fair Tree fair-share factors and the multifactor
 * ordering of pending jobs. Formulas follow Slurm's documentation:
 *   https://slurm.schedmd.com/classic_fair_share.html
 *   https://slurm.schedmd.com/fair_tree.html
 *   https://slurm.schedmd.com/priority_multifactor.html */
#include "facility/fairshare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FS_DEPTH_MAX 256        /* bounds the Fair Tree recursion */

typedef struct {
    char name[GF_FS_NAME_MAX];
    int parent;                 /* -1 for the root */
    int first_child, last_child, next_sibling;   /* -1 when none; children in creation order */
    int n_children;
    int depth;                  /* root 0 */
    gf_fs_kind kind;
    double shares;
    double usage;               /* users only */
} fs_node;

struct gf_fs_tree {
    fs_node *nodes;             /* (cap), n in use */
    int n, cap;
    int n_users;
    double total;               /* 0: the sum of users' usage */
};

/* ---------------------------------------------------------------------------
 * The tree */

gf_status gf_fs_tree_create(gf_fs_tree **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "fairshare: tree_create: NULL output");
    *out = NULL;
    gf_fs_tree *t = calloc(1, sizeof *t);
    if (!t) return gf_errorf(GF_ERR_NOMEM, "fairshare: out of memory for the tree");
    t->cap = 16;
    t->nodes = calloc((size_t)t->cap, sizeof *t->nodes);
    if (!t->nodes) { free(t); return gf_errorf(GF_ERR_NOMEM, "fairshare: out of memory for the tree"); }
    fs_node *r = &t->nodes[0];
    strcpy(r->name, "root");
    r->parent = r->first_child = r->last_child = r->next_sibling = -1;
    r->kind = GF_FS_ACCOUNT;
    r->shares = 1;
    t->n = 1;
    *out = t;
    return GF_OK;
}

void gf_fs_tree_free(gf_fs_tree *t)
{
    if (!t) return;
    free(t->nodes);
    free(t);
}

static gf_status check_id(const gf_fs_tree *t, int id, const char *what)
{
    if (!t) return gf_errorf(GF_ERR_ARG, "fairshare: %s: NULL tree", what);
    if (id < 0 || id >= t->n)
        return gf_errorf(GF_ERR_ARG, "fairshare: %s: unknown node id %d (tree has %d nodes)", what, id, t->n);
    return GF_OK;
}

gf_status gf_fs_node_find(const gf_fs_tree *t, int parent, const char *name, int *id)
{
    gf_status st = check_id(t, parent, "node_find");
    if (st) return st;
    if (!name || !id) return gf_errorf(GF_ERR_ARG, "fairshare: node_find: NULL name or output");
    for (int c = t->nodes[parent].first_child; c >= 0; c = t->nodes[c].next_sibling)
        if (strcmp(t->nodes[c].name, name) == 0) { *id = c; return GF_OK; }
    return gf_errorf(GF_ERR_ARG, "fairshare: no node '%s' under '%s'", name, t->nodes[parent].name);
}

gf_status gf_fs_node_add(gf_fs_tree *t, int parent, const char *name, gf_fs_kind kind, double shares, int *id)
{
    gf_status st = check_id(t, parent, "node_add");
    if (st) return st;
    if (!name || !id) return gf_errorf(GF_ERR_ARG, "fairshare: node_add: NULL name or output");
    size_t len = strlen(name);
    if (len == 0 || len >= GF_FS_NAME_MAX)
        return gf_errorf(GF_ERR_ARG, "fairshare: node name '%.32s' must be 1..%d bytes", name,
                         GF_FS_NAME_MAX - 1);
    if (kind != GF_FS_ACCOUNT && kind != GF_FS_USER)
        return gf_errorf(GF_ERR_ARG, "fairshare: node '%s': unknown kind %d", name, (int)kind);
    if (!isfinite(shares) || shares < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: node '%s': shares %g must be finite and >= 0", name, shares);
    const fs_node *p = &t->nodes[parent];
    if (p->kind != GF_FS_ACCOUNT)
        return gf_errorf(GF_ERR_ARG, "fairshare: node '%s': parent '%s' is a user, not an account", name,
                         p->name);
    if (p->depth + 1 > FS_DEPTH_MAX)
        return gf_errorf(GF_ERR_ARG, "fairshare: node '%s': tree deeper than %d levels", name, FS_DEPTH_MAX);
    for (int c = p->first_child; c >= 0; c = t->nodes[c].next_sibling)
        if (strcmp(t->nodes[c].name, name) == 0)
            return gf_errorf(GF_ERR_ARG, "fairshare: node '%s' already exists under '%s'", name, p->name);
    if (t->n == t->cap) {
        if (t->cap > (1 << 28)) return gf_errorf(GF_ERR_NOMEM, "fairshare: too many nodes");
        int cap = t->cap * 2;
        fs_node *nodes = realloc(t->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return gf_errorf(GF_ERR_NOMEM, "fairshare: out of memory for %d nodes", cap);
        t->nodes = nodes;
        t->cap = cap;
    }
    int i = t->n++;
    fs_node *nd = &t->nodes[i];
    memset(nd, 0, sizeof *nd);
    memcpy(nd->name, name, len + 1);
    nd->parent = parent;
    nd->first_child = nd->last_child = nd->next_sibling = -1;
    nd->kind = kind;
    nd->shares = shares;
    fs_node *pp = &t->nodes[parent];      /* re-read: realloc may have moved it */
    nd->depth = pp->depth + 1;
    if (pp->last_child >= 0) t->nodes[pp->last_child].next_sibling = i;
    else pp->first_child = i;
    pp->last_child = i;
    pp->n_children++;
    if (kind == GF_FS_USER) t->n_users++;
    *id = i;
    return GF_OK;
}

static gf_status check_user(const gf_fs_tree *t, int id, const char *what)
{
    gf_status st = check_id(t, id, what);
    if (st) return st;
    if (t->nodes[id].kind != GF_FS_USER)
        return gf_errorf(GF_ERR_ARG, "fairshare: %s: '%s' is an account; usage is charged to users", what,
                         t->nodes[id].name);
    return GF_OK;
}

gf_status gf_fs_node_set_usage(gf_fs_tree *t, int id, double usage)
{
    gf_status st = check_user(t, id, "set_usage");
    if (st) return st;
    if (!isfinite(usage) || usage < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: user '%s': usage %g must be finite and >= 0",
                         t->nodes[id].name, usage);
    t->nodes[id].usage = usage;
    return GF_OK;
}

gf_status gf_fs_node_add_usage(gf_fs_tree *t, int id, double delta)
{
    gf_status st = check_user(t, id, "add_usage");
    if (st) return st;
    double u = t->nodes[id].usage + delta;
    if (!isfinite(delta) || !isfinite(u) || u < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: user '%s': usage %g + %g must stay finite and >= 0",
                         t->nodes[id].name, t->nodes[id].usage, delta);
    t->nodes[id].usage = u;
    return GF_OK;
}

gf_status gf_fs_tree_set_total_usage(gf_fs_tree *t, double total)
{
    if (!t) return gf_errorf(GF_ERR_ARG, "fairshare: set_total_usage: NULL tree");
    if (!isfinite(total) || total < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: total usage %g must be finite and >= 0", total);
    t->total = total;
    return GF_OK;
}

int gf_fs_tree_size(const gf_fs_tree *t) { return t ? t->n : 0; }
int gf_fs_tree_users(const gf_fs_tree *t) { return t ? t->n_users : 0; }

/* usage[i] = user's usage, or the sum over the subtree (children have larger
 * ids than their parent, so one backward pass adds each node into its parent). */
static void subtree_usage(const gf_fs_tree *t, double *usage /* (n) */)
{
    for (int i = 0; i < t->n; i++) usage[i] = t->nodes[i].kind == GF_FS_USER ? t->nodes[i].usage : 0.0;
    for (int i = t->n - 1; i > 0; i--) usage[t->nodes[i].parent] += usage[i];
}

gf_status gf_fs_node_info_get(const gf_fs_tree *t, int id, gf_fs_node_info *out)
{
    gf_status st = check_id(t, id, "node_info_get");
    if (st) return st;
    if (!out) return gf_errorf(GF_ERR_ARG, "fairshare: node_info_get: NULL output");
    const fs_node *nd = &t->nodes[id];
    double u = 0;
    if (nd->kind == GF_FS_USER) u = nd->usage;
    else   /* the subtree: ids after id whose ancestor chain reaches id */
        for (int i = id + 1; i < t->n; i++) {
            if (t->nodes[i].kind != GF_FS_USER) continue;
            int a = t->nodes[i].parent;
            while (a > id) a = t->nodes[a].parent;
            if (a == id) u += t->nodes[i].usage;
        }
    out->name = nd->name;
    out->parent = nd->parent;
    out->kind = nd->kind;
    out->shares = nd->shares;
    out->usage = u;
    out->n_children = nd->n_children;
    return GF_OK;
}

/* ---------------------------------------------------------------------------
 * Decay (PriorityDecayHalfLife, classic_fair_share.html "Normalized Usage") */

double gf_fs_decay(double usage, double elapsed_s, double half_life_s)
{
    if (!(half_life_s > 0) || !(elapsed_s > 0)) return usage;
    return usage * exp2(-elapsed_s / half_life_s);
}

gf_status gf_fs_tree_decay(gf_fs_tree *t, double elapsed_s, double half_life_s)
{
    if (!t) return gf_errorf(GF_ERR_ARG, "fairshare: tree_decay: NULL tree");
    if (!isfinite(elapsed_s) || elapsed_s < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: decay: elapsed time %g s must be finite and >= 0", elapsed_s);
    if (!isfinite(half_life_s) || half_life_s < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: decay: half-life %g s must be finite and >= 0 (0: no decay)",
                         half_life_s);
    for (int i = 0; i < t->n; i++)
        if (t->nodes[i].kind == GF_FS_USER) t->nodes[i].usage = gf_fs_decay(t->nodes[i].usage, elapsed_s, half_life_s);
    t->total = gf_fs_decay(t->total, elapsed_s, half_life_s);
    return GF_OK;
}

/* ---------------------------------------------------------------------------
 * Shared by both algorithms: usage_raw for every row, the root's row, and
 * for each account the sum of its children's raw shares. */

static gf_status results_begin(const gf_fs_tree *t, gf_fs_result *res, const char *what)
{
    if (!t || !res) return gf_errorf(GF_ERR_ARG, "fairshare: %s: NULL tree or results", what);
    memset(res, 0, (size_t)t->n * sizeof *res);
    double *u = malloc((size_t)t->n * sizeof *u);
    if (!u) return gf_errorf(GF_ERR_NOMEM, "fairshare: %s: out of memory", what);
    subtree_usage(t, u);
    for (int i = 0; i < t->n; i++) res[i].usage_raw = u[i];
    free(u);
    return GF_OK;
}

static double level_shares(const gf_fs_tree *t, int parent)
{
    double s = 0;
    for (int c = t->nodes[parent].first_child; c >= 0; c = t->nodes[c].next_sibling) s += t->nodes[c].shares;
    return s;
}

/* ---------------------------------------------------------------------------
 * Classic (classic_fair_share.html, "The Slurm Fair-Share Formula"):
 *   S   = (S_user / S_siblings) * (S_account / S_sibling-accounts) * ...
 *   U_N = U_H / R_H
 *   U_E = U_N                                        for accounts under root
 *   U_E = U_Achild + (U_Eparent - U_Achild) * S_child / S_all_siblings   below
 *   F   = 2^(-U_E / S)
 * Parents are computed before their children: ids increase down the tree. */

gf_status gf_fs_classic(const gf_fs_tree *t, gf_fs_result *res)
{
    gf_status st = results_begin(t, res, "classic");
    if (st) return st;
    double total = res[GF_FS_ROOT].usage_raw;
    if (t->total > total) total = t->total;
    res[GF_FS_ROOT].shares_norm = 1;
    res[GF_FS_ROOT].usage_norm = total > 0 ? res[GF_FS_ROOT].usage_raw / total : 0;
    res[GF_FS_ROOT].usage_efctv = res[GF_FS_ROOT].usage_norm;
    for (int p = 0; p < t->n; p++) {
        if (t->nodes[p].first_child < 0) continue;
        double level = level_shares(t, p);
        for (int c = t->nodes[p].first_child; c >= 0; c = t->nodes[c].next_sibling) {
            gf_fs_result *r = &res[c];
            double frac = level > 0 ? t->nodes[c].shares / level : 0;
            r->shares_norm = res[p].shares_norm * frac;
            r->usage_norm = total > 0 ? r->usage_raw / total : 0;
            r->usage_efctv = p == GF_FS_ROOT ? r->usage_norm
                                             : r->usage_norm + (res[p].usage_efctv - r->usage_norm) * frac;
            r->fs_factor = r->shares_norm > 0 ? exp2(-r->usage_efctv / r->shares_norm) : 0;
        }
    }
    return GF_OK;
}

/* ---------------------------------------------------------------------------
 * Fair Tree (fair_tree.html, "Algorithm", "Level Fairshare Calculation",
 * "Ties"). LF = S / U with S = Sraw_self / Sraw_self+siblings and
 * U = Uraw_self / Uraw_parent (Uraw_parent is the siblings' sum). As Slurm
 * does: S == 0 gives LF 0 (lowest), else U == 0 gives LF infinity (highest).
 *
 * Ranking is Slurm's: `rnt` (rank, no ties) counts down from the number of
 * users, one step per user visited; a user takes rank = rnt unless it is tied
 * with the sibling visited before it (or it opens an account that was tied),
 * in which case it keeps the current rank. So after a tie the next rank
 * skips, as in 1224 ranking. Tied sibling accounts are merged as the
 * documentation says (their children sorted together before descending).
 * Slurm's own fair_tree.c (_count_tied_accounts) stops counting at the first
 * sibling that is an account, so there the merge does not take place and the
 * second account only starts "tied"; the documented rule is followed here. */

typedef struct {
    double lf;
    int id;
    int user;
} ft_entry;

static int ft_cmp(const void *a, const void *b)
{
    const ft_entry *x = a, *y = b;
    if (x->lf != y->lf) return x->lf < y->lf ? 1 : -1;   /* higher LF first */
    if (x->user != y->user) return x->user ? -1 : 1;     /* users before accounts */
    return (x->id > y->id) - (x->id < y->id);            /* creation order: deterministic */
}

typedef struct {
    const gf_fs_tree *t;
    gf_fs_result *res;
    ft_entry *buf;              /* (n) every node sits in exactly one sibling list */
    int used;
    int rank, rnt;
} ft_ctx;

static void ft_visit(ft_ctx *cx, ft_entry *sib, int n, int account_tied)
{
    qsort(sib, (size_t)n, sizeof *sib, ft_cmp);
    double prev_lf = NAN;
    for (int i = 0; i < n; i++) {
        const ft_entry *e = &sib[i];
        int tied = (i == 0 && account_tied) || (i > 0 && prev_lf == e->lf);
        if (e->user) {
            if (!tied) cx->rank = cx->rnt;
            cx->res[e->id].rank = cx->rank;
            cx->res[e->id].fs_factor = (double)cx->rank / cx->t->n_users;
            cx->rnt--;
        } else {
            /* accounts after i with the same LF: sorted right after it */
            int last = i;
            while (last + 1 < n && !sib[last + 1].user && sib[last + 1].lf == e->lf) last++;
            ft_entry *kids = cx->buf + cx->used;
            int nk = 0;
            for (int a = i; a <= last; a++)
                for (int c = cx->t->nodes[sib[a].id].first_child; c >= 0; c = cx->t->nodes[c].next_sibling) {
                    kids[nk].lf = cx->res[c].level_fs;
                    kids[nk].id = c;
                    kids[nk].user = cx->t->nodes[c].kind == GF_FS_USER;
                    nk++;
                }
            cx->used += nk;
            if (nk > 0) ft_visit(cx, kids, nk, tied);
            i = last;
        }
        prev_lf = e->lf;
    }
}

gf_status gf_fs_fair_tree(const gf_fs_tree *t, gf_fs_result *res)
{
    gf_status st = results_begin(t, res, "fair_tree");
    if (st) return st;
    double total = res[GF_FS_ROOT].usage_raw;
    if (t->total > total) total = t->total;
    res[GF_FS_ROOT].shares_norm = 1;
    res[GF_FS_ROOT].usage_norm = total > 0 ? res[GF_FS_ROOT].usage_raw / total : 0;
    res[GF_FS_ROOT].usage_efctv = 1;
    for (int p = 0; p < t->n; p++) {
        if (t->nodes[p].first_child < 0) continue;
        double level = level_shares(t, p);
        for (int c = t->nodes[p].first_child; c >= 0; c = t->nodes[c].next_sibling) {
            gf_fs_result *r = &res[c];
            r->shares_norm = level > 0 ? t->nodes[c].shares / level : 0;
            r->usage_norm = total > 0 ? r->usage_raw / total : 0;
            r->usage_efctv = res[p].usage_raw > 0 ? r->usage_raw / res[p].usage_raw : 0;
            r->level_fs = r->shares_norm == 0 ? 0 : r->usage_efctv == 0 ? INFINITY : r->shares_norm / r->usage_efctv;
        }
    }
    if (t->n_users == 0 || t->nodes[GF_FS_ROOT].first_child < 0) return GF_OK;

    ft_ctx cx = { .t = t, .res = res, .rank = t->n_users, .rnt = t->n_users };
    cx.buf = malloc((size_t)t->n * sizeof *cx.buf);
    if (!cx.buf) return gf_errorf(GF_ERR_NOMEM, "fairshare: fair_tree: out of memory");
    int n = 0;
    for (int c = t->nodes[GF_FS_ROOT].first_child; c >= 0; c = t->nodes[c].next_sibling) {
        cx.buf[n].lf = res[c].level_fs;
        cx.buf[n].id = c;
        cx.buf[n].user = t->nodes[c].kind == GF_FS_USER;
        n++;
    }
    cx.used = n;
    ft_visit(&cx, cx.buf, n, 0);
    free(cx.buf);
    return GF_OK;
}

/* ---------------------------------------------------------------------------
 * Multifactor priority (priority_multifactor.html, "Job Priority Factors In
 * General", "Age Factor"); the queue order is the one that page lists for
 * jobs of one partition tier: priority, then submit time, then job id. */

double gf_fs_age_factor(double age_s, double max_age_s)
{
    if (!(age_s > 0)) return 0;
    if (age_s >= max_age_s) return 1;     /* also max_age_s == 0, as Slurm */
    return age_s / max_age_s;
}

static int prio_cmp(const void *a, const void *b)
{
    const gf_fs_job_priority *x = a, *y = b;
    if (x->priority != y->priority) return x->priority < y->priority ? 1 : -1;
    if (x->submit_time != y->submit_time) return x->submit_time < y->submit_time ? -1 : 1;
    return (x->job_id > y->job_id) - (x->job_id < y->job_id);
}

gf_status gf_fs_jobs_order(const gf_fs_tree *t, const gf_fs_result *fs, const gf_fs_weights *w,
                           const gf_fs_job *jobs, int n, double now, gf_fs_job_priority *out)
{
    if (!t || !fs || !w) return gf_errorf(GF_ERR_ARG, "fairshare: jobs_order: NULL tree, results or weights");
    if (n < 0 || (n > 0 && (!jobs || !out)))
        return gf_errorf(GF_ERR_ARG, "fairshare: jobs_order: bad job list (n = %d)", n);
    if (!isfinite(w->w_age) || w->w_age < 0 || !isfinite(w->w_fairshare) || w->w_fairshare < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: weights (age %g, fairshare %g) must be finite and >= 0",
                         w->w_age, w->w_fairshare);
    if (!isfinite(w->max_age_s) || w->max_age_s < 0)
        return gf_errorf(GF_ERR_ARG, "fairshare: max age %g s must be finite and >= 0", w->max_age_s);
    if (!isfinite(now)) return gf_errorf(GF_ERR_ARG, "fairshare: jobs_order: time now is not finite");
    for (int i = 0; i < n; i++) {
        const gf_fs_job *j = &jobs[i];
        if (j->user < 0 || j->user >= t->n || t->nodes[j->user].kind != GF_FS_USER)
            return gf_errorf(GF_ERR_ARG, "fairshare: job %lld: node %d is not a user of the tree",
                             (long long)j->job_id, j->user);
        if (!isfinite(j->submit_time))
            return gf_errorf(GF_ERR_ARG, "fairshare: job %lld: submit time is not finite", (long long)j->job_id);
        double f = fs[j->user].fs_factor;
        if (!(f >= 0 && f <= 1))
            return gf_errorf(GF_ERR_ARG, "fairshare: job %lld: fair-share factor %g of user '%s' is not in [0, 1]",
                             (long long)j->job_id, f, t->nodes[j->user].name);
        gf_fs_job_priority *o = &out[i];
        o->job_id = j->job_id;
        o->user = j->user;
        o->submit_time = j->submit_time;
        o->age_factor = gf_fs_age_factor(now - j->submit_time, w->max_age_s);
        o->fs_factor = f;
        o->priority = w->w_age * o->age_factor + w->w_fairshare * o->fs_factor;
    }
    if (n > 1) qsort(out, (size_t)n, sizeof *out, prio_cmp);
    return GF_OK;
}
