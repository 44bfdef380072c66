/*
 * geohash.h - the 52-bit interleaved geohash the GEO commands store as sorted-set scores, the
 * box cover of a search shape, and great-circle distances. Pure arithmetic: no server header.
 *
 * Encoding (geo_encode): the longitude in [-180, 180] and the latitude in the Web Mercator band
 * [-85.05112878, 85.05112878] are each scaled to an integer of `step` bits (offset / range *
 * 2^step, truncated); the latitude's bits go to the even positions and the longitude's to the odd
 * ones, so the longitude bit is the higher of each pair. At step 26 the 52 bits fit a double
 * exactly, which is the member's score. Decoding gives the cell, and a point is the cell's
 * centre. Every formula (the order of its floating-point operations included) is the one Valkey
 * and Redis use, so scores, positions and distances agree with theirs to the last bit.
 *
 * A search (geo_cover) picks the step whose cells are about as large as the shape, then takes
 * the cell of the centre and its eight neighbours; neighbours that cannot hold a match are
 * dropped. Each kept cell is one score range [geo_align52(h), geo_align52(h + 1)) of the set.
 */
#ifndef KEEL_GEOHASH_H
#define KEEL_GEOHASH_H

#include <stdbool.h>
#include <stdint.h>

#define GEO_STEP_MAX 26 /* 52 bits: the precision of a stored point */
#define GEO_LAT_MIN  -85.05112878
#define GEO_LAT_MAX  85.05112878
#define GEO_LON_MIN  -180.0
#define GEO_LON_MAX  180.0

typedef struct geo_hash {
    uint64_t bits;
    uint8_t step; /* bits per coordinate; 0 with bits 0 is "no cell" (a dropped neighbour) */
} geo_hash_t;

typedef struct geo_range {
    double min, max;
} geo_range_t;

typedef struct geo_area {
    geo_range_t lon, lat;
} geo_area_t;

/* Encodes a point within the given ranges (and within the WGS84 limits above); false when it is
 * outside them or step is not in 1..32. */
bool geo_encode(const geo_range_t *lon_r, const geo_range_t *lat_r, double lon, double lat,
                unsigned step, geo_hash_t *out);
/* The same within the stored ranges (longitude -180..180, latitude -85.05..85.05). */
bool geo_encode_wgs84(double lon, double lat, unsigned step, geo_hash_t *out);
/* The cell of a hash; false for "no cell". */
bool geo_decode(const geo_range_t *lon_r, const geo_range_t *lat_r, geo_hash_t h, geo_area_t *a);
/* The point a stored score stands for: xy[0] longitude, xy[1] latitude (the cell's centre,
 * clamped to the limits). A score that is no 52-bit integer is read as the x86-64 conversion of
 * a double to uint64_t does (what Valkey's cast yields), so any score decodes to something. */
void geo_decode_score(double score, double xy[2]);
/* The hash shifted to 52 bits: the lowest score inside its cell. */
uint64_t geo_align52(geo_hash_t h);

/* The eight neighbours in the order the search visits them: north, south, east, west,
 * north-east, north-west, south-east, south-west (each coordinate wraps around). */
enum { GEO_N, GEO_S, GEO_E, GEO_W, GEO_NE, GEO_NW, GEO_SE, GEO_SW };
void geo_neighbors(geo_hash_t h, geo_hash_t out[8]);

/* The standard 11-character geohash (base32, latitude -90..90) of a point, as GEOHASH replies:
 * the point re-encoded at 26 bits per coordinate, 10 characters from its 50 high bits and '0'. */
void geo_standard_hash(double lon, double lat, char out[11]);

/* Distances in metres on a sphere of radius GEO_EARTH_RADIUS_M (haversine). */
#define GEO_EARTH_RADIUS_M 6372797.560856
double geo_distance(double lon1, double lat1, double lon2, double lat2);
double geo_lat_distance(double lat1, double lat2);

/* Bits per coordinate of the cells for a search of range_m metres around latitude lat. */
int geo_estimate_steps(double range_m, double lat);

/* A search shape: a circle (radius) or an axis-aligned box (width x height), in the unit
 * `to_m` metres, around xy (longitude, latitude). */
enum { GEO_SHAPE_RADIUS = 1, GEO_SHAPE_BOX = 2 };
typedef struct geo_shape {
    int type;
    double xy[2];
    double to_m;          /* metres per unit */
    double radius;        /* GEO_SHAPE_RADIUS, in the unit */
    double width, height; /* GEO_SHAPE_BOX, in the unit */
} geo_shape_t;

/* The cells to scan for a shape: cells[0] is the centre's, cells[1 + GEO_N...] the neighbours
 * (a dropped one has step 0). */
typedef struct geo_cover {
    geo_hash_t cells[9];
} geo_cover_t;
void geo_cover(const geo_shape_t *s, geo_cover_t *out);

/* Whether the point of a stored score lies in the shape: true with its position in xy and its
 * distance from the centre in metres in *dist_m. */
bool geo_in_shape(const geo_shape_t *s, double score, double xy[2], double *dist_m);

#endif
