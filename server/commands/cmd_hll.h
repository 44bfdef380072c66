/*
 * cmd_hll.h - the HyperLogLog value format and estimator behind PFADD/PFCOUNT/PFMERGE, exposed
 * for the unit tests (tests/unit/test_hll_*.c). The commands themselves are in cmd_hll.c.
 *
 * A HyperLogLog is an ordinary string value (so snapshots and the log carry it as a string):
 *
 *   0   "HYLL"                       magic
 *   4   encoding: 0 dense, 1 sparse
 *   5   3 bytes, zero
 *   8   cached cardinality, uint64 little endian; bit 7 of byte 15 set = cache invalid
 *   16  registers
 *
 * There are 2^14 registers of 6 bits (P = 14, standard error 1.04/sqrt(16384) = 0.81%). An
 * element's 64-bit hash (XXH64, fixed seed: the value is persistent) picks the register with its
 * low 14 bits; the register keeps the maximum over its elements of 1 + the number of trailing
 * zeros of the other 50 bits (1..51).
 *
 * Dense: 16384 x 6 bits packed little-endian-first (register i at bit 6i), 12288 bytes.
 * Sparse: a run-length list of opcodes covering exactly 16384 registers, for small sets:
 *   00xxxxxx            ZERO:  1..64 registers at 0
 *   01xxxxxx yyyyyyyy   XZERO: 1..16384 registers at 0 (14-bit length - 1)
 *   1vvvvvxx            VAL:   1..4 registers at value 1..32
 * A sparse value turns dense when a register needs more than 32 or when it would exceed
 * hll-sparse-max-bytes bytes (HLL_SPARSE_BYTES_MAX by default, as Valkey).
 *
 * The estimate is Ertl's improved raw estimator over the register histogram ("New cardinality
 * estimation algorithms for HyperLogLog sketches", 2017), which needs no bias tables and is
 * accurate from 0 to beyond 2^40.
 */
#ifndef KEEL_CMD_HLL_H
#define KEEL_CMD_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_P                14
#define HLL_REGISTERS        (1 << HLL_P)
#define HLL_Q                (64 - HLL_P)
#define HLL_HDR_BYTES        16
#define HLL_DENSE_BYTES      (HLL_HDR_BYTES + HLL_REGISTERS * 6 / 8)
#define HLL_SPARSE_BYTES_MAX 3000
#define HLL_SPARSE_VAL_MAX   32

enum { HLL_DENSE = 0, HLL_SPARSE = 1 };

/* Register index of an element and its rank (1..HLL_Q+1). */
uint32_t hll_index(const void *p, size_t n, uint8_t *rank);
/* Whether v is a well-formed header for a HyperLogLog string (magic, encoding, dense size). */
int hll_check_header(const uint8_t *v, size_t n);
/* Registers of a value (one byte each); 0, or KERR_CORRUPT for a malformed sparse body. */
int hll_decode(const uint8_t *v, size_t n, uint8_t *regs);
/* Cardinality estimate of registers. */
uint64_t hll_estimate(const uint8_t *regs);
/* Encodings of registers, header included (cache marked invalid). Sparse returns the length, or 0
 * when the registers do not fit in cap bytes or hold a value above HLL_SPARSE_VAL_MAX. */
size_t hll_encode_sparse(const uint8_t *regs, uint8_t *out, size_t cap);
void hll_encode_dense(const uint8_t *regs, uint8_t *out); /* HLL_DENSE_BYTES */

#endif
