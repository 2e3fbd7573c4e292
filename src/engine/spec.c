/* Parser for model spec strings (grammar in spec.h). */
#include "engine/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CNN_SPEC[] =
    "seq:1x28x28-conv32k5p2-relu-maxpool2-conv64k5p2-relu-maxpool2-flatten-linear128-relu-linear10";

/* Reads a positive decimal integer at *p; advances *p. Returns -1 if none. */
static long read_uint(const char **p)
{
    const char *s = *p;
    if (*s < '0' || *s > '9') return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v > 1000000000L) return -1;
        s++;
    }
    *p = s;
    return v;
}

static int starts(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0) return 0;
    *rest = s + n;
    return 1;
}

static gf_status bad_token(const char *tok, const char *why)
{
    return gf_errorf(GF_ERR_ARG, "model spec: bad layer \"%s\": %s", tok, why);
}

/* Appends a canonical token to out->canonical. */
static gf_status append(gf_spec *out, const char *tok)
{
    size_t len = strlen(out->canonical);
    if (len + strlen(tok) + 2 >= sizeof out->canonical)
        return gf_errorf(GF_ERR_ARG, "model spec: too long");
    if (len) out->canonical[len++] = '-';
    strcpy(out->canonical + len, tok);
    return GF_OK;
}

static gf_status parse_input(const char *tok, gf_spec *out)
{
    const char *p = tok;
    long a = read_uint(&p), b = 1, c = 1;
    int flat = 1;
    if (a > 0 && *p == 'x') {
        p++; b = read_uint(&p);
        if (*p != 'x') return gf_errorf(GF_ERR_ARG, "model spec: input \"%s\" must be N or CxHxW", tok);
        p++; c = read_uint(&p);
        flat = 0;
    }
    if (a <= 0 || b <= 0 || c <= 0 || *p || a * b * c > 100000000L)
        return gf_errorf(GF_ERR_ARG, "model spec: input \"%s\" must be N or CxHxW with positive sizes", tok);
    out->input_flat = flat;
    out->input = flat ? (gf_shape3){1, 1, (int)a} : (gf_shape3){(int)a, (int)b, (int)c};
    char buf[64];
    if (flat) snprintf(buf, sizeof buf, "%ld", a);
    else snprintf(buf, sizeof buf, "%ldx%ldx%ld", a, b, c);
    strcpy(out->canonical, "seq:");
    strcat(out->canonical, buf);
    return GF_OK;
}

