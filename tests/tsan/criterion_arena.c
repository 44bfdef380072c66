/*
 * criterion_arena.c - lets Criterion run under ThreadSanitizer (linked into the unit tests of a
 * KEEL_TSAN build only).
 *
 * Criterion (BoxFort) maps its "inheritable arena" at a random address picked with rand_r() in
 * [0x2000'0000'0000, 0x6000'0000'0000), in 16 MiB steps, and gives up after three addresses
 * that are already mapped: "criterion: Could not initialize inheritable arena: Resource
 * temporarily unavailable" (Criterion issue #274). TSan reserves almost all of that range for
 * its shadow and metadata; the only application range left in it is where PIE binaries go,
 * [0x5500'0000'0000, 0x5680'0000'0000). This rand_r() keeps its result's low 22 bits (BoxFort's
 * mask) in the slots of that range, so the arena lands in memory TSan tracks. The executable's
 * definition takes precedence over libc's for libcriterion's call. Keel itself calls no rand_r.
 */
#include <stdlib.h>

#define BXF_OFF_MASK  0x3fffffu /* BoxFort: base = 0x2000'0000'0000 + (r & mask) * 16 MiB */
#define PIE_SLOT_MIN  0x350000u /* (0x5500'0000'0000 - 0x2000'0000'0000) / 16 MiB */
#define PIE_SLOT_SPAN 0x18000u  /* up to 0x5680'0000'0000 */

int
rand_r(unsigned int *seed) {
    *seed = *seed * 1103515245u + 12345u;
    unsigned int v = (*seed >> 1) & 0x7fffffffu;
    return (int)((v & ~BXF_OFF_MASK) | (PIE_SLOT_MIN + v % PIE_SLOT_SPAN));
}
