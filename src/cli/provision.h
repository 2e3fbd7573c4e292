/* gf provision: creates the federation's certificate authority, the
 * coordinator's certificate and the site kits; adds and revokes sites. */
#ifndef GF_CLI_PROVISION_H
#define GF_CLI_PROVISION_H

int cmd_provision(int argc, char **argv);

#endif
