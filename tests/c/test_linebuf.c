/*
 * Line splitting: the rules of cp.h on fixed examples, then random inputs
 * fed in random chunks compared with a straightforward model, and the
 * discard-mode counter compared with the number of lines produced.
 */
#include "../../csrc/cp_int.h"
#include "check.h"

#include <string.h>

#define OUTMAX (1 << 16)

static int use_spare;   /* split(): read into the tail where it may */

/* Feed `in` in chunks of `step` bytes (0: one chunk), flush; return the
 * output (lines each followed by '\n') in out and its length. */
static size_t split(const char *in, size_t n, size_t step, size_t lm,
                    char *out, int64_t *nlines)
{
    static char scratch[OUTMAX];
    cp__linebuf lb;
    cp__lb_init(&lb);
    size_t w = 0;
    *nlines = 0;
    for (size_t off = 0; off < n;) {
        size_t k = step ? CP__MIN(step, n - off) : n;
        size_t bound = cp__lb_bound(&lb, k, lm);
        CHECK(bound + w <= OUTMAX);
        char *spare = use_spare ? cp__lb_spare(&lb, k, lm) : NULL;
        int64_t got;
        if (spare) {
            /* as a read() into the tail would */
            memcpy(spare, in + off, k);
            got = cp__lb_feed_spare(&lb, k, lm, scratch, out + w, nlines);
        } else {
            got = cp__lb_feed(&lb, in + off, k, lm, out + w, nlines);
        }
        /* the bound also leaves room for the final flush */
        CHECK(got >= 0 && (size_t)got + cp__lb_bound(&lb, 0, lm) <= bound + 2);
        w += (size_t)got;
        off += k;
        CHECK(lb.len <= lm + 1);
    }
    w += cp__lb_flush(&lb, lm, out + w, nlines);
    CHECK_EQ(lb.len, 0);
    cp__lb_free(&lb);
    return w;
}

/* The model: whole input at once, the rules applied literally. */
static size_t model(const char *in, size_t n, size_t lm, char *out,
                    int64_t *nlines)
{
    size_t w = 0, s = 0;
    *nlines = 0;
    while (s < n) {
        const char *nl = memchr(in + s, '\n', n - s);
        size_t e = nl ? (size_t)(nl - in) : n;
        size_t len = e - s;
        if (nl && len && in[e - 1] == '\r')
            len--;
        size_t p = 0;
        do {
            size_t k = CP__MIN(lm, len - p);
            memcpy(out + w, in + s + p, k);
            w += k;
            out[w++] = '\n';
            (*nlines)++;
            p += k;
        } while (p < len);
        s = nl ? e + 1 : n;
    }
    return w;
}

static int64_t count(const char *in, size_t n, size_t step, size_t lm)
{
    int64_t cur = 0, total = 0;
    int cr = 0;
    for (size_t off = 0; off < n;) {
        size_t k = step ? CP__MIN(step, n - off) : n;
        total += cp__lb_count(in + off, k, lm, &cur, &cr);
        off += k;
    }
    return total + cp__lb_count_flush(lm, &cur, &cr);
}

static void expect(const char *in, size_t lm, const char *want, int64_t nw)
{
    static char out[OUTMAX];
    size_t n = strlen(in);
    for (size_t step = 0; step <= n; step++) {
        int64_t nl;
        size_t w = split(in, n, step, lm, out, &nl);
        CHECK_EQ(w, strlen(want));
        CHECK(w == strlen(want) && memcmp(out, want, w) == 0);
        CHECK_EQ(nl, nw);
        CHECK_EQ(count(in, n, step, lm), nw);
    }
}

static void test_rules(void)
{
    expect("a\nb\n", 64, "a\nb\n", 2);
    expect("a\r\nb\r\n", 64, "a\nb\n", 2);          /* one \r trimmed */
    expect("a\r\r\n", 64, "a\r\n", 1);              /* only one */
    expect("a\rb\nc\r", 64, "a\rb\nc\r\n", 2);      /* bare \r stays */
    expect("partial", 64, "partial\n", 1);          /* final line at EOF */
    expect("\n\n", 64, "\n\n", 2);                  /* empty lines */
    expect("", 64, "", 0);
    expect("\r\n", 64, "\n", 1);
    /* over-long lines in pieces of line_max (here 4) */
    expect("abcdefghij\n", 4, "abcd\nefgh\nij\n", 3);
    expect("abcdefgh\n", 4, "abcd\nefgh\n", 2);     /* exact multiple */
    expect("abcd\r\n", 4, "abcd\n", 1);             /* \r not counted */
    expect("abcd\rx\n", 4, "abcd\n\rx\n", 2);
    expect("abcdefghi", 4, "abcd\nefgh\ni\n", 3);   /* long partial */
    expect("abcd\r", 4, "abcd\n\r\n", 2);           /* no \n: \r stays */
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245 + 12345;
    return rnd_state >> 8;
}

