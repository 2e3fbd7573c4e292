/* Sites granted to tenants (site_grants.h): the rows of site_grants. */
#include "service/site_grants.h"

#include <stdio.h>
#include <string.h>
#include "net/pki.h"
#include "service/store_internal.h"

/* The tenant's id inside an open transaction: GF_ERR_ARG when none. */
static gf_status tenant_id_of(gf_store *s, const char *tenant, int64_t *id)
{
    int found = 0;
    gf_status e = store_query_int(s, "find tenant", id, &found, "SELECT id FROM tenants WHERE name = ?", "t", tenant);
    if (!e && !found) e = gf_errorf(GF_ERR_ARG, "no tenant \"%s\"", tenant);
    return e;
}

static gf_status check_args(const char *site, const char *tenant)
{
    if (!tenant || !*tenant) return gf_errorf(GF_ERR_ARG, "no tenant given");
    if (gf_pki_check_name(site ? site : "")) return gf_errorf(GF_ERR_ARG, "site: %s", gf_last_error());
    return GF_OK;
}

gf_status gf_store_site_grant(gf_store *s, const char *site, const char *tenant, int *added)
{
    if (added) *added = 0;
    gf_status e = check_args(site, tenant);
    if (e || (e = store_tx_begin(s, 1))) return e;
    int64_t tid = 0;
    e = tenant_id_of(s, tenant, &tid);
    if (!e) e = store_run(s, "grant site", "INSERT OR IGNORE INTO site_grants(site, tenant_id, granted_at) "
                          "VALUES(?, ?, " STORE_NOW ")", "ti", site, tid);
    if (!e && added) *added = sqlite3_changes(s->db) > 0;
    return store_tx_end(s, e);
}

gf_status gf_store_site_revoke(gf_store *s, const char *site, const char *tenant)
{
    gf_status e = check_args(site, tenant);
    if (e || (e = store_tx_begin(s, 1))) return e;
    int64_t tid = 0;
    e = tenant_id_of(s, tenant, &tid);
    if (!e) e = store_run(s, "revoke site", "DELETE FROM site_grants WHERE site = ? AND tenant_id = ?", "ti", site, tid);
    if (!e && sqlite3_changes(s->db) == 0)
        e = gf_errorf(GF_ERR_ARG, "site \"%s\" is not granted to tenant \"%s\"", site, tenant);
    return store_tx_end(s, e);
}

gf_status gf_store_site_grants(gf_store *s, int64_t tenant_id, gf_site_grant_fn fn, void *ctx)
{
    s = store_reader(s);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "read site grants",
                             "SELECT g.site, g.tenant_id, t.name, g.granted_at FROM site_grants g"
                             " JOIN tenants t ON t.id = g.tenant_id WHERE ?1 = 0 OR g.tenant_id = ?1"
                             " ORDER BY t.name, g.site", "i", tenant_id);
    if (!e) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_site_grant g;
            memset(&g, 0, sizeof g);
            store_copy_text(g.site, sizeof g.site, st, 0);
            g.tenant_id = sqlite3_column_int64(st, 1);
            store_copy_text(g.tenant, sizeof g.tenant, st, 2);
            store_copy_text(g.granted_at, sizeof g.granted_at, st, 3);
            if (fn(&g, ctx)) { rc = SQLITE_DONE; break; }
        }
        if (rc != SQLITE_DONE) e = store_db_err(s, "read site grants");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}
