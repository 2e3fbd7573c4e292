/* Tenants of the facility and their API tokens, in the coordinator's store
 * (tables tenants and tokens, schema version 2).
 *
 * A tenant has a name (1..64 of [A-Za-z0-9._-]), raw fair-share shares
 * (>= 1) and optional quotas in CPU core-seconds and GPU-seconds.
 *
 * A token is "gf_" + 43 base64url characters: 256 bits from the OS's CSPRNG
 * (libsodium). It is returned once, by gf_store_token_create, and only its
 * BLAKE2b-256 hash is stored (a token has full entropy, so a fast hash is
 * enough: nothing to brute-force). Roles: "member" (sees and changes only its
 * tenant's jobs, artifacts, logs and usage; needs a tenant) and "operator"
 * (everything; a tenant is optional). A token may expire and may be revoked;
 * either makes it fail gf_store_token_check with a message saying which. */
#ifndef GF_SERVICE_TENANTS_H
#define GF_SERVICE_TENANTS_H

#include <stdint.h>
#include "core/error.h"
#include "service/store.h"

#define GF_TOKEN_LEN 46            /* "gf_" + 43 characters */

typedef enum { GF_ROLE_MEMBER, GF_ROLE_OPERATOR } gf_role;

typedef struct {
    int64_t id;
    char    name[GF_STORE_NAME_MAX + 1];
    int64_t shares;
    double  quota_cpu_s, quota_gpu_s;       /* NaN: no quota */
    char    created_at[GF_STORE_TIME_LEN + 1];
} gf_store_tenant;

/* Who a token belongs to. */
typedef struct {
    int64_t token_id;
    gf_role role;
    int64_t tenant_id;                       /* 0: none (operators only) */
    char    tenant[GF_STORE_NAME_MAX + 1];
} gf_store_principal;

const char *gf_role_name(gf_role r);         /* "member" / "operator" */
/* "member" / "operator" -> *out; GF_ERR_ARG otherwise. */
gf_status   gf_role_parse(const char *s, gf_role *out);
/* GF_OK if name is a valid tenant name, else GF_ERR_ARG naming the problem. */
gf_status   gf_tenant_name_check(const char *name);

/* Adds a tenant (GF_ERR_MISMATCH if the name is taken). quotas: NaN for none,
 * else finite >= 0. */
gf_status gf_store_tenant_add(gf_store *s, const char *name, int64_t shares, double quota_cpu_s,
                              double quota_gpu_s, int64_t *id);
/* Changes an existing tenant's shares and quotas (GF_ERR_ARG if none). */
gf_status gf_store_tenant_update(gf_store *s, const char *name, int64_t shares, double quota_cpu_s,
                                 double quota_gpu_s);
/* By name, or by id (GF_ERR_ARG if none). */
gf_status gf_store_tenant_get(gf_store *s, const char *name, gf_store_tenant *out);
gf_status gf_store_tenant_get_id(gf_store *s, int64_t id, gf_store_tenant *out);
typedef int (*gf_store_tenant_fn)(const gf_store_tenant *t, void *ctx);
/* Every tenant in name order. */
gf_status gf_store_tenants(gf_store *s, gf_store_tenant_fn fn, void *ctx);

/* A new token: token[] gets it (NUL-terminated), *id its id. tenant_id 0
 * only for operators. expires_in_s > 0: it stops working after that long;
 * 0: never. */
gf_status gf_store_token_create(gf_store *s, int64_t tenant_id, gf_role role, double expires_in_s,
                                char token[GF_TOKEN_LEN + 1], int64_t *id);
/* Who presented `token`: GF_ERR_ARG (with the reason: malformed, unknown,
 * expired, revoked) when it does not grant access. */
gf_status gf_store_token_check(gf_store *s, const char *token, gf_store_principal *out);
/* Revokes token id (GF_ERR_ARG if none; revoking twice is fine). */
gf_status gf_store_token_revoke(gf_store *s, int64_t id);
/* Number of live (unrevoked, unexpired) operator tokens. */
gf_status gf_store_operator_tokens(gf_store *s, int64_t *n);

#endif
