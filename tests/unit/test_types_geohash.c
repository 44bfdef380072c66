/*
 * test_types_geohash.c - the geohash arithmetic GEO stands on: encoding to the 52-bit score and
 * back (known points whose scores, positions and hashes Valkey and Redis print), the eight
 * neighbours (adjacent, wrapping at the antimeridian and the poles), the haversine distance,
 * the step estimate, and the cover of a search: every point within a radius or a box, near the
 * poles and across the antimeridian too, lies in one of the cells geo_cover keeps.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geohash.h"

static const geo_range_t LON = {GEO_LON_MIN, GEO_LON_MAX}, LAT = {GEO_LAT_MIN, GEO_LAT_MAX};

/* Deterministic pseudo-random doubles in [lo, hi). */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double
uniform(double lo, double hi) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) / 9007199254740992.0);
}

static uint64_t
score_of(double lon, double lat) {
    geo_hash_t h;
    cr_assert(geo_encode_wgs84(lon, lat, GEO_STEP_MAX, &h));
    return geo_align52(h);
}

Test(geohash, known_points_encode_to_the_scores_valkey_stores) {
    cr_assert_eq(score_of(13.361389, 38.115556), 3479099956230698ULL); /* Palermo */
    cr_assert_eq(score_of(15.087269, 37.502669), 3479447370796909ULL); /* Catania */
    cr_assert_eq(score_of(-180, GEO_LAT_MIN), 0);
}

Test(geohash, a_score_decodes_to_its_cell_centre) {
    double xy[2];
    geo_decode_score(3479099956230698.0, xy);
    cr_assert_eq(xy[0], 13.361389338970184); /* GEOPOS Palermo: 13.36138933897018433 */
    cr_assert_eq(xy[1], 38.1155563954963);
    geo_decode_score(3479447370796909.0, xy);
    cr_assert_eq(xy[0], 15.087267458438873);
    cr_assert_eq(xy[1], 37.50266842333162);
}

Test(geohash, decoding_then_encoding_is_the_identity_on_random_points) {
    for (int i = 0; i < 20000; i++) {
        double lon = uniform(-180, 180), lat = uniform(GEO_LAT_MIN, GEO_LAT_MAX);
        uint64_t s = score_of(lon, lat);
        cr_assert_lt(s, 1ULL << 52);
        double xy[2];
        geo_decode_score((double)s, xy);
        /* The centre is within half a cell (360 / 2^26 degrees wide) of the point. */
        cr_assert_leq(fabs(xy[0] - lon), 360.0 / (1 << 26) / 2 * 1.0000001, "lon %.17g", lon);
        cr_assert_leq(fabs(xy[1] - lat), 170.1 / (1 << 26) / 2 * 1.0000001, "lat %.17g", lat);
        cr_assert_eq(score_of(xy[0], xy[1]), s);
    }
}

Test(geohash, points_outside_the_limits_do_not_encode) {
    geo_hash_t h;
    cr_assert_not(geo_encode_wgs84(180.0000001, 0, GEO_STEP_MAX, &h));
    cr_assert_not(geo_encode_wgs84(0, 85.06, GEO_STEP_MAX, &h));
    cr_assert_not(geo_encode_wgs84(0, -85.06, GEO_STEP_MAX, &h));
    cr_assert_not(geo_encode_wgs84(0, 0, 0, &h));
    cr_assert_not(geo_encode_wgs84(0, 0, 33, &h));
    cr_assert(geo_encode_wgs84(180, GEO_LAT_MAX, GEO_STEP_MAX, &h));
    /* Other ranges (GEOHASH's -90..90) still refuse what the stored ranges refuse. */
    const geo_range_t lon_r = {-180, 180}, lat_r = {-90, 90};
    cr_assert_not(geo_encode(&lon_r, &lat_r, 0, 86, GEO_STEP_MAX, &h));
    cr_assert(geo_encode(&lon_r, &lat_r, 0, 0, 1, &h));
    cr_assert_eq(h.bits, 3); /* the upper half of both ranges: 1 then 1 */
}

Test(geohash, scores_that_are_no_geohash_still_decode) {
    double xy[2];
    const double odd[] = {-5, -1e300, 1e20, 1e300, NAN, INFINITY, -INFINITY, 0.5};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        geo_decode_score(odd[i], xy);
        cr_assert(xy[0] >= GEO_LON_MIN && xy[0] <= GEO_LON_MAX);
        cr_assert(xy[1] >= GEO_LAT_MIN && xy[1] <= GEO_LAT_MAX);
    }
}

