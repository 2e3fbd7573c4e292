/* The federation's subcommands: gf coordinator, gf site, and the operator's
 * gf submit / status / cancel / download. */
#ifndef GF_CLI_FED_H
#define GF_CLI_FED_H

int cmd_coordinator(int argc, char **argv);
int cmd_site(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_download(int argc, char **argv);

#endif
