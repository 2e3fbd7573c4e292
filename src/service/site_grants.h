/* Sites granted to tenants (table site_grants, schema version 4). A site
 * (a data holder running gf site, known by its certificate's name) serves
 * only the operator's own jobs and the jobs of the tenants the operator has
 * granted it to: a tenant's federated job may name only granted sites, and
 * with "sites": "all" it uses only those (the coordinator checks both at
 * submission and again each round, so a revoked grant takes effect at the
 * next round). The site's own policy (gf site --allow-tenant) comes on top.
 *
 * A grant is (site, tenant); granting twice is the same grant. Site names
 * follow the PKI's rules (net/pki.h); whether the site was ever issued a
 * kit is the caller's check (the store does not know the CA). */
#ifndef GF_SERVICE_SITE_GRANTS_H
#define GF_SERVICE_SITE_GRANTS_H

#include <stdint.h>
#include "core/error.h"
#include "service/store.h"

typedef struct {
    char    site[GF_STORE_NAME_MAX + 1];
    int64_t tenant_id;
    char    tenant[GF_STORE_NAME_MAX + 1];
    char    granted_at[GF_STORE_TIME_LEN + 1];
} gf_site_grant;

/* Grants site to the existing tenant `tenant` (GF_ERR_ARG: bad site name or
 * no such tenant). *added (may be NULL): 1 when new, 0 when it was there. */
gf_status gf_store_site_grant(gf_store *s, const char *site, const char *tenant, int *added);

/* Takes the grant back: GF_ERR_ARG when there was none (naming both). */
gf_status gf_store_site_revoke(gf_store *s, const char *site, const char *tenant);

/* The grants of tenant_id (0: every tenant), by tenant name then site. */
typedef int (*gf_site_grant_fn)(const gf_site_grant *g, void *ctx);
gf_status gf_store_site_grants(gf_store *s, int64_t tenant_id, gf_site_grant_fn fn, void *ctx);

#endif