/* Parses one layer token given the current shape; fills L and its canonical text. */
static gf_status parse_layer(const char *tok, gf_shape3 in, int flat, gf_layer_desc *L,
                             char *canon, size_t canon_size)
{
    const char *p;
    memset(L, 0, sizeof *L);
    L->in = in;
    L->flat_in = flat;
    if (starts(tok, "linear", &p)) {
        long n = read_uint(&p);
        if (n <= 0 || *p) return bad_token(tok, "expected linearN with N > 0");
        if (!flat) return bad_token(tok, "linear needs a flat input (add flatten before it)");
        L->type = GF_LAYER_LINEAR;
        L->units = (int)n;
        L->out = (gf_shape3){1, 1, (int)n};
        snprintf(canon, canon_size, "linear%ld", n);
    } else if (starts(tok, "conv", &p)) {
        long c = read_uint(&p), k = -1, s = 1, pad = 0;
        if (*p == 'k') { p++; k = read_uint(&p); }
        if (*p == 's') { p++; s = read_uint(&p); }
        if (*p == 'p') { p++; pad = read_uint(&p); }
        if (c <= 0 || k <= 0 || s <= 0 || pad < 0 || *p)
            return bad_token(tok, "expected convCkK[sS][pP], e.g. conv32k5p2");
        if (flat) return bad_token(tok, "conv needs a CxHxW input");
        long ho = (in.h + 2 * pad - k) / s + 1, wo = (in.w + 2 * pad - k) / s + 1;
        if (in.h + 2 * pad < k || in.w + 2 * pad < k || ho <= 0 || wo <= 0)
            return bad_token(tok, "kernel larger than the padded input");
        if (pad >= k) return bad_token(tok, "padding must be smaller than the kernel");
        if ((double)c * ho * wo > (double)GF_SPEC_MAX_NUMEL)
            return bad_token(tok, "its output is over 2^31 - 1 values per sample");
        L->type = GF_LAYER_CONV2D;
        L->units = (int)c; L->k = (int)k; L->stride = (int)s; L->pad = (int)pad;
        L->out = (gf_shape3){(int)c, (int)ho, (int)wo};
        int n = snprintf(canon, canon_size, "conv%ldk%ld", c, k);
        if (s != 1) n += snprintf(canon + n, canon_size - n, "s%ld", s);
        if (pad != 0) snprintf(canon + n, canon_size - n, "p%ld", pad);
    } else if (starts(tok, "maxpool", &p)) {
        long k = read_uint(&p), s;
        if (*p == 's') { p++; s = read_uint(&p); } else s = k;
        if (k <= 0 || s <= 0 || *p) return bad_token(tok, "expected maxpoolK[sS], e.g. maxpool2");
        if (flat) return bad_token(tok, "maxpool needs a CxHxW input");
        if (in.h < k || in.w < k) return bad_token(tok, "window larger than the input");
        L->type = GF_LAYER_MAXPOOL2D;
        L->k = (int)k; L->stride = (int)s;
        L->out = (gf_shape3){in.c, (int)((in.h - k) / s + 1), (int)((in.w - k) / s + 1)};
        if (s == k) snprintf(canon, canon_size, "maxpool%ld", k);
        else snprintf(canon, canon_size, "maxpool%lds%ld", k, s);
    } else if (starts(tok, "dropout", &p)) {
        char *end;
        double prob = strtod(p, &end);
        if (end == p || *end || !(prob >= 0.0 && prob < 1.0))
            return bad_token(tok, "expected dropoutP with 0 <= P < 1, e.g. dropout0.5");
        L->type = GF_LAYER_DROPOUT;
        L->p = (float)prob;
        L->out = in;
        snprintf(canon, canon_size, "dropout%g", prob);
    } else if (!strcmp(tok, "relu") || !strcmp(tok, "gelu") || !strcmp(tok, "layernorm")) {
        L->type = !strcmp(tok, "relu") ? GF_LAYER_RELU
                : !strcmp(tok, "gelu") ? GF_LAYER_GELU : GF_LAYER_LAYERNORM;
        L->out = in;
        snprintf(canon, canon_size, "%s", tok);
    } else if (!strcmp(tok, "flatten")) {
        L->type = GF_LAYER_FLATTEN;
        L->out = (gf_shape3){1, 1, (int)gf_shape3_numel(in)};
        snprintf(canon, canon_size, "flatten");
    } else {
        return bad_token(tok, "unknown layer (known: linearN, convCkK[sS][pP], maxpoolK[sS], "
                              "relu, gelu, flatten, dropoutP, layernorm)");
    }
    return GF_OK;
}

/* A layer's parameters (weight + bias, as the model lays them out; see
 * model.h), in double so that absurd sizes cannot overflow. */
static double layer_params(const gf_layer_desc *L)
{
    double in = (double)L->in.c * L->in.h * L->in.w;
    if (L->type == GF_LAYER_LINEAR) return (double)L->units * in + L->units;
    if (L->type == GF_LAYER_CONV2D) return (double)L->units * L->in.c * L->k * L->k + L->units;
    if (L->type == GF_LAYER_LAYERNORM) return 2 * in;
    return 0;
}

