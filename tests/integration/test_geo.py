"""GEO commands on a real keel-server: redis-py's GEO API with the values Valkey's documentation
prints, searches checked against a brute-force haversine over random points (poles' limits and
the antimeridian included), keyspace events, and the STORE forms surviving a SIGKILL (they are
logged in effect form). Exact agreement with redis-server 7.0, reply by reply, is
test_compat_diff.py's job."""
import math
import random
import time

import pytest
import redis

from keel_harness import KeelServer

R_EARTH = 6372797.560856


def haversine(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    u = math.sin((lat2 - lat1) / 2)
    v = math.sin((lon2 - lon1) / 2)
    return 2 * R_EARTH * math.asin(math.sqrt(u * u + math.cos(lat1) * math.cos(lat2) * v * v))


def sicily(r):
    return r.geoadd("Sicily", [13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"])


def test_redis_py_geo_api_gives_the_documented_values(r):
    assert sicily(r) == 2
    assert r.geodist("Sicily", "Palermo", "Catania") == 166274.1516
    assert r.geodist("Sicily", "Palermo", "Catania", "km") == 166.2742
    assert r.geodist("Sicily", "Palermo", "nope") is None
    assert r.geohash("Sicily", "Palermo", "Catania", "nope") == ["sqc8b49rny0", "sqdtr74hyu0", None]
    pos = r.geopos("Sicily", "Palermo", "nope")
    assert pos[0] == (13.361389338970184, 38.1155563954963) and pos[1] is None
    assert r.georadius("Sicily", 15, 37, 200, "km", withdist=True, sort="ASC") == [
        [b"Catania", 56.4413], [b"Palermo", 190.4424]]
    assert r.georadiusbymember("Sicily", "Palermo", 200, "km", sort="DESC") == [b"Catania", b"Palermo"]
    assert r.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km", count=1) == [b"Catania"]
    assert r.geosearch("Sicily", member="Palermo", width=400, height=400, unit="km", sort="ASC",
                       withcoord=True, withhash=True) == [
        [b"Palermo", 3479099956230698, (13.361389338970184, 38.1155563954963)],
        [b"Catania", 3479447370796909, (15.087267458438873, 37.50266842333162)]]
    assert r.geosearchstore("dst", "Sicily", longitude=15, latitude=37, radius=100, unit="km",
                            storedist=True) == 1
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"Catania", pytest.approx(56.4412578701582))]
    assert r.type("Sicily") == b"zset"
    assert r.zscore("Sicily", "Palermo") == 3479099956230698


def test_options_and_errors(r):
    sicily(r)
    assert r.geoadd("Sicily", [13.361389, 38.115556, "Palermo"], nx=True) == 0
    assert r.geoadd("Sicily", [13.5, 38.1, "Palermo"], xx=True, ch=True) == 1
    with pytest.raises(redis.ResponseError, match="invalid longitude,latitude pair 181.000000,0.000000"):
        r.geoadd("Sicily", [181, 0, "x"])
    with pytest.raises(redis.ResponseError, match="unsupported unit provided"):
        r.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "yd")
    with pytest.raises(redis.ResponseError, match="could not decode requested zset member"):
        r.georadiusbymember("Sicily", "nope", 1, "km")
    with pytest.raises(redis.ResponseError, match="exactly one of FROMMEMBER or FROMLONLAT"):
        r.execute_command("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC", "WITHDIST")
    with pytest.raises(redis.ResponseError, match="the ANY argument requires COUNT argument"):
        r.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "ANY")
    with pytest.raises(redis.ResponseError, match="STORE option in GEORADIUS is not compatible"):
        r.execute_command("GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE", "d", "WITHDIST")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("GEORADIUS_RO", "Sicily", "15", "37", "1", "km", "STORE", "d")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.geopos("s", "a")
    r.response_callbacks.pop("GEOSEARCH", None)
    assert r.execute_command("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km") == []


def random_points(rnd, n):
    pts = {}
    for i in range(n):
        lon, lat = rnd.uniform(-180, 180), rnd.uniform(-85.05112878, 85.05112878)
        if i % 10 == 0:  # crowd the antimeridian and the poles' limits
            lon = rnd.choice([-1, 1]) * rnd.uniform(179, 180)
        if i % 10 == 1:
            lat = rnd.choice([-1, 1]) * rnd.uniform(84, 85.05112878)
        pts["p%d" % i] = (lon, lat)
    return pts


def search(r, lon, lat, *by):
    """GEOSEARCH FROMLONLAT, raw (redis-py's helper drops a longitude or latitude of 0)."""
    r.response_callbacks.pop("GEOSEARCH", None)
    return r.execute_command("GEOSEARCH", "g", "FROMLONLAT", lon, lat, *by)


