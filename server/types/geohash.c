/*
 * geohash.c - the geohash arithmetic of geohash.h: bit interleaving, cells and their
 * neighbours, the cover of a search shape, and haversine distances.
 *
 * The expressions keep Valkey's order of floating-point operations on purpose (a different but
 * equivalent order can round differently, and clients compare positions and distances with
 * what Valkey printed); the code itself is written from the published geohash description.
 */
#include <math.h>
#include <stddef.h>

#include "geohash.h"

static const double DEG_TO_RAD = M_PI / 180.0;
static const double MERCATOR_MAX_M = 20037726.37; /* half the Web Mercator world's width */

static const geo_range_t LON_WGS84 = {GEO_LON_MIN, GEO_LON_MAX};
static const geo_range_t LAT_WGS84 = {GEO_LAT_MIN, GEO_LAT_MAX};

static double
rad(double deg) {
    return deg * DEG_TO_RAD;
}

static double
deg(double r) {
    return r / DEG_TO_RAD;
}

/* The 32 bits of v spread to the even bit positions of the result. */
static uint64_t
spread_even(uint32_t v) {
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* The inverse: the even bits of x gathered into 32 bits. */
static uint32_t
gather_even(uint64_t x) {
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

bool
geo_encode(const geo_range_t *lon_r, const geo_range_t *lat_r, double lon, double lat,
           unsigned step, geo_hash_t *out) {
    if (step == 0 || step > 32 || lat_r->min == lat_r->max || lon_r->min == lon_r->max)
        return false;
    if (lon > GEO_LON_MAX || lon < GEO_LON_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
        return false;
    if (lat < lat_r->min || lat > lat_r->max || lon < lon_r->min || lon > lon_r->max)
        return false;
    double lat_off = (lat - lat_r->min) / (lat_r->max - lat_r->min);
    double lon_off = (lon - lon_r->min) / (lon_r->max - lon_r->min);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    /* A coordinate at its range's maximum gives 2^step: one bit above the cell, as in Valkey. */
    out->bits = spread_even((uint32_t)lat_off) | (spread_even((uint32_t)lon_off) << 1);
    out->step = (uint8_t)step;
    return true;
}

bool
geo_encode_wgs84(double lon, double lat, unsigned step, geo_hash_t *out) {
    return geo_encode(&LON_WGS84, &LAT_WGS84, lon, lat, step, out);
}

bool
geo_decode(const geo_range_t *lon_r, const geo_range_t *lat_r, geo_hash_t h, geo_area_t *a) {
    if ((h.bits == 0 && h.step == 0) || lat_r->min == lat_r->max || lon_r->min == lon_r->max)
        return false;
    uint32_t ilat = gather_even(h.bits), ilon = gather_even(h.bits >> 1);
    double cells = (double)(1ULL << h.step);
    double lat_scale = lat_r->max - lat_r->min, lon_scale = lon_r->max - lon_r->min;
    a->lat.min = lat_r->min + (ilat * 1.0 / cells) * lat_scale;
    a->lat.max = lat_r->min + ((uint32_t)(ilat + 1) * 1.0 / cells) * lat_scale;
    a->lon.min = lon_r->min + (ilon * 1.0 / cells) * lon_scale;
    a->lon.max = lon_r->min + ((uint32_t)(ilon + 1) * 1.0 / cells) * lon_scale;
    return true;
}

/* What an x86-64 build's (uint64_t) cast of a double yields, defined for every input: values
 * below 2^63 convert as signed (a negative one wraps), larger ones through 2^63, and what the
 * instruction cannot represent (NaN, out of range) gives its "indefinite" 2^63. */
static uint64_t
score_bits(double s) {
    const double two63 = 9223372036854775808.0;
    const uint64_t indefinite = 1ULL << 63;
    if (s < two63)
        return s >= -two63 ? (uint64_t)(int64_t)s : indefinite;
    double t = s - two63;
    uint64_t low = t < two63 ? (uint64_t)(int64_t)t : indefinite; /* NaN lands here too */
    return low ^ indefinite;
}

void
geo_decode_score(double score, double xy[2]) {
    geo_hash_t h = {score_bits(score), GEO_STEP_MAX};
    geo_area_t a;
    geo_decode(&LON_WGS84, &LAT_WGS84, h, &a);
    xy[0] = (a.lon.min + a.lon.max) / 2;
    if (xy[0] > GEO_LON_MAX)
        xy[0] = GEO_LON_MAX;
    if (xy[0] < GEO_LON_MIN)
        xy[0] = GEO_LON_MIN;
    xy[1] = (a.lat.min + a.lat.max) / 2;
    if (xy[1] > GEO_LAT_MAX)
        xy[1] = GEO_LAT_MAX;
    if (xy[1] < GEO_LAT_MIN)
        xy[1] = GEO_LAT_MIN;
}

uint64_t
geo_align52(geo_hash_t h) {
    return h.bits << (52 - h.step * 2);
}

/* One coordinate moved by d cells (wrapping at the edge); odd selects the longitude. The other
 * coordinate's bits stay as they are, even one above the cell. */
static geo_hash_t
move(geo_hash_t h, int odd, int d) {
    if (d == 0)
        return h;
    uint64_t mask = h.step >= 32 ? 0xFFFFFFFFULL : (1ULL << h.step) - 1;
    uint32_t v = gather_even(h.bits >> odd);
    v = (uint32_t)(((uint64_t)v + (uint64_t)(int64_t)d) & mask);
    uint64_t keep = h.bits & (odd ? 0x5555555555555555ULL : 0xAAAAAAAAAAAAAAAAULL);
    h.bits = keep | (spread_even(v) << odd);
    return h;
}

void
geo_neighbors(geo_hash_t h, geo_hash_t out[8]) {
    static const int8_t dir[8][2] = {
        [GEO_N] = {0, 1},  [GEO_S] = {0, -1},  [GEO_E] = {1, 0},   [GEO_W] = {-1, 0},
        [GEO_NE] = {1, 1}, [GEO_NW] = {-1, 1}, [GEO_SE] = {1, -1}, [GEO_SW] = {-1, -1},
    };
    for (int i = 0; i < 8; i++)
        out[i] = move(move(h, 1, dir[i][0]), 0, dir[i][1]);
}

void
geo_standard_hash(double lon, double lat, char out[11]) {
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    const geo_range_t lon_r = {-180, 180}, lat_r = {-90, 90};
    geo_hash_t h = {0, 0};
    geo_encode(&lon_r, &lat_r, lon, lat, GEO_STEP_MAX, &h);
    for (int i = 0; i < 10; i++)
        out[i] = alphabet[(h.bits >> (52 - (i + 1) * 5)) & 0x1f];
    out[10] = alphabet[0]; /* 52 bits make 10.4 characters: the 11th is always '0' */
}

double
geo_lat_distance(double lat1, double lat2) {
    return GEO_EARTH_RADIUS_M * fabs(rad(lat2) - rad(lat1));
}

double
geo_distance(double lon1, double lat1, double lon2, double lat2) {
    double lon1r = rad(lon1), lon2r = rad(lon2);
    double v = sin((lon2r - lon1r) / 2);
    if (v == 0.0) /* the same meridian: the haversine reduces to the latitude difference */
        return geo_lat_distance(lat1, lat2);
    double lat1r = rad(lat1), lat2r = rad(lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * GEO_EARTH_RADIUS_M * asin(sqrt(a));
}

int
geo_estimate_steps(double range_m, double lat) {
    if (range_m == 0)
        return GEO_STEP_MAX;
    int step = 1;
    for (; range_m < MERCATOR_MAX_M; range_m *= 2)
        step++;
    step -= 2;                   /* one size larger than the range, so the 3x3 cells hold it */
    if (lat > 66 || lat < -66) { /* meridians converge: cells get narrower towards the poles */
        step--;
        if (lat > 80 || lat < -80)
            step--;
    }
    if (step < 1)
        step = 1;
    if (step > GEO_STEP_MAX)
        step = GEO_STEP_MAX;
    return step;
}

/* The shape's bounding box in degrees: b[0] min longitude, b[1] min latitude, b[2] max
 * longitude, b[3] max latitude. The longitude span is taken at the latitude edge nearer the
 * pole, where a metre is the most degrees. */
static void
bounding_box(const geo_shape_t *s, double b[4]) {
    double half_h, half_w;
    if (s->type == GEO_SHAPE_RADIUS) {
        half_h = s->to_m * s->radius;
        half_w = s->to_m * s->radius;
    } else {
        half_h = s->to_m * s->height / 2;
        half_w = s->to_m * s->width / 2;
    }
    double lon = s->xy[0], lat = s->xy[1];
    const double dlat = deg(half_h / GEO_EARTH_RADIUS_M);
    const double dlon_top = deg(half_w / GEO_EARTH_RADIUS_M / cos(rad(lat + dlat)));
    const double dlon_bottom = deg(half_w / GEO_EARTH_RADIUS_M / cos(rad(lat - dlat)));
    bool south = lat < 0;
    b[0] = south ? lon - dlon_bottom : lon - dlon_top;
    b[2] = south ? lon + dlon_bottom : lon + dlon_top;
    b[1] = lat - dlat;
    b[3] = lat + dlat;
}

static void
cells_at(const geo_shape_t *s, int step, geo_hash_t *centre, geo_hash_t nb[8], geo_area_t *a) {
    geo_encode(&LON_WGS84, &LAT_WGS84, s->xy[0], s->xy[1], (unsigned)step, centre);
    geo_neighbors(*centre, nb);
    geo_decode(&LON_WGS84, &LAT_WGS84, *centre, a);
}

static void
drop(geo_hash_t nb[8], int a, int b, int c) {
    nb[a] = nb[b] = nb[c] = (geo_hash_t){0, 0};
}

void
geo_cover(const geo_shape_t *s, geo_cover_t *out) {
    double b[4];
    bounding_box(s, b);
    double range_m =
        s->type == GEO_SHAPE_RADIUS
            ? s->radius
            : sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
    range_m *= s->to_m;
    int step = geo_estimate_steps(range_m, s->xy[1]);
    geo_hash_t centre, nb[8];
    geo_area_t area;
    cells_at(s, step, &centre, nb, &area);

    /* Near a cell's edge the estimate can be one size too small for the neighbours to reach
     * the bounding box: then take the next larger cells. */
    geo_area_t n = {{0, 0}, {0, 0}}, so = n, e = n, w = n;
    geo_decode(&LON_WGS84, &LAT_WGS84, nb[GEO_N], &n);
    geo_decode(&LON_WGS84, &LAT_WGS84, nb[GEO_S], &so);
    geo_decode(&LON_WGS84, &LAT_WGS84, nb[GEO_E], &e);
    geo_decode(&LON_WGS84, &LAT_WGS84, nb[GEO_W], &w);
    bool larger = n.lat.max < b[3] || so.lat.min > b[1] || e.lon.max < b[2] || w.lon.min > b[0];
    if (step > 1 && larger)
        cells_at(s, --step, &centre, nb, &area);

    /* Neighbours on a side the bounding box does not reach are not scanned. */
    if (step >= 2) {
        if (area.lat.min < b[1])
            drop(nb, GEO_S, GEO_SW, GEO_SE);
        if (area.lat.max > b[3])
            drop(nb, GEO_N, GEO_NE, GEO_NW);
        if (area.lon.min < b[0])
            drop(nb, GEO_W, GEO_SW, GEO_NW);
        if (area.lon.max > b[2])
            drop(nb, GEO_E, GEO_SE, GEO_NE);
    }
    out->cells[0] = centre;
    for (int i = 0; i < 8; i++)
        out->cells[1 + i] = nb[i];
}

bool
geo_in_shape(const geo_shape_t *s, double score, double xy[2], double *dist_m) {
    geo_decode_score(score, xy);
    if (s->type == GEO_SHAPE_RADIUS) {
        *dist_m = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
        return *dist_m <= s->radius * s->to_m;
    }
    /* A box: within half the height in latitude, and half the width along the point's own
     * parallel (the cheaper latitude test first). */
    if (geo_lat_distance(xy[1], s->xy[1]) > s->height * s->to_m / 2)
        return false;
    if (geo_distance(xy[0], xy[1], s->xy[0], xy[1]) > s->width * s->to_m / 2)
        return false;
    *dist_m = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
    return true;
}