Test(geohash, standard_hash_strings) {
    char buf[12] = {0};
    geo_standard_hash(13.361389338970184, 38.1155563954963, buf);
    cr_assert_str_eq(buf, "sqc8b49rny0");
    geo_standard_hash(15.087267458438873, 37.50266842333162, buf);
    cr_assert_str_eq(buf, "sqdtr74hyu0");
    geo_standard_hash(-180, -85.05112878, buf);
    cr_assert_eq(buf[10], '0');
}

static void
area_of(geo_hash_t h, geo_area_t *a) {
    cr_assert(geo_decode(&LON, &LAT, h, a));
}

Test(geohash, neighbours_are_the_adjacent_cells) {
    for (int i = 0; i < 2000; i++) {
        unsigned step = 1 + (unsigned)uniform(0, 26);
        geo_hash_t h;
        cr_assert(geo_encode_wgs84(uniform(-180, 180), uniform(-85, 85), step, &h));
        geo_hash_t nb[8];
        geo_neighbors(h, nb);
        geo_area_t a, n, s, e, w, ne, sw;
        area_of(h, &a);
        area_of(nb[GEO_N], &n);
        area_of(nb[GEO_S], &s);
        area_of(nb[GEO_E], &e);
        area_of(nb[GEO_W], &w);
        area_of(nb[GEO_NE], &ne);
        area_of(nb[GEO_SW], &sw);
        for (int k = 0; k < 8; k++)
            cr_assert_eq(nb[k].step, step);
        if (a.lat.max < GEO_LAT_MAX) { /* not the top row: north is just above */
            cr_assert_eq(n.lat.min, a.lat.max);
            cr_assert_eq(n.lon.min, a.lon.min);
        } else { /* the top row wraps to the bottom one */
            cr_assert_eq(n.lat.min, GEO_LAT_MIN);
        }
        if (a.lat.min > GEO_LAT_MIN)
            cr_assert_eq(s.lat.max, a.lat.min);
        if (a.lon.max < GEO_LON_MAX) {
            cr_assert_eq(e.lon.min, a.lon.max);
            cr_assert_eq(e.lat.min, a.lat.min);
        } else { /* across the antimeridian */
            cr_assert_eq(e.lon.min, GEO_LON_MIN);
        }
        if (a.lon.min > GEO_LON_MIN)
            cr_assert_eq(w.lon.max, a.lon.min);
        if (a.lon.max < GEO_LON_MAX && a.lat.max < GEO_LAT_MAX) {
            cr_assert_eq(ne.lon.min, a.lon.max);
            cr_assert_eq(ne.lat.min, a.lat.max);
        }
        if (a.lon.min > GEO_LON_MIN && a.lat.min > GEO_LAT_MIN) {
            cr_assert_eq(sw.lon.max, a.lon.min);
            cr_assert_eq(sw.lat.max, a.lat.min);
        }
    }
}

Test(geohash, distances) {
    char buf[64];
    double d =
        geo_distance(13.361389338970184, 38.1155563954963, 15.087267458438873, 37.50266842333162);
    snprintf(buf, sizeof buf, "%.4f", d);
    cr_assert_str_eq(buf, "166274.1516"); /* GEODIST Sicily Palermo Catania */
    cr_assert_eq(geo_distance(10, 20, 10, 20), 0);
    cr_assert_eq(geo_distance(10, 20, 10, 21), geo_lat_distance(20, 21)); /* one meridian */
    /* Half the equator: pi * R. */
    cr_assert_float_eq(geo_distance(0, 0, 180, 0), M_PI * GEO_EARTH_RADIUS_M, 1e-6);
    /* Symmetric, and the short way across the antimeridian. */
    cr_assert_float_eq(geo_distance(179.5, 0, -179.5, 0), geo_distance(-179.5, 0, 179.5, 0), 1e-9);
    cr_assert_lt(geo_distance(179.5, 0, -179.5, 0), 112000);
}