def test_searches_match_a_brute_force_scan(r):
    rnd = random.Random(7)
    pts = random_points(rnd, 2000)
    items = []
    for m, (lon, lat) in pts.items():
        items += [lon, lat, m]
    r.geoadd("g", items)
    stored = dict(zip(pts, r.geopos("g", *pts)))  # the cell centres the set holds
    centres = [(rnd.uniform(-180, 180), rnd.uniform(-85, 85)) for _ in range(24)]
    centres += [(179.9, 0), (-179.95, 30), (0, 84.9), (120, -84.9), (180, 85.05), (-180, -85.05)]
    checked = 0
    for lon, lat in centres:
        radius_km = rnd.choice([50, 300, 1500, 5000])
        got = [(m, float(d)) for m, d in
               search(r, lon, lat, "BYRADIUS", radius_km, "km", "WITHDIST", "ASC")]
        dists = [d for _, d in got]
        assert dists == sorted(dists)
        names = {m.decode() for m, _ in got}
        # Every point found is inside. Every point inside is found unless the circle reaches
        # past the poles' limit: the 3x3 cells then miss the far side of the pole, in Valkey and
        # Redis alike (the differential test checks Keel misses the same ones).
        complete = abs(lat) + math.degrees(radius_km * 1000 / R_EARTH) < 85.05112878
        for m, (x, y) in stored.items():
            d = haversine(lon, lat, x, y)
            if abs(d - radius_km * 1000) < 1:  # rounding at the very edge: either is right
                continue
            if m in names or complete:
                assert (m in names) == (d <= radius_km * 1000), (m, x, y, lon, lat, radius_km, d)
        for m, d in got:
            assert d == pytest.approx(haversine(lon, lat, *stored[m.decode()]) / 1000, abs=1e-3)
        checked += len(got)
        # A box: every point within half the height in latitude and half the width along its
        # own parallel, as Valkey measures it.
        w, h = rnd.choice([(200, 100), (2000, 3000), (6000, 500)])
        got = {m.decode() for m in search(r, lon, lat, "BYBOX", w, h, "km")}
        complete = abs(lat) + math.degrees(math.hypot(w, h) * 500 / R_EARTH) < 85.05112878
        for m, (x, y) in stored.items():
            dy = R_EARTH * abs(math.radians(y) - math.radians(lat))
            dx = haversine(x, y, lon, y)
            if min(abs(dy - h * 500), abs(dx - w * 500)) < 1:
                continue
            if m in got or complete:
                assert (m in got) == (dy <= h * 500 and dx <= w * 500), (m, x, y, lon, lat, w, h)
    assert checked > 100, "the searches must find something"


def test_count_any_stops_early_and_count_takes_the_nearest(r):
    r.geoadd("g", sum(([i * 0.01, 0, "m%d" % i] for i in range(200)), []))
    by = ("BYRADIUS", 1000, "km")
    assert search(r, 0, 0, *by, "COUNT", 3) == [b"m0", b"m1", b"m2"]
    anyof = search(r, 0, 0, *by, "COUNT", 3, "ANY")
    assert len(anyof) == 3 and set(anyof) <= {("m%d" % i).encode() for i in range(200)}
    # COUNT with DESC keeps the farthest; COUNT alone the nearest.
    assert search(r, 0, 0, *by, "COUNT", 2, "DESC") == [b"m199", b"m198"]
    assert search(r, 1.004, 0, *by, "COUNT", 2) == [b"m100", b"m101"]


def test_keyspace_events(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@0__:*")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        sicily(r)
        r.geosearchstore("d", "Sicily", longitude=15, latitude=37, radius=200, unit="km")
        r.georadius("Sicily", 15, 37, 200, unit="km", store="d2")
        r.georadius("Sicily", 15, 37, 1, unit="km", store_dist="d2")  # nothing found: d2 deleted
        events = []
        deadline = time.time() + 3
        while len(events) < 4 and time.time() < deadline:
            m = p.get_message(timeout=0.5)
            if m and m["type"] == "pmessage":
                events.append(m["channel"].decode().split(":", 1)[1])
        assert events == ["zadd", "geosearchstore", "georadiusstore", "del"]
    finally:
        p.close()
        r.config_set("notify-keyspace-events", "")


def test_points_and_stored_results_survive_a_crash(tmp_path):
    s = KeelServer(data_dir=str(tmp_path), durability="sync")
    try:
        s.start()
        c = s.client()
        pts = random_points(random.Random(3), 400)
        items = []
        for m, (lon, lat) in pts.items():
            items += [lon, lat, m]
        c.geoadd("g", items)
        c.geosearchstore("near", "g", longitude=10, latitude=40, radius=3000, unit="km", storedist=True)
        c.georadius("g", -170, -60, 4000, unit="km", store="far")
        expect = {k: c.zrange(k, 0, -1, withscores=True) for k in ("g", "near", "far")}
        assert expect["near"] and expect["far"]
        s.kill()
        s.start()
        c = s.client()
        assert {k: c.zrange(k, 0, -1, withscores=True) for k in ("g", "near", "far")} == expect
    finally:
        s.cleanup()
