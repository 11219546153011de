/*
 * check.h - a minimal harness for the C unit tests of the reactor core.
 *
 * CHECK() counts and reports failures without stopping; each test program
 * ends with CHECK_DONE(), which prints "N passed, N failed" and exits
 * non-zero if anything failed.
 */
#ifndef CP_TEST_CHECK_H
#define CP_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);              \
        if (va_ == vb_) {                                                  \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",\
                    __FILE__, __LINE__, #a, #b, va_, vb_);                 \
        }                                                                  \
    } while (0)

#define CHECK_DONE(name)                                                   \
    do {                                                                   \
        printf("%s: %d passed, %d failed\n", name, check_passed,           \
               check_failed);                                              \
        return check_failed ? 1 : 0;                                       \
    } while (0)

#endif