Test(geohash, step_estimate) {
    cr_assert_eq(geo_estimate_steps(0, 0), GEO_STEP_MAX);
    cr_assert_eq(geo_estimate_steps(1000, 0), 14);
    cr_assert_eq(geo_estimate_steps(1000, 70), 13);
    cr_assert_eq(geo_estimate_steps(1000, -85), 12);
    cr_assert_eq(geo_estimate_steps(3e7, 0), 1);
    cr_assert_eq(geo_estimate_steps(0.001, 0), GEO_STEP_MAX);
}

/* Every point of the shape is in a kept cell's score range. */
static void
check_cover(const geo_shape_t *sh, int samples) {
    geo_cover_t cv;
    geo_cover(sh, &cv);
    int inside = 0;
    double span = sh->type == GEO_SHAPE_RADIUS ? sh->radius : fmax(sh->width, sh->height);
    double dlat = span * sh->to_m / 111000.0 * 1.5;
    double edge = fmin(89.9, fabs(sh->xy[1]) + dlat) * M_PI / 180; /* widest at the pole side */
    double dlon = fmin(180, dlat / cos(edge));
    for (int i = 0; i < samples; i++) {
        double lon = sh->xy[0] + uniform(-dlon, dlon), lat = sh->xy[1] + uniform(-dlat, dlat);
        lon = lon > 180 ? lon - 360 : lon < -180 ? lon + 360 : lon;
        if (lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
            continue;
        double s = (double)score_of(lon, lat), xy[2], dist;
        if (!geo_in_shape(sh, s, xy, &dist))
            continue;
        inside++;
        bool covered = false;
        for (int k = 0; k < 9 && !covered; k++) {
            geo_hash_t h = cv.cells[k];
            if (h.step == 0)
                continue;
            double lo = (double)geo_align52(h);
            h.bits++;
            covered = s >= lo && s < (double)geo_align52(h);
        }
        cr_assert(covered, "point %.9f,%.9f (shape at %.6f,%.6f) in no cell", lon, lat, sh->xy[0],
                  sh->xy[1]);
    }
    cr_assert_gt(inside, 0, "the sample must hit the shape");
}

Test(geohash, cover_holds_every_point_of_a_radius) {
    const double centres[][2] = {{13.36, 38.11}, {179.99, 0}, {-179.99, 10}, {0, 85},
                                 {0, -85},       {120, 84.9}, {-75, -84.9},  {0.0001, 0}};
    const double radii_km[] = {0.05, 1, 30, 500, 3000};
    for (size_t i = 0; i < sizeof centres / sizeof *centres; i++)
        for (size_t j = 0; j < sizeof radii_km / sizeof *radii_km; j++) {
            geo_shape_t sh = {.type = GEO_SHAPE_RADIUS,
                              .xy = {centres[i][0], centres[i][1]},
                              .to_m = 1000,
                              .radius = radii_km[j]};
            check_cover(&sh, 3000);
        }
}

Test(geohash, cover_holds_every_point_of_a_box) {
    const double centres[][2] = {{13.36, 38.11}, {179.9, -30}, {-179.9, 60}, {10, 84}, {10, -84}};
    const double sizes_km[][2] = {{1, 1}, {100, 10}, {10, 400}, {2000, 1000}};
    for (size_t i = 0; i < sizeof centres / sizeof *centres; i++)
        for (size_t j = 0; j < sizeof sizes_km / sizeof *sizes_km; j++) {
            geo_shape_t sh = {.type = GEO_SHAPE_BOX,
                              .xy = {centres[i][0], centres[i][1]},
                              .to_m = 1000,
                              .width = sizes_km[j][0],
                              .height = sizes_km[j][1]};
            check_cover(&sh, 3000);
        }
}

Test(geohash, box_edges) {
    geo_shape_t sh = {
        .type = GEO_SHAPE_BOX, .xy = {0, 0}, .to_m = 1, .width = 2000, .height = 1000};
    double xy[2], dist = -1;
    cr_assert(geo_in_shape(&sh, (double)score_of(0, 0), xy, &dist));
    cr_assert_lt(dist, 1);
    cr_assert(geo_in_shape(&sh, (double)score_of(0.008, 0.004), xy, &dist));  /* 890 m, 445 m */
    cr_assert_not(geo_in_shape(&sh, (double)score_of(0, 0.0046), xy, &dist)); /* 512 m north */
    cr_assert_not(geo_in_shape(&sh, (double)score_of(0.0091, 0), xy, &dist)); /* 1013 m east */
}
