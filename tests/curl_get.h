/* Test helper: one GET with libcurl directly, bypassing gf's client, so a
 * test can present any key and certificate (or none) to a server. */
#ifndef GF_TESTS_CURL_GET_H
#define GF_TESTS_CURL_GET_H

#include <string.h>
#include <curl/curl.h>

typedef struct { char *buf; size_t len, cap; } curl_get_sink;

static size_t curl_get_write(char *p, size_t sz, size_t n, void *ud)
{
    curl_get_sink *s = ud;
    size_t k = sz * n, room = s->cap - 1 - s->len;
    if (k < room) room = k;
    memcpy(s->buf + s->len, p, room);
    s->len += room;
    s->buf[s->len] = 0;
    return k;
}

/* GET url trusting ca_file, with key/crt as client identity when key is not
 * NULL. Returns the HTTP status (0 if none); *rc_out gets curl's result and
 * body[cap] the start of the response body. */
static long curl_get(const char *url, const char *ca_file, const char *key, const char *crt, CURLcode *rc_out,
                     char *body, size_t cap)
{
    CURL *h = curl_easy_init();
    curl_get_sink s = { body, 0, cap };
    body[0] = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_get_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    if (key) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, key);
        curl_easy_setopt(h, CURLOPT_SSLCERT, crt);
    }
    long code = 0;
    *rc_out = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    return code;
}

#endif
