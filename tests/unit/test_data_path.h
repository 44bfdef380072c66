/*
 * test_data_path.h - where the unit tests find tests/data (golden files): beside tests/unit in
 * the source tree, located from this header's own path, so a test runs from any directory.
 */
#ifndef KEEL_TEST_DATA_PATH_H
#define KEEL_TEST_DATA_PATH_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* The path of tests/data/<name> into out (n bytes). */
__attribute__((unused)) static void
data_path(char *out, size_t n, const char *name) {
    const char *src = __FILE__, *cut = strstr(src, "tests/unit/");
    cr_assert(cut != NULL, "cannot locate tests/data from %s", src);
    snprintf(out, n, "%.*stests/data/%s", (int)(cut - src), src, name);
}

#endif
