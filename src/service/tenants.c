/* Tenants and API tokens in the store (see tenants.h): the token format, its
 * hash, and the rows of the tenants and tokens tables. */
#include "service/tenants.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "service/store_internal.h"
#include "core/names.h"

#define TOKEN_BYTES 32
#define TOKEN_PREFIX "gf_"

const char *gf_role_name(gf_role r) { return r == GF_ROLE_OPERATOR ? "operator" : "member"; }

gf_status gf_role_parse(const char *s, gf_role *out)
{
    if (s && !strcmp(s, "member")) { *out = GF_ROLE_MEMBER; return GF_OK; }
    if (s && !strcmp(s, "operator")) { *out = GF_ROLE_OPERATOR; return GF_OK; }
    return gf_errorf(GF_ERR_ARG, "role must be \"member\" or \"operator\", got \"%s\"", s ? s : "");
}

gf_status gf_tenant_name_check(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > GF_STORE_NAME_MAX)
        return gf_errorf(GF_ERR_ARG, "tenant name must be 1..%d characters", GF_STORE_NAME_MAX);
    if (!strcmp(name, ".") || !strcmp(name, "..")) return gf_errorf(GF_ERR_ARG, "tenant name cannot be \"%s\"", name);
    if (!gf_name_is_plain(name, GF_STORE_NAME_MAX))
        return gf_errorf(GF_ERR_ARG, "tenant name \"%s\" has a character outside [A-Za-z0-9._-]", name);
    return GF_OK;
}

static gf_status check_quota(const char *what, double q)
{
    if (isnan(q) || (isfinite(q) && q >= 0)) return GF_OK;
    return gf_errorf(GF_ERR_ARG, "%s quota must be a finite number >= 0", what);
}

static gf_status check_tenant(const char *name, int64_t shares, double qc, double qg)
{
    gf_status e = gf_tenant_name_check(name);
    if (!e && (shares < 1 || shares > 1000000000)) e = gf_errorf(GF_ERR_ARG, "shares must be 1..1e9, got %lld", (long long)shares);
    if (!e) e = check_quota("cpu", qc);
    if (!e) e = check_quota("gpu", qg);
    return e;
}

/* NaN quotas are stored as NULL */
static gf_status bind_quota(gf_store *s, sqlite3_stmt *st, int col, double q)
{
    int rc = isnan(q) ? sqlite3_bind_null(st, col) : sqlite3_bind_double(st, col, q);
    return rc == SQLITE_OK ? GF_OK : store_db_err(s, "bind quota");
}

static gf_status tenant_write(gf_store *s, const char *sql, const char *what, const char *name, int64_t shares,
                              double qc, double qg)
{
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, what, sql, "ti", name, shares);
    if (e) return e;
    if (!(e = bind_quota(s, st, 3, qc)) && !(e = bind_quota(s, st, 4, qg))) {
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) e = store_db_err(s, what);
    }
    sqlite3_finalize(st);
    return e;
}

gf_status gf_store_tenant_add(gf_store *s, const char *name, int64_t shares, double qc, double qg, int64_t *id)
{
    gf_status e = check_tenant(name, shares, qc, qg);
    if (e) return e;
    if ((e = store_tx_begin(s, 1))) return e;
    int64_t old = 0;
    int found = 0;
    e = store_query_int(s, "find tenant", &old, &found, "SELECT id FROM tenants WHERE lower(name) = lower(?)", "t", name);
    if (!e && found) e = gf_errorf(GF_ERR_MISMATCH, "tenant \"%s\" exists already (names are unique regardless of case)", name);
    if (!e)
        e = tenant_write(s, "INSERT INTO tenants(name, shares, quota_cpu_s, quota_gpu_s, created_at) "
                         "VALUES(?, ?, ?, ?, " STORE_NOW ")", "add tenant", name, shares, qc, qg);
    int64_t new_id = sqlite3_last_insert_rowid(s->db);
    e = store_tx_end(s, e);
    if (!e && id) *id = new_id;
    return e;
}

