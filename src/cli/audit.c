/* gf audit: argument parsing and printing around service/audit (verify a
 * log's hash chain, append an entry). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "cli/audit.h"
#include "io/audit.h"

static void audit_usage(FILE *f)
{
    fputs("usage: gf audit verify FILE\n"
          "       gf audit append FILE --actor ACTOR --event EVENT [--detail JSON]\n"
          "\n"
          "The audit log is an append-only JSON-lines file; each entry carries the SHA-256 of\n"
          "the one before it, so an altered, removed or reordered entry breaks the chain.\n"
          "\n"
          "  verify FILE          check every entry and the chain; prints\n"
          "                       \"ok: N entries, last hash H\" (exit 0), or names the first\n"
          "                       bad line and why (exit 1); never changes FILE\n"
          "  append FILE          append one entry (creating FILE 0600 if missing); cuts off a\n"
          "                       torn final line left by a crash, recording it as\n"
          "                       \"audit.recovered\"; prints the new entry's seq\n"
          "  --actor ACTOR        who acted, e.g. operator or site:hospital-a\n"
          "  --event EVENT        what happened, a short token, e.g. site.revoked\n"
          "                       (ACTOR, EVENT: 1..128 printable ASCII bytes, no spaces)\n"
          "  --detail JSON        a JSON object with the particulars (default {})\n", f);
}

static int do_verify(int argc, char **argv)
{
    if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) { audit_usage(stdout); return 0; }
    if (argc != 3) {
        fprintf(stderr, "gf audit: verify takes one FILE (see gf audit --help)\n");
        return 2;
    }
    gf_audit_summary sum;
    if (gf_audit_verify(argv[2], &sum)) { fprintf(stderr, "gf audit: %s\n", gf_last_error()); return 1; }
    printf("ok: %" PRIu64 " entries, last hash %s\n", sum.entries, sum.last_hash);
    return 0;
}

static int do_append(int argc, char **argv)
{
    static const struct option opts[] = {
        {"actor", 1, 0, 'a'}, {"event", 1, 0, 'e'}, {"detail", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *actor = NULL, *event = NULL, *detail = NULL;
    int c;
    optind = 1;   /* argv[0] is "append" */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': actor = optarg; break;
        case 'e': event = optarg; break;
        case 'd': detail = optarg; break;
        case 'h': audit_usage(stdout); return 0;
        default:
            fprintf(stderr, "gf audit: unknown or incomplete option \"%s\" (see gf audit --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "gf audit: append takes one FILE (see gf audit --help)\n");
        return 2;
    }
    if (!actor || !event) {
        fprintf(stderr, "gf audit: append needs --actor and --event (see gf audit --help)\n");
        return 2;
    }
    const char *path = argv[optind];
    gf_audit *a;
    uint64_t seq = 0;
    gf_status st = gf_audit_open(path, &a);
    if (!st) {
        st = gf_audit_append(a, actor, event, detail, &seq);
        gf_audit_close(a);
    }
    if (st) { fprintf(stderr, "gf audit: %s\n", gf_last_error()); return 1; }
    printf("appended seq %" PRIu64 " to %s\n", seq, path);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2) { audit_usage(stderr); return 2; }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) { audit_usage(stdout); return 0; }
    if (!strcmp(sub, "verify")) return do_verify(argc, argv);
    if (!strcmp(sub, "append")) return do_append(argc - 1, argv + 1);
    fprintf(stderr, "gf audit: unknown action \"%s\": use verify or append (see gf audit --help)\n", sub);
    return 2;
}
