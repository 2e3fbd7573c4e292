/* The federation's and the facility's subcommands: gf coordinator, gf site,
 * gf submit / status / cancel / download, gf tenant / token / usage / logs /
 * queue. */
#ifndef GF_CLI_FED_H
#define GF_CLI_FED_H

int cmd_coordinator(int argc, char **argv);
int cmd_site(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_download(int argc, char **argv);
/* the facility (facility.c) */
int cmd_tenant(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_site_grant(int argc, char **argv);      /* site_grants.c */
int cmd_token(int argc, char **argv);
int cmd_usage(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_queue(int argc, char **argv);

/* How API commands reach the coordinator (jobs.c). */
#include <getopt.h>
#include <stddef.h>
typedef struct {
    const char *kit, *url, *token, *ca;
    int json;
    const char *out;
} cli_api;
/* Parses the connection options (and `extra`, handed to on_extra, which
 * returns 0 when it took the option); expects npos positional arguments.
 * Returns the index of the first positional argument, or -1 (message
 * printed). */
int cli_api_parse(const char *cmd, int argc, char **argv, cli_api *a, const char *usage, int npos,
                  const struct option *extra, int (*on_extra)(int opt, const char *arg, void *ctx), void *ctx);
/* One request; prints the coordinator's error and returns -1 unless 2xx. */
int cli_api_call(const char *cmd, const cli_api *a, const char *method, const char *path, const void *body,
                 size_t len, char **resp, size_t *resp_len);

#endif
