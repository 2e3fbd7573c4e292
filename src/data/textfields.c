/* Splitting the lines of a text table held in memory into fields (the
 * genotype readers' .fam, .bim and phenotype files). */
#include "data/genome.h"

#include <string.h>

int gf_text_fields(char **cursor, const char *end, char sep, char **fields, int max, int64_t *line_len)
{
    char *p = *cursor;
    if (p >= end) return -1;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *eol = nl ? nl : (char *)end;
    *cursor = nl ? nl + 1 : (char *)end;
    *line_len = eol - p;
    if (eol > p && eol[-1] == '\r') eol--;
    *eol = '\0';
    int n = 0;
    if (sep) {
        if (eol == p) return 0;
        for (char *f = p;;) {
            char *s = memchr(f, sep, (size_t)(eol - f));
            if (s) *s = '\0';
            if (n < max) fields[n] = f;
            n++;
            if (!s) break;
            f = s + 1;
        }
        return n;
    }
    for (char *f = p; f < eol;) {
        while (f < eol && (*f == ' ' || *f == '\t')) f++;
        if (f == eol) break;
        char *s = f;
        while (s < eol && *s != ' ' && *s != '\t') s++;
        *s = '\0';
        if (n < max) fields[n] = f;
        n++;
        f = s + 1;
    }
    return n;
}
