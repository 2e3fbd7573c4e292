/* gf provision: argument parsing and printing around net/pki (create the CA
 * and kits, add a site, revoke a site). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/provision.h"
#include "net/pki.h"

static void provision_usage(FILE *f)
{
    fputs("usage: gf provision --out DIR --coordinator HOST[:PORT] [--sites a,b,c]\n"
          "       gf provision --out DIR --add-site NAME\n"
          "       gf provision --out DIR --revoke NAME\n"
          "\n"
          "Creates the identities of a federation (TLS 1.3, mutual certificate authentication):\n"
          "a certificate authority, the coordinator's certificate and one kit folder per site.\n"
          "\n"
          "  --out DIR            provisioning folder (created 0700; must be new or empty)\n"
          "  --coordinator HOST   the coordinator's DNS name or IP address, optionally :PORT\n"
          "                       (default port 8443; IPv6 as [ADDR]:PORT)\n"
          "  --sites a,b,c        site names: 1..64 characters of a-z, 0-9 and '-'\n"
          "  --add-site NAME      issue a kit for one more site of DIR\n"
          "  --revoke NAME        revoke a site: re-signs DIR/ca/crl.pem and DIR/coordinator/crl.pem,\n"
          "                       which the coordinator reloads without a restart\n"
          "\n"
          "Give DIR/coordinator/ to the coordinator and DIR/sites/NAME/ to site NAME over a\n"
          "secure channel; keep DIR/ca/ (the CA's key) offline. DIR/operator/ is the operator\n"
          "kit (a client certificate for gf submit, status, ... --kit DIR/operator).\n", f);
}

/* Splits "a,b,c" in place into names[]; returns the count, -1 on an empty element. */
static int split_sites(char *list, const char **names)
{
    int n = 0;
    for (char *p = list;; p++) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (!*p) return -1;
        names[n++] = p;
        if (!c) return n;
        p = c;
    }
}

static int print_kit_paths(const char *dir, const char *name)
{
    printf("site %-16s %s/sites/%s/ (%s, %s, %s, %s)\n", name, dir, name, GF_PKI_SITE_KEY, GF_PKI_SITE_CRT,
           GF_PKI_SITE_CA, GF_PKI_SITE_URL);
    return 0;
}

static int do_create(const char *dir, const char *coord, char *list)
{
    const char **names = NULL;
    int n = 0;
    if (list) {
        size_t cap = 1;
        for (const char *p = list; *p; p++) cap += *p == ',';
        if (!(names = malloc(cap * sizeof *names))) { fprintf(stderr, "gf provision: out of memory\n"); return 1; }
        if ((n = split_sites(list, names)) < 0) {
            fprintf(stderr, "gf provision: --sites has an empty name (expected a,b,c)\n");
            free(names);
            return 2;
        }
    }
    gf_status st = gf_pki_create(dir, coord, names, n);
    if (st) {
        fprintf(stderr, "gf provision: %s\n", gf_last_error());
        free(names);
        return 1;
    }
    printf("certificate authority %s/%s (key %s/%s: keep it offline)\n", dir, GF_PKI_CA_CRT, dir, GF_PKI_CA_KEY);
    printf("revocation list       %s/%s\n", dir, GF_PKI_CA_CRL);
    printf("coordinator           %s/coordinator/ (coordinator.key, coordinator.crt, ca.crt, crl.pem)\n", dir);
    printf("operator kit          %s/%s/ (%s, %s, %s, %s): the jobs API as the operator, e.g.\n"
           "                      GF_KIT=%s/%s gf status 1; keep it like the CA's key\n", dir, GF_PKI_OPERATOR,
           GF_PKI_SITE_KEY, GF_PKI_SITE_CRT, GF_PKI_SITE_CA, GF_PKI_SITE_URL, dir, GF_PKI_OPERATOR);
    for (int i = 0; i < n; i++) print_kit_paths(dir, names[i]);
    free(names);
    return 0;
}

int cmd_provision(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", 1, 0, 'o'}, {"coordinator", 1, 0, 'c'}, {"sites", 1, 0, 's'}, {"add-site", 1, 0, 'a'},
        {"revoke", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *dir = NULL, *coord = NULL, *add = NULL, *revoke = NULL;
    char *sites = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'c': coord = optarg; break;
        case 's': sites = optarg; break;
        case 'a': add = optarg; break;
        case 'r': revoke = optarg; break;
        case 'h': provision_usage(stdout); return 0;
        default:
            fprintf(stderr, "gf provision: unknown or incomplete option \"%s\" (see gf provision --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gf provision: unexpected argument \"%s\" (see gf provision --help)\n", argv[optind]);
        return 2;
    }
    if (!dir) { fprintf(stderr, "gf provision: --out DIR is required (see gf provision --help)\n"); return 2; }
    if (sites && !coord) { fprintf(stderr, "gf provision: --sites goes with --coordinator\n"); return 2; }
    if (!!coord + !!add + !!revoke != 1) {
        fprintf(stderr, "gf provision: give exactly one of --coordinator, --add-site, --revoke\n");
        return 2;
    }
    if (coord) return do_create(dir, coord, sites);

    gf_status st = add ? gf_pki_add_site(dir, add) : gf_pki_revoke(dir, revoke);
    if (st) { fprintf(stderr, "gf provision: %s\n", gf_last_error()); return 1; }
    if (add) return print_kit_paths(dir, add);
    printf("revoked site %s: %s/%s and %s/%s re-signed\n", revoke, dir, GF_PKI_CA_CRL, dir, GF_PKI_COORD_CRL);
    printf("the coordinator reloads its crl.pem without a restart (copy it there if it runs elsewhere)\n");
    return 0;
}
