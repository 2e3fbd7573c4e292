/* gf audit: checks the coordinator's hash-chained audit log and appends
 * entries to it by hand. */
#ifndef GF_CLI_AUDIT_H
#define GF_CLI_AUDIT_H

int cmd_audit(int argc, char **argv);

#endif
