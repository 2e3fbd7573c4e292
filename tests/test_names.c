/* Plain names (core/names.h): what may stand in a path, an account or a log
 * line, against the rule written out by hand: [A-Za-z0-9._-], 1..max
 * characters, not "." or "..". */
#include <stdio.h>
#include <string.h>
#include "check.h"
#include "core/names.h"

int main(void)
{
    static const char *good[] = { "a", "Z", "0", "acme", "Tenant-A", "tenant.a", "tenant_a", "a..b", "...", "-x" };
    static const char *bad[] = { "", ".", "..", "a/b", "../x", "a b", "a\nb", "a:b", "a\\b", "caf\xc3\xa9", "a;b",
                                 "$HOME", "*" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_MSG(gf_name_is_plain(good[i], 64), "\"%s\" refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(!gf_name_is_plain(bad[i], 64), "\"%s\" accepted", bad[i]);
    CHECK(!gf_name_is_plain(NULL, 64));
    /* the length bound, at its edge */
    char s[66];
    memset(s, 'x', sizeof s);
    s[64] = 0;
    CHECK(gf_name_is_plain(s, 64));
    s[64] = 'x', s[65] = 0;
    CHECK(!gf_name_is_plain(s, 64));
    /* every single byte: the 65 allowed characters pass, but "." alone */
    int passed = 0;
    for (int c = 1; c < 256; c++) {
        char one[2] = { (char)c, 0 };
        passed += gf_name_is_plain(one, 64);
    }
    CHECK_MSG(passed == 26 + 26 + 10 + 2, "%d single characters pass (want 64: letters, digits, _ and -; "
              "\".\" alone is refused)", passed);
    return check_summary();
}
