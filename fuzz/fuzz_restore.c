/*
 * fuzz_restore.c - libFuzzer harness for RESTORE's payload reader (server/types/rdb_value.c, the
 * blob walkers of rdb_blob.c and the stream reader of rdb_stream.c): the trailer check (rdb_payload_check) and the value decoder
 * (rdb_value_decode) over every RDB type, with the collection types registered as the server
 * registers them.
 *
 * A CRC-64 guards every real payload, so mutated payloads would mostly stop at the checksum.
 * Byte 0 therefore picks how the rest is used:
 *   bit 0 clear  the rest is a payload body (type byte and value): it is decoded directly;
 *   bit 0 set    the rest is a whole payload: trailer check, then the body is decoded;
 *   bit 1        the encoding limits are tiny (list-max-listpack-size 2, 2 entries per packed
 *                hash, set or sorted set, stream nodes of 2 entries or 64 bytes), so the
 *                decoder's values land in the big encodings.
 *
 * Oracle, besides the sanitizers: a value that decodes is written back (rdb_value_dump) and that
 * payload must pass the trailer check, decode, and write back to the same bytes: what DUMP
 * gives, RESTORE takes, and nothing changes on the way.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "kerr.h"
#include "object.h"
#include "rdb_value.h"
#include "sbuf.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_stream.h"
#include "t_zset.h"

static long long list_fill = -2, hash_entries = 128, hash_value = 64, zset_entries = 128,
                 zset_value = 64, set_intset = 512, set_entries = 128, set_value = 64,
                 stream_bytes = 4096, stream_entries = 100;

int
LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    hash_type_init(&hash_entries, &hash_value);
    set_type_init(&set_intset, &set_entries, &set_value);
    zset_type_init(&zset_entries, &zset_value);
    list_type_init(&list_fill);
    stream_type_init(&stream_bytes, &stream_entries);
    return 0;
}

static void
set_limits(bool tiny) {
    list_fill = tiny ? 2 : -2;
    hash_entries = zset_entries = set_intset = set_entries = tiny ? 2 : 128;
    hash_value = zset_value = set_value = tiny ? 8 : 64;
    stream_bytes = tiny ? 64 : 4096;
    stream_entries = tiny ? 2 : 100;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    set_limits(mode & 2);
    if (mode & 1) {
        size_t body;
        if (rdb_payload_check(p, n, &body, NULL) < 0)
            return 0;
        n = body;
    }
    kobj_t *o;
    const char *why = NULL;
    int rc = rdb_value_decode(p, n, "key", 3, -1, &o, &why);
    if (rc < 0) {
        FUZZ_CHECK(why != NULL);
        FUZZ_CHECK(rc == KERR_CORRUPT || rc == KERR_INVAL);
        return 0;
    }
    sbuf_t a = {0}, b = {0};
    FUZZ_CHECK(rdb_value_dump(o, &a) == 0);
    size_t body;
    FUZZ_CHECK(rdb_payload_check(a.p, a.len, &body, NULL) == 0);
    kobj_t *back;
    FUZZ_CHECK(rdb_value_decode(a.p, body, "key", 3, -1, &back, NULL) == 0);
    FUZZ_CHECK(obj_type(back) == obj_type(o));
    FUZZ_CHECK(rdb_value_dump(back, &b) == 0);
    /* Elements are written one by one, so the length never depends on their order; sets and
     * hashes in a hash table may come back in another order, everything else byte for byte. */
    FUZZ_CHECK(a.len == b.len);
    if (obj_encoding(o) != OBJ_ENC_HT && obj_encoding(back) != OBJ_ENC_HT)
        FUZZ_CHECK(memcmp(a.p, b.p, a.len) == 0);
    obj_free(back);
    obj_free(o);
    sbuf_free(&a);
    sbuf_free(&b);
    return 0;
}