static gf_status parse_seq(const char *body, const char *orig, gf_spec *out)
{
    char buf[GF_SPEC_MAX_LEN];
    if (strlen(body) >= sizeof buf) return gf_errorf(GF_ERR_ARG, "model spec: too long");
    strcpy(buf, body);
    char *save = NULL, *tok = strtok_r(buf, "-", &save);
    if (!tok) return gf_errorf(GF_ERR_ARG, "model spec \"%s\": empty", orig);
    gf_status st = parse_input(tok, out);
    if (st) return st;
    gf_shape3 shape = out->input;
    int flat = out->input_flat;
    double params = 0;
    out->nlayers = 0;
    while ((tok = strtok_r(NULL, "-", &save))) {
        if (out->nlayers >= GF_SPEC_MAX_LAYERS)
            return gf_errorf(GF_ERR_ARG, "model spec: more than %d layers", GF_SPEC_MAX_LAYERS);
        gf_layer_desc *L = &out->layers[out->nlayers];
        char canon[64];
        if ((st = parse_layer(tok, shape, flat, L, canon, sizeof canon))) return st;
        if ((double)L->out.c * L->out.h * L->out.w > (double)GF_SPEC_MAX_NUMEL)
            return bad_token(tok, "its output is over 2^31 - 1 values per sample");
        params += layer_params(L);
        if (params > (double)GF_SPEC_MAX_PARAMS)
            return bad_token(tok, "the model is over 2^40 parameters with it");
        if ((st = append(out, canon))) return st;
        shape = L->out;
        flat = flat || L->type == GF_LAYER_FLATTEN;
        out->nlayers++;
    }
    if (out->nlayers == 0)
        return gf_errorf(GF_ERR_ARG, "model spec \"%s\": no layers after the input", orig);
    if (!flat || shape.w < 2)
        return gf_errorf(GF_ERR_ARG, "model spec \"%s\": the last layer must output a flat vector "
                         "of at least 2 class logits (end with linearN)", orig);
    out->nparams = (int64_t)params;
    return GF_OK;
}

/* Refuses a body with an empty layer: strtok_r would skip it silently, so
 * "mlp:784--10" would build a 784-10 model instead of saying what is wrong. */
static gf_status check_nonempty(const char *body, const char *orig)
{
    if (!*body) return gf_errorf(GF_ERR_ARG, "model spec \"%s\": empty (no input size and no layers)", orig);
    const char *tok = body;                     /* start of token number pos (1-based) */
    for (int pos = 1;; pos++) {
        const char *end = tok + strcspn(tok, "-");
        if (end == tok)
            return gf_errorf(GF_ERR_ARG, "model spec \"%s\": empty layer at position %d "
                             "(a leading, trailing or doubled \"-\")", orig, pos);
        if (!*end) break;
        tok = end + 1;
    }
    return GF_OK;
}

/* mlp:A-B-...-Z -> seq:A-linearB-relu-...-linearZ */
static gf_status expand_mlp(const char *body, const char *orig, char *seq, size_t size)
{
    char buf[GF_SPEC_MAX_LEN];
    if (strlen(body) >= sizeof buf) return gf_errorf(GF_ERR_ARG, "model spec: too long");
    strcpy(buf, body);
    char *save = NULL, *tok = strtok_r(buf, "-", &save);
    int n = 0;
    size_t len = (size_t)snprintf(seq, size, "seq:");
    for (; tok; tok = strtok_r(NULL, "-", &save), n++) {
        const char *p = tok;
        long v = read_uint(&p);
        if (v <= 0 || *p)
            return gf_errorf(GF_ERR_ARG, "model spec \"%s\": \"%s\" is not a positive layer width", orig, tok);
        len += (size_t)snprintf(seq + len, len < size ? size - len : 0,
                                n == 0 ? "%ld" : n == 1 ? "-linear%ld" : "-relu-linear%ld", v);
    }
    if (n < 2) return gf_errorf(GF_ERR_ARG, "model spec \"%s\": an mlp needs at least two widths, "
                                "e.g. mlp:784-256-10", orig);
    if (len >= size) return gf_errorf(GF_ERR_ARG, "model spec: too long");
    return GF_OK;
}