gf_status gf_store_tenant_update(gf_store *s, const char *name, int64_t shares, double qc, double qg)
{
    gf_status e = check_tenant(name, shares, qc, qg);
    if (e) return e;
    if ((e = store_tx_begin(s, 1))) return e;
    e = tenant_write(s, "UPDATE tenants SET shares = ?2, quota_cpu_s = ?3, quota_gpu_s = ?4 WHERE name = ?1",
                     "update tenant", name, shares, qc, qg);
    if (!e && sqlite3_changes(s->db) == 0) e = gf_errorf(GF_ERR_ARG, "no tenant \"%s\"", name);
    return store_tx_end(s, e);
}

#define TENANT_COLUMNS "SELECT id, name, shares, quota_cpu_s, quota_gpu_s, created_at FROM tenants "

static void tenant_from_row(sqlite3_stmt *st, gf_store_tenant *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    store_copy_text(t->name, sizeof t->name, st, 1);
    t->shares = sqlite3_column_int64(st, 2);
    t->quota_cpu_s = store_column_real(st, 3);
    t->quota_gpu_s = store_column_real(st, 4);
    store_copy_text(t->created_at, sizeof t->created_at, st, 5);
}

typedef struct { gf_store_tenant *out; int n; } one_tenant;

static int take_one(const gf_store_tenant *t, void *ctx)
{
    one_tenant *o = ctx;
    *o->out = *t;
    o->n++;
    return 1;
}

static gf_status tenant_query(gf_store *s, const char *sql, const char *types, const char *text, int64_t num,
                              gf_store_tenant_fn fn, void *ctx)
{
    s = store_reader(s);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = *types == 't' ? store_prep(s, &st, "read tenants", sql, types, text)
                : *types == 'i' ? store_prep(s, &st, "read tenants", sql, types, num)
                                : store_prep(s, &st, "read tenants", sql, "");
    if (!e) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_store_tenant t;
            tenant_from_row(st, &t);
            if (fn(&t, ctx)) { rc = SQLITE_DONE; break; }
        }
        if (rc != SQLITE_DONE) e = store_db_err(s, "read tenants");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

gf_status gf_store_tenant_get(gf_store *s, const char *name, gf_store_tenant *out)
{
    one_tenant o = {out, 0};
    gf_status e = tenant_query(s, TENANT_COLUMNS "WHERE name = ?", "t", name, 0, take_one, &o);
    if (!e && !o.n) e = gf_errorf(GF_ERR_ARG, "no tenant \"%s\"", name);
    return e;
}

gf_status gf_store_tenant_get_id(gf_store *s, int64_t id, gf_store_tenant *out)
{
    one_tenant o = {out, 0};
    gf_status e = tenant_query(s, TENANT_COLUMNS "WHERE id = ?", "i", NULL, id, take_one, &o);
    if (!e && !o.n) e = gf_errorf(GF_ERR_ARG, "no tenant %lld", (long long)id);
    return e;
}

gf_status gf_store_tenants(gf_store *s, gf_store_tenant_fn fn, void *ctx)
{
    return tenant_query(s, TENANT_COLUMNS "ORDER BY name", "", NULL, 0, fn, ctx);
}

/* ---- tokens ---------------------------------------------------------------- */

/* hex(BLAKE2b-256(token)) */
static void token_hash(const char *token, char hex[2 * 32 + 1])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hex, 2 * 32 + 1, h, sizeof h);
}