static void test_random(void)
{
    static char in[4096], got[OUTMAX], want[OUTMAX];
    static const char alphabet[] = "ab\r\n\n\r\rxyz";
    int ok = 1;
    for (int round = 0; round < 3000; round++) {
        size_t n = rnd() % sizeof(in);
        /* one round in four: lines never too long and no '\r' (fast paths) */
        int plain = round % 4 == 1;
        size_t lm = plain ? 5000 : 1 + rnd() % 40;
        for (size_t i = 0; i < n; i++) {
            in[i] = rnd() % 4 ? alphabet[rnd() % 10] : 'q';
            if (plain && in[i] == '\r')
                in[i] = 'r';
        }
        if (round % 3 == 0)     /* some long lines */
            for (size_t i = 0; i < n; i++)
                if (in[i] == '\n' && rnd() % 8)
                    in[i] = 'L';
        size_t step = rnd() % 3 ? 1 + rnd() % 100 : 0;
        use_spare = round % 2;
        if (use_spare && round % 4 == 1)
            lm = 50 + rnd() % 4000;     /* long tails, under line_max */
        int64_t nw, ng;
        size_t w = model(in, n, lm, want, &nw);
        size_t g = split(in, n, step, lm, got, &ng);
        if (g != w || memcmp(got, want, w) != 0 || ng != nw
            || count(in, n, step, lm) != nw) {
            ok = 0;
            fprintf(stderr, "mismatch: round %d n=%zu lm=%zu step=%zu\n",
                    round, n, lm, step);
            break;
        }
    }
    CHECK(ok);
}

static void test_tail_memory(void)
{
    /* a short tail lives inline; a long one on the heap, given back */
    static char out[OUTMAX];
    cp__linebuf lb;
    cp__lb_init(&lb);
    int64_t nl = 0;
    cp__lb_feed(&lb, "short", 5, 1024, out, &nl);
    CHECK(lb.buf == lb.inl);
    char big[500];
    memset(big, 'x', sizeof(big));
    cp__lb_feed(&lb, big, sizeof(big), 1024, out, &nl);
    CHECK(lb.buf != lb.inl);
    CHECK_EQ(lb.len, 505);
    int64_t k = cp__lb_feed(&lb, "\nend", 4, 1024, out, &nl);
    CHECK_EQ(k, 506);
    CHECK(lb.buf == lb.inl);
    CHECK_EQ(lb.len, 3);
    CHECK_EQ(nl, 1);
    cp__lb_free(&lb);
}

static void test_spare(void)
{
    /* a long line read straight into its tail: no output until its '\n' */
    static char out[OUTMAX], scratch[OUTMAX];
    cp__linebuf lb;
    cp__lb_init(&lb);
    int64_t nl = 0;
    char big[300];
    memset(big, 'x', sizeof(big));
    CHECK(cp__lb_spare(&lb, 100, 1024) == NULL);     /* short tail: no */
    cp__lb_feed(&lb, big, 100, 1024, out, &nl);
    char *sp = cp__lb_spare(&lb, 200, 1024);
    CHECK(sp == lb.buf + 100);
    memcpy(sp, big, 200);
    CHECK_EQ(cp__lb_feed_spare(&lb, 200, 1024, scratch, out, &nl), 0);
    CHECK_EQ(lb.len, 300);
    CHECK(cp__lb_spare(&lb, 800, 1024) == NULL);     /* would pass line_max */
    sp = cp__lb_spare(&lb, 4, 1024);
    memcpy(sp, "y\r\nz", 4);
    CHECK_EQ(cp__lb_feed_spare(&lb, 4, 1024, scratch, out, &nl), 302);
    CHECK(out[299] == 'x' && out[300] == 'y' && out[301] == '\n');
    CHECK_EQ(nl, 1);
    CHECK_EQ(lb.len, 1);
    cp__lb_free(&lb);
}

int main(void)
{
    test_rules();
    test_spare();
    test_random();
    test_tail_memory();
    CHECK_DONE("test_linebuf");
}