/* gpt:L=..,H=..,C=..,T=..,V=.. (keys in any order, each once) */
static gf_status parse_gpt(const char *body, const char *orig, gf_spec *out)
{
    static const char KEYS[] = "LHCTV";
    static const long MAX[] = { 1000, 1024, 65536, 1 << 20, 1 << 24 };
    long v[5] = { -1, -1, -1, -1, -1 };
    const char *p = body;
    while (*p) {
        const char *k = strchr(KEYS, *p);
        if (!k || p[1] != '=')
            return gf_errorf(GF_ERR_ARG, "model spec \"%s\": expected KEY=N with KEY one of L, H, C, T, V "
                             "(e.g. gpt:L=12,H=12,C=768,T=1024,V=50257)", orig);
        int i = (int)(k - KEYS);
        if (v[i] >= 0) return gf_errorf(GF_ERR_ARG, "model spec \"%s\": %c given twice", orig, *k);
        p += 2;
        v[i] = read_uint(&p);
        if (v[i] <= 0 || v[i] > MAX[i])
            return gf_errorf(GF_ERR_ARG, "model spec \"%s\": %c must be an integer in 1..%ld", orig, *k, MAX[i]);
        if (*p == ',') p++;
        else if (*p) return gf_errorf(GF_ERR_ARG, "model spec \"%s\": expected ',' after %c=%ld", orig, *k, v[i]);
    }
    for (int i = 0; i < 5; i++)
        if (v[i] < 0) return gf_errorf(GF_ERR_ARG, "model spec \"%s\": %c= is missing (a gpt spec needs "
                                       "L, H, C, T and V)", orig, KEYS[i]);
    if (v[2] % v[1]) return gf_errorf(GF_ERR_ARG, "model spec \"%s\": C=%ld is not a multiple of H=%ld",
                                      orig, v[2], v[1]);
    if (v[0] * 12 * v[2] * v[2] + v[4] * v[2] + v[3] * v[2] > (1LL << 33))
        return gf_errorf(GF_ERR_ARG, "model spec \"%s\": more than 8G parameters", orig);
    out->arch = GF_ARCH_GPT;
    out->gpt = (gf_gpt_dims){ (int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4] };
    out->input = (gf_shape3){ 1, 1, (int)v[3] };
    out->input_flat = 1;
    /* wte (V, C), wpe (T, C); per block ln_1 2C, c_attn 3C*C + 3C, attn c_proj C*C + C,
     * ln_2 2C, c_fc 4C*C + 4C, mlp c_proj 4C*C + C; ln_f 2C (the head is tied to wte) */
    out->nparams = v[4] * v[2] + v[3] * v[2] + v[0] * (12 * v[2] * v[2] + 13 * v[2]) + 2 * v[2];
    snprintf(out->canonical, sizeof out->canonical, "gpt:L=%ld,H=%ld,C=%ld,T=%ld,V=%ld",
             v[0], v[1], v[2], v[3], v[4]);
    return GF_OK;
}

gf_status gf_spec_parse(const char *text, gf_spec *out)
{
    const char *body;
    memset(out, 0, sizeof *out);
    if (!text || !*text) return gf_errorf(GF_ERR_ARG, "model spec is empty");
    if (!strcmp(text, "cnn")) return parse_seq(CNN_SPEC + 4, text, out);
    if (starts(text, "seq:", &body)) {
        gf_status st = check_nonempty(body, text);
        return st ? st : parse_seq(body, text, out);
    }
    if (starts(text, "gpt:", &body)) return parse_gpt(body, text, out);
    if (starts(text, "mlp:", &body)) {
        char seq[GF_SPEC_MAX_LEN];
        gf_status st = check_nonempty(body, text);
        if (!st) st = expand_mlp(body, text, seq, sizeof seq);
        return st ? st : parse_seq(seq + 4, text, out);
    }
    return gf_errorf(GF_ERR_ARG, "model spec \"%s\" does not parse: expected cnn, mlp:A-B-..., "
                     "seq:INPUT-LAYER-... or gpt:L=..,H=..,C=..,T=..,V=.. (see gf train --help)", text);
}