static int token_well_formed(const char *t)
{
    if (!t || strlen(t) != GF_TOKEN_LEN || strncmp(t, TOKEN_PREFIX, 3)) return 0;
    for (const char *p = t + 3; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_'))
            return 0;
    return 1;
}

gf_status gf_store_token_create(gf_store *s, int64_t tenant_id, gf_role role, double expires_in_s,
                                char token[GF_TOKEN_LEN + 1], int64_t *id)
{
    if (role == GF_ROLE_MEMBER && !tenant_id) return gf_errorf(GF_ERR_ARG, "a member token needs a tenant");
    if (!(expires_in_s >= 0 && expires_in_s <= 10 * 365.25 * 86400))
        return gf_errorf(GF_ERR_ARG, "expiry must be 0 (never) .. 10 years in seconds");
    if (sodium_init() < 0) return gf_errorf(GF_ERR_IO, "libsodium cannot initialise");
    unsigned char raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    memcpy(token, TOKEN_PREFIX, 3);
    sodium_bin2base64(token + 3, GF_TOKEN_LEN + 1 - 3, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    char hex[65];
    token_hash(token, hex);
    char expiry[32];
    snprintf(expiry, sizeof expiry, "+%.3f seconds", expires_in_s);
    gf_status e = store_tx_begin(s, 1);
    if (e) return e;
    int64_t known = 0;
    int found = 1;
    if (tenant_id)
        e = store_query_int(s, "find tenant", &known, &found, "SELECT id FROM tenants WHERE id = ?", "i", tenant_id);
    if (!e && !found) e = gf_errorf(GF_ERR_ARG, "no tenant %lld", (long long)tenant_id);
    if (!e)
        e = store_run(s, "add token",
                      "INSERT INTO tokens(hash, tenant_id, role, created_at, expires_at) VALUES(?, nullif(?, 0), ?, "
                      STORE_NOW ", CASE WHEN ? > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?) END)",
                      "titdt", hex, tenant_id, gf_role_name(role), expires_in_s, expiry);
    int64_t new_id = sqlite3_last_insert_rowid(s->db);
    e = store_tx_end(s, e);
    if (e) sodium_memzero(token, GF_TOKEN_LEN + 1);
    else if (id) *id = new_id;
    return e;
}

gf_status gf_store_token_check(gf_store *s, const char *token, gf_store_principal *out)
{
    s = store_reader(s);
    memset(out, 0, sizeof *out);
    if (!token_well_formed(token)) return gf_errorf(GF_ERR_ARG, "malformed token (expected gf_ and 43 characters)");
    char hex[65];
    token_hash(token, hex);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "check token",
                             "SELECT k.id, k.role, coalesce(k.tenant_id, 0), coalesce(t.name, ''), "
                             "k.revoked_at IS NOT NULL, k.expires_at IS NOT NULL AND k.expires_at <= " STORE_NOW
                             " FROM tokens k LEFT JOIN tenants t ON t.id = k.tenant_id WHERE k.hash = ?", "t", hex);
    if (!e) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) e = gf_errorf(GF_ERR_ARG, "unknown token");
        else if (rc != SQLITE_ROW) e = store_db_err(s, "check token");
        else if (sqlite3_column_int(st, 4)) e = gf_errorf(GF_ERR_ARG, "token revoked");   /* no id: the answer goes to whoever holds it */
        else if (sqlite3_column_int(st, 5)) e = gf_errorf(GF_ERR_ARG, "token expired");
        else {
            out->token_id = sqlite3_column_int64(st, 0);
            out->role = !strcmp((const char *)sqlite3_column_text(st, 1), "operator") ? GF_ROLE_OPERATOR : GF_ROLE_MEMBER;
            out->tenant_id = sqlite3_column_int64(st, 2);
            store_copy_text(out->tenant, sizeof out->tenant, st, 3);
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

gf_status gf_store_token_revoke(gf_store *s, int64_t id)
{
    gf_status e = store_tx_begin(s, 1);
    if (e) return e;
    e = store_run(s, "revoke token", "UPDATE tokens SET revoked_at = coalesce(revoked_at, " STORE_NOW ") WHERE id = ?",
                  "i", id);
    if (!e && sqlite3_changes(s->db) == 0) e = gf_errorf(GF_ERR_ARG, "no token %lld", (long long)id);
    return store_tx_end(s, e);
}

gf_status gf_store_operator_tokens(gf_store *s, int64_t *n)
{
    s = store_reader(s);
    int found;
    pthread_mutex_lock(&s->mu);
    gf_status e = store_query_int(s, "count operator tokens", n, &found,
                                  "SELECT count(*) FROM tokens WHERE role = 'operator' AND revoked_at IS NULL AND "
                                  "(expires_at IS NULL OR expires_at > " STORE_NOW ")", "");
    pthread_mutex_unlock(&s->mu);
    return e;
}
