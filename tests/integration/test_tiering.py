"""The value tier inside the server (docs/tiering.md section 8): string values go out to RocksDB
above tiering-memory-target and come back for the commands that need them. Every test checks the
values against what was written, and INFO tiering shows values going out and coming back, so a
test cannot pass with tiering silently off."""
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from keel_harness import KeelServer, binary, wait_for

TARGET = "1500kb"  # an empty server uses ~0.75 MB: the data sets below are several times more


def tserver(live, args=(), durability="async", data_dir=None, target=TARGET, min_size="8"):
    if data_dir:
        os.makedirs(data_dir, exist_ok=True)
    s = KeelServer(args=["--tiering", "yes", "--tiering-memory-target", target,
                         "--tiering-min-value-size", min_size, "--tiering-threads", "2"] +
                   list(args), durability=durability, data_dir=data_dir)
    live.append(s)
    return s.start()


def tinfo(r):
    return r.info("tiering")




def fill(r, n, size, prefix="k"):
    model = {}
    for i in range(0, n, 500):
        pipe = r.pipeline(transaction=False)
        for j in range(i, min(n, i + 500)):
            v = ("%s-%d-" % (prefix, j)).encode() + os.urandom(size // 2).hex().encode()
            model[("%s%d" % (prefix, j)).encode()] = v
            pipe.set("%s%d" % (prefix, j), v)
        pipe.execute()
    return model


def wait_tiered(r, at_least):
    return wait_for(lambda: tinfo(r)["tiering_tiered_keys"] >= at_least, what="values going out")


def check_all(r, model):
    keys = list(model)
    bad = []
    for i in range(0, len(keys), 500):
        got = r.mget(keys[i:i + 500])
        bad += [(k, None if v is None else len(v), len(model[k]))
                for k, v in zip(keys[i:i + 500], got) if v != model[k]]
    assert not bad, "%d values differ (key, length, expected length): %s ... %s" % (
        len(bad), bad[:5], bad[-5:])


def test_tiering_off_opens_nothing(live):
    s = KeelServer(durability="off")
    live.append(s)
    s.start()
    r = s.client()
    r.set("a", "x" * 1000)
    assert tinfo(r)["tiering_enabled"] == 0
    assert not os.path.exists(os.path.join(s.dir, "tier"))
    assert r.object("encoding", "a") == b"raw"


def test_model_random_commands_while_values_go_out_and_come_back(live):
    s = tserver(live)
    r = s.client()
    rnd = random.Random(7)
    n = 4000
    model = fill(r, n, 600)
    ttl = set()
    wait_tiered(r, n // 2)
    keys = list(model)
    for rnd_i in range(30):
        pipe = r.pipeline(transaction=False)
        expect = []
        for _ in range(300):
            k = rnd.choice(keys)
            op = rnd.random()
            if op < 0.35:
                pipe.get(k)
                expect.append(("eq", model.get(k)))
            elif op < 0.5:
                v = os.urandom(rnd.randint(10, 400))
                pipe.set(k, v)
                model[k] = v
                ttl.discard(k)  # SET drops the TTL
                expect.append(("eq", True))
            elif op < 0.62:
                a = os.urandom(rnd.randint(1, 50))
                pipe.append(k, a)
                model[k] = model.get(k, b"") + a
                expect.append(("eq", len(model[k])))
            elif op < 0.7:
                nk = b"n" + k
                if nk not in model:
                    pipe.set(nk, b"1000000000000")  # a wide number, so that it goes out too
                    model[nk] = b"1000000000000"
                    expect.append(("eq", True))
                pipe.incrby(nk, 3)
                model[nk] = str(int(model[nk]) + 3).encode()
                expect.append(("eq", int(model[nk])))
            elif op < 0.78:
                pipe.delete(k)
                expect.append(("eq", 1 if k in model else 0))
                model.pop(k, None)
                ttl.discard(k)
            elif op < 0.86:
                pipe.expire(k, 3600)
                expect.append(("eq", k in model))
                if k in model:
                    ttl.add(k)
            elif op < 0.93:
                pipe.strlen(k)
                expect.append(("eq", len(model.get(k, b""))))
            else:
                pipe.getrange(k, 2, 20)
                expect.append(("eq", model.get(k, b"")[2:21]))
        got = pipe.execute()
        assert len(got) == len(expect)
        for (kind, want), g in zip(expect, got):
            assert g == want, (rnd_i, want, g)
    info = tinfo(r)
    assert info["tiering_values_out"] > 1000
    assert info["tiering_values_in"] > 100
    assert info["tiering_tier_hits"] > 100
    assert info["tiering_errors"] == 0
    allkeys = set(r.keys("*"))
    assert allkeys == set(model)
    check_all(r, model)
    for k in list(ttl)[:200]:
        assert 3000 < r.ttl(k) <= 3600
    # metadata from the stub: no fetch
    stubs = [k for k in keys if r.object("encoding", k) == b"tiered"]
    assert stubs
    hits = tinfo(r)["tiering_tier_hits"]
    for k in stubs[:50]:
        assert r.type(k) == b"string" and r.exists(k) == 1
        assert r.memory_usage(k) < 100
        assert r.strlen(k) == len(model[k])
    assert tinfo(r)["tiering_tier_hits"] == hits


def test_pipelined_reads_of_one_cold_key_share_one_fetch_and_keep_order(live):
    s = tserver(live)
    r = s.client()
    model = fill(r, 3000, 600)
    wait_tiered(r, 1500)
    cold = [k for k in model if r.object("encoding", k) == b"tiered"][:20]
    r.config_set("tiering-memory-target", "1gb")  # nothing goes out again meanwhile
    before = tinfo(r)["tiering_fetches"]
    clients = [s.client() for _ in range(8)]
    results = [None] * len(clients)

    def read(i):
        p = clients[i].pipeline(transaction=False)
        for k in cold:
            p.get(k)
            p.echo(k)
        results[i] = p.execute()

    th = [threading.Thread(target=read, args=(i,)) for i in range(len(clients))]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for res in results:
        assert res == [x for k in cold for x in (model[k], k)]
    # one fetch per cold key however many clients waited for it
    assert tinfo(r)["tiering_fetches"] - before == len(cold)
    assert all(r.object("encoding", k) != b"tiered" for k in cold)


def test_sigkill_restart_and_snapshot_restore_keep_every_value(live):
    d = tempfile.mkdtemp(prefix="keel-tier-")
    try:
        s = tserver(live, durability="sync", data_dir=d)
        r = s.client()
        model = fill(r, 3000, 1000)
        wait_tiered(r, 1500)
        for k in list(model)[:300]:  # overwrite and append some stubs
            r.append(k, b"+tail")
            model[k] += b"+tail"
        s.kill()
        s2 = tserver(live, durability="sync", data_dir=d)
        r2 = s2.client()
        check_all(r2, model)
        assert r2.dbsize() == len(model)
        wait_tiered(r2, 1000)
        r2.bgsave()
        wait_for(lambda: r2.info("snapshot")["snapshot_in_progress"] == 0 and
                 r2.info("snapshot")["snapshot_saves_ok"] >= 1, what="BGSAVE")
        info = tinfo(r2)
        assert info["tiering_checkpoints"] >= 1
        assert not [e for e in os.listdir(os.path.join(d, "tier")) if e.startswith("ckpt")]
        snaps = sorted(os.listdir(os.path.join(d, "snapshots")))
        path = os.path.join(d, "snapshots", [x for x in snaps if x.endswith(".ksnap")][-1])
        out = subprocess.run([binary("keel-check"), "snapshot", path], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "3000 strings" in out.stdout
        assert s2.stop() == 0  # a sanitizer report at exit fails it
        # restart from the snapshot alone: the log after it is empty
        s3 = tserver(live, durability="sync", data_dir=d)
        r3 = s3.client()
        assert r3.info("snapshot")["snapshot_loaded_keys"] == len(model)
        check_all(r3, model)
        s3.kill()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_multi_exec_over_tiered_keys_is_atomic_and_sees_current_values(live):
    s = tserver(live)
    r = s.client()
    model = fill(r, 3000, 600)
    wait_tiered(r, 1500)
    cold = [k for k in model if r.object("encoding", k) == b"tiered"][:6]
    a, b, c = cold[0], cold[1], cold[2]
    other = s.client()
    raw = s.raw()
    assert raw.call("MULTI") == "OK"
    assert raw.call("GET", a) == "QUEUED"
    assert raw.call("APPEND", b, "!") == "QUEUED"
    assert raw.call("GET", b) == "QUEUED"
    assert raw.call("GETRANGE", c, "0", "4") == "QUEUED"
    other.set(a, b"changed-after-queueing")  # EXEC sees the value current when it runs
    res = raw.call("EXEC")
    assert res == [b"changed-after-queueing", len(model[b]) + 1, model[b] + b"!", model[c][:5]]
    model[a] = b"changed-after-queueing"
    model[b] += b"!"
    # WATCH on a tiered key: a change by another client fails EXEC
    d = cold[3]
    with r.pipeline(transaction=True) as p:
        p.watch(d)
        assert p.get(d) == model[d]
        other.append(d, b"x")
        model[d] += b"x"
        p.multi()
        p.get(d)
        with pytest.raises(redis.WatchError):
            p.execute()
    # a transaction over many cold keys: every value read is the current one, atomically
    cold = [k for k in model if r.object("encoding", k) == b"tiered"][:100]
    assert len(cold) >= 50
    p = r.pipeline(transaction=True)
    for k in cold:
        p.get(k)
    assert p.execute() == [model[k] for k in cold]
    assert tinfo(r)["tiering_parked_clients_total"] >= 2


def test_a_write_racing_a_value_going_out_keeps_the_newest_value(live):
    s = tserver(live)
    r = s.client()
    r.execute_command("DEBUG", "TIERING-FAULT", "put-delay-ms", "300")
    model = fill(r, 3000, 600)
    wait_for(lambda: tinfo(r)["tiering_going_out"] > 0, what="puts in flight")
    # overwrite everything while puts are held in flight on the workers
    for k in list(model):
        nv = b"new-" + model[k][:50]
        if random.random() < 0.5:
            r.set(k, nv)
            model[k] = nv
        else:
            r.append(k, b"+")
            model[k] += b"+"
    r.execute_command("DEBUG", "TIERING-FAULT", "put-delay-ms", "0")
    wait_for(lambda: tinfo(r)["tiering_out_cancelled"] > 0, what="cancelled puts")
    wait_tiered(r, 500)
    check_all(r, model)
    # a shutdown with puts held in flight cancels them and leaks nothing (sanitizer builds)
    r.execute_command("DEBUG", "TIERING-FAULT", "put-delay-ms", "200")
    r.config_set("tiering-memory-target", "1")  # everything resident is to go out
    fill(r, 1000, 600, prefix="late")
    wait_for(lambda: tinfo(r)["tiering_going_out"] > 0, what="puts in flight at shutdown")
    assert s.stop() == 0


def test_expiry_and_flushall_delete_tiered_values(live):
    s = tserver(live)
    r = s.client()
    model = fill(r, 3000, 600)
    p = r.pipeline(transaction=False)
    for k in list(model)[:1500]:
        p.pexpire(k, 4000)
    p.execute()
    wait_tiered(r, 1500)
    expiring = [k for k in list(model)[:1500:10] if r.object("encoding", k) == b"tiered"]
    assert expiring
    hits = tinfo(r)["tiering_tier_hits"]
    assert 0 < r.pttl(expiring[0]) <= 4000  # from the stub
    assert tinfo(r)["tiering_tier_hits"] == hits
    wait_for(lambda: r.pttl(expiring[0]) < 0, what="the expiry")
    assert r.get(expiring[0]) is None
    wait_for(lambda: r.dbsize() == 1500, what="active expiry")
    for k in list(model)[:1500]:
        del model[k]
    check_all(r, model)
    live_before = tinfo(r)["tiering_live_keys"]
    assert live_before > 0
    r.flushall()
    assert r.dbsize() == 0
    info = wait_for(lambda: (lambda i: i if i["tiering_live_keys"] == 0 else None)(tinfo(r)),
                    what="the tier emptied")
    assert info["tiering_tiered_keys"] == 0 and info["tiering_pending_deletes"] == 0
    # FLUSHALL ASYNC frees stubs on the lazy-free thread: their deletes are queued, then sent
    fill(r, 3000, 600)
    wait_tiered(r, 1500)
    r.flushall(asynchronous=True)
    info = wait_for(lambda: (lambda i: i if i["tiering_live_keys"] == 0 else None)(tinfo(r)),
                    what="the tier emptied after FLUSHALL ASYNC")
    assert info["tiering_tiered_keys"] == 0


def test_a_full_replica_sync_carries_tiered_values(live):
    p = tserver(live, durability="sync")
    pc = p.client()
    model = fill(pc, 3000, 600)
    wait_tiered(pc, 1500)
    rep = tserver(live, ["--replicaof", "127.0.0.1 %d" % p.port], durability="sync")
    rc = rep.client()
    wait_for(lambda: rc.dbsize() == len(model) and
             rc.info("replication").get("master_link_status") == "up", timeout=60,
             what="full sync")
    check_all(rc, model)
    wait_tiered(rc, 1000)  # the replica tiers on its own
    for k in list(model)[:500]:  # the stream's APPENDs need the replica's stubs back
        pc.append(k, b"+r")
        model[k] += b"+r"
    target = pc.info("replication")["master_repl_offset"]
    wait_for(lambda: rc.info("replication").get("keel_applied_lsn",
                                                 rc.info("replication")["slave_repl_offset"])
             >= target, timeout=60, what="replica caught up")
    check_all(rc, model)
    assert tinfo(rc)["tiering_sync_fetches"] > 0


def test_tier_faults_keep_values_in_memory_and_show_in_info(live):
    s = tserver(live)
    r = s.client()
    r.execute_command("DEBUG", "TIERING-FAULT", "put-error", "1")
    model = fill(r, 3000, 600)
    info = wait_for(lambda: (lambda i: i if i["tiering_out_failed"] > 0 else None)(tinfo(r)),
                    what="failed puts")
    assert info["tiering_tiered_keys"] == 0
    assert "injected fault" in info["tiering_last_error"]
    r.set("still", "writable")
    check_all(r, model)
    assert "Tiering:" in s.read_log()
    r.execute_command("DEBUG", "TIERING-FAULT", "put-error", "0")
    wait_tiered(r, 1500)
    cold = [k for k in model if r.object("encoding", k) == b"tiered"][:5]
    r.execute_command("DEBUG", "TIERING-FAULT", "get-error", "1")
    with pytest.raises(redis.ResponseError, match="tiering"):
        r.get(cold[0])
    raw = s.raw()  # an EXEC whose fetch failed ends the transaction
    assert raw.call("MULTI") == "OK"
    assert raw.call("GET", cold[1]) == "QUEUED"
    assert "tiering" in str(raw.call("EXEC"))
    assert "without MULTI" in str(raw.call("EXEC"))
    r.execute_command("DEBUG", "TIERING-FAULT", "get-error", "0")
    assert r.get(cold[0]) == model[cold[0]]
    check_all(r, model)


def test_a_parked_read_sees_a_write_made_while_it_waited(live):
    s = tserver(live)
    r = s.client()
    model = fill(r, 3000, 600)
    wait_tiered(r, 1500)
    cold = [k for k in model if r.object("encoding", k) == b"tiered"][:3]
    r.execute_command("DEBUG", "TIERING-FAULT", "get-delay-ms", "400")
    waiting = s.raw()
    waiting.send_cmd("GET", cold[0])  # parks for ~400 ms
    waiting.send_cmd("APPEND", cold[1], "+")  # pipelined behind it: runs after, in order
    wait_for(lambda: tinfo(r)["tiering_fetches_in_flight"] >= 1, what="the parked GET's fetch")
    r.set(cold[0], b"written-while-parked")  # a whole-value overwrite: no fetch, no wait
    assert waiting.read() == b"written-while-parked"
    assert waiting.read() == len(model[cold[1]]) + 1
    # a client that goes away while parked: its fetch completes into nothing
    gone = s.raw()
    gone.send_cmd("GET", cold[2])
    time.sleep(0.05)
    gone.close()
    time.sleep(0.6)
    r.execute_command("DEBUG", "TIERING-FAULT", "get-delay-ms", "0")
    assert r.get(cold[2]) == model[cold[2]]
    assert r.ping()


def test_going_out_and_coming_back_is_not_a_change_for_watch(live):
    s = tserver(live)
    r = s.client()
    model = fill(r, 3000, 600)
    wait_tiered(r, 1500)
    cold = [k for k in model if r.object("encoding", k) == b"tiered"][:2]
    with r.pipeline(transaction=True) as p:
        p.watch(cold[0], cold[1])
        assert p.get(cold[0]) == model[cold[0]]  # comes back meanwhile: not a write
        p.multi()
        p.get(cold[1])
        assert p.execute() == [model[cold[1]]]


def test_foreground_save_writes_tiered_values(live):
    d = tempfile.mkdtemp(prefix="keel-tier-")
    try:
        s = tserver(live, durability="off", data_dir=d)
        r = s.client()
        model = fill(r, 3000, 600)
        wait_tiered(r, 1500)
        assert r.save()
        s.kill()
        s2 = tserver(live, durability="off", data_dir=d)
        r2 = s2.client()
        assert r2.dbsize() == len(model)
        check_all(r2, model)
        s2.kill()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def collections_of(r, keys):
    out = {}
    for k in keys:
        t = r.type(k)
        if t == b"hash":
            out[k] = ("hash", r.hgetall(k))
        elif t == b"list":
            out[k] = ("list", r.lrange(k, 0, -1))
        elif t == b"set":
            out[k] = ("set", r.smembers(k))
        elif t == b"zset":
            out[k] = ("zset", r.zrange(k, 0, -1, withscores=True))
    return out


def test_collections_go_out_come_back_and_survive_a_snapshot_restart(live):
    d = tempfile.mkdtemp(prefix="keel-tier-")
    try:
        s = tserver(live, durability="sync", data_dir=d)
        r = s.client()
        rnd = random.Random(11)
        model = {}
        for i in range(0, 1600, 4):  # 400 of each type, ~1.5 KB each
            p = r.pipeline(transaction=False)
            h = {b"f%d" % j: os.urandom(20).hex().encode() for j in range(30)}
            lst = [os.urandom(20).hex().encode() for _ in range(30)]
            st = {os.urandom(20).hex().encode() for _ in range(30)}
            z = {os.urandom(20).hex().encode(): float(j) for j in range(30)}
            p.hset(b"h%d" % i, mapping=h)
            p.rpush(b"l%d" % i, *lst)
            p.sadd(b"s%d" % i, *st)
            p.zadd(b"z%d" % i, z)
            p.execute()
            model[b"h%d" % i] = ("hash", h)
            model[b"l%d" % i] = ("list", lst)
            model[b"s%d" % i] = ("set", st)
            model[b"z%d" % i] = ("zset", sorted(z.items(), key=lambda kv: (kv[1], kv[0])))
        wait_tiered(r, 800)
        enc = {t: 0 for t in ("hash", "list", "set", "zset")}
        for k, (t, _) in model.items():
            if r.object("encoding", k) == b"tiered":
                enc[t] += 1
                assert r.type(k) == t.encode()
                assert r.memory_usage(k) < 100
        assert all(n > 50 for n in enc.values()), enc
        keys = list(model)
        for _ in range(600):  # commands on cold and hot collections alike
            k = rnd.choice(keys)
            t, v = model[k]
            if t == "hash":
                f, nv = b"f%d" % rnd.randrange(40), os.urandom(8).hex().encode()
                r.hset(k, f, nv)
                v[f] = nv
            elif t == "list":
                e = os.urandom(8).hex().encode()
                r.lpush(k, e)
                v.insert(0, e)
                assert r.rpop(k) == v.pop()
            elif t == "set":
                e = os.urandom(8).hex().encode()
                r.sadd(k, e)
                v.add(e)
            else:
                m = os.urandom(8).hex().encode()
                r.zadd(k, {m: rnd.random()})
                d_ = dict(v)
                d_[m] = r.zscore(k, m)
                model[k] = ("zset", sorted(d_.items(), key=lambda kv: (kv[1], kv[0])))
        assert collections_of(r, keys) == model
        info = tinfo(r)
        assert info["tiering_values_in"] > 100 and info["tiering_errors"] == 0
        wait_tiered(r, 800)
        r.bgsave()
        wait_for(lambda: r.info("snapshot")["snapshot_in_progress"] == 0 and
                 r.info("snapshot")["snapshot_saves_ok"] >= 1, what="BGSAVE")
        snaps = sorted(x for x in os.listdir(os.path.join(d, "snapshots")) if x.endswith(".ksnap"))
        out = subprocess.run([binary("keel-check"), "snapshot",
                              os.path.join(d, "snapshots", snaps[-1])],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "400 lists, 400 hashes, 400 sets, 400 sorted sets" in out.stdout
        assert s.stop() == 0
        s2 = tserver(live, durability="sync", data_dir=d)
        r2 = s2.client()
        assert r2.info("snapshot")["snapshot_loaded_keys"] == len(model)
        assert collections_of(r2, keys) == model
        s2.kill()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_sigkill_while_values_move_loses_no_acknowledged_write(live):
    """A writer appends to and overwrites keys whose values go out and come back the whole time;
    SIGKILL at a random moment; after the restart every key holds its last acknowledged value
    (or the one write that was in flight). Three cycles."""
    d = tempfile.mkdtemp(prefix="keel-tier-")
    try:
        rnd = random.Random(5)
        s = tserver(live, durability="sync", data_dir=d)
        model = fill(s.client(), 2000, 600)
        for cycle in range(3):
            r = s.client()
            wait_tiered(r, 500)
            keys = list(model)
            pending = {}
            stop = threading.Event()

            def writer():
                try:
                    while not stop.is_set():
                        k = rnd.choice(keys)
                        if rnd.random() < 0.5:
                            nv = model[k] + b"+%d" % cycle
                            pending[k] = nv
                            r.append(k, b"+%d" % cycle)
                        else:
                            nv = os.urandom(300).hex().encode()
                            pending[k] = nv
                            r.set(k, nv)
                        model[k] = nv
                        del pending[k]
                except redis.exceptions.ConnectionError:
                    pass

            th = threading.Thread(target=writer)
            th.start()
            time.sleep(0.5 + rnd.random())
            s.kill()
            stop.set()
            th.join()
            s = tserver(live, durability="sync", data_dir=d)
            r2 = s.client()
            for k, v in model.items():
                got = r2.get(k)
                assert got == v or got == pending.get(k), (cycle, k)
                model[k] = got
        assert s.stop() == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_failed_checkpoint_brings_every_value_back_and_snapshots_work_again(live):
    d = tempfile.mkdtemp(prefix="keel-tier-")
    try:
        s = tserver(live, durability="sync", data_dir=d)
        r = s.client()
        model = fill(r, 3000, 600)
        wait_tiered(r, 1500)
        r.execute_command("DEBUG", "TIERING-FAULT", "checkpoint-error", "1")
        with pytest.raises(redis.ResponseError):
            r.bgsave()
        assert tinfo(r)["tiering_recalling"] == 1
        info = wait_for(lambda: (lambda i: i if i["tiering_tiered_keys"] == 0 else None)(tinfo(r)),
                        what="every value back in memory")
        assert "checkpoint" in info["tiering_last_error"]
        assert "every value comes back" in s.read_log()
        more = fill(r, 1000, 600, prefix="after")
        time.sleep(0.5)
        assert tinfo(r)["tiering_tiered_keys"] == 0  # nothing goes out any more
        r.bgsave()  # no stubs: no checkpoint needed
        wait_for(lambda: r.info("snapshot")["snapshot_in_progress"] == 0 and
                 r.info("snapshot")["snapshot_saves_ok"] >= 1, what="BGSAVE")
        model.update(more)
        check_all(r, model)
        assert s.stop() == 0
        s2 = tserver(live, durability="sync", data_dir=d)
        r2 = s2.client()
        assert r2.info("snapshot")["snapshot_loaded_keys"] == len(model)
        check_all(r2, model)
        s2.kill()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def rss_anon_bytes(pid):
    """Anonymous resident memory: the heap, without file pages the log's reader maps."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def start_sampling_rss(live, args, data_dir, target):
    """Starts the server and samples its anonymous RSS every 5 ms while it loads (it answers
    nothing before the load is done). Returns the server and the peak seen."""
    s = KeelServer(args=["--tiering", "yes", "--tiering-memory-target", str(target),
                         "--tiering-min-value-size", "64", "--tiering-threads", "2"] + args,
                   durability="async", data_dir=data_dir)
    live.append(s)
    s.start(wait=False)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon_bytes(s.proc.pid))
            time.sleep(0.005)
    t = threading.Thread(target=sample)
    t.start()
    try:
        s.wait_ready(timeout=120)
    finally:
        done.set()
        t.join()
    return s, peak[0]


def check_bounded_start(r, rss_peak, data_bytes, target):
    """The load took values out as it went: the peak of used memory the loader saw, and the
    process's peak anonymous RSS while it loaded, stay far below the data set."""
    info = tinfo(r)
    peak = info["tiering_load_peak_used_memory"]
    print("load: used_memory peak %d, anonymous RSS peak %d, data %d, load waits %d, tiered %d"
          % (peak, rss_peak, data_bytes, info["tiering_load_waits"], info["tiering_tiered_keys"]))
    # the goal plus its slack (4 MiB) plus what is between the decoders and the keyspace
    assert peak < target + 16 * 2**20, (peak, target)
    assert r.info("memory")["used_memory"] < target + 16 * 2**20
    assert rss_peak > 0
    if not os.environ.get("KEEL_SANITIZED"):  # ASan's shadow and quarantine inflate RSS
        # RSS adds RocksDB's memtables and caches, and pages jemalloc has not given back
        assert rss_peak < data_bytes * 0.5, (rss_peak, data_bytes)
    assert info["tiering_load_waits"] > 0, info  # the loader did wait for the tier
    assert info["tiering_tiered_keys"] > 0


def test_start_up_tiers_values_while_it_loads_a_data_set_larger_than_the_target(live):
    target = 16 * 2**20
    d = tempfile.mkdtemp(prefix="keel-tier-")
    args = ["--tiering-write-buffer", "2mb", "--tiering-block-cache", "2mb"]
    try:
        s = tserver(live, args=args, durability="async", data_dir=d, target=str(target),
                    min_size="64")
        r = s.client()
        model = fill(r, 50000, 2000)  # 100 MB of values: six times the target
        r.bgsave()
        wait_for(lambda: r.info("snapshot")["snapshot_in_progress"] == 0 and
                 r.info("snapshot")["snapshot_saves_ok"] >= 1, timeout=120, what="BGSAVE")
        model.update(fill(r, 15000, 2000, prefix="after"))  # in the log only
        for k in list(model)[:500]:
            r.append(k, b"+tail")
            model[k] += b"+tail"
        data_bytes = sum(len(v) for v in model.values())
        # durability async acknowledges before the log thread writes: wait until the log has
        # everything (WAITAOF numlocal 1), so the SIGKILL below cannot take acknowledged writes
        assert r.execute_command("WAITAOF", 1, 0, 0)[0] == 1
        s.kill()  # SIGKILL: the snapshot, then the log after it
        s2, rss2 = start_sampling_rss(live, args, d, target)
        r2 = s2.client()
        assert r2.info("snapshot")["snapshot_loaded_keys"] >= 50000
        check_bounded_start(r2, rss2, data_bytes, target)
        check_all(r2, model)
        assert r2.dbsize() == len(model)
        assert s2.stop() == 0  # clean shutdown
        s3, rss3 = start_sampling_rss(live, args, d, target)
        r3 = s3.client()
        check_bounded_start(r3, rss3, data_bytes, target)
        check_all(r3, model)
        assert r3.dbsize() == len(model)
        assert tinfo(r3)["tiering_errors"] == 0
        s3.kill()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_maxmemory_sends_values_to_the_tier_before_it_evicts(live):
    s = tserver(live, args=["--maxmemory", "12mb", "--maxmemory-policy", "allkeys-lru"],
                target="0", min_size="64")
    r = s.client()
    try:
        model = fill(r, 30000, 1000)  # 30 MB of values into 12 MB
    except redis.ResponseError as e:
        info = r.info()
        raise AssertionError("a write was refused (%s): used_memory %d, evicted_keys %d, "
                             "waits %d, evictions allowed %d" %
                             (str(e)[-60:], info["used_memory"], info["evicted_keys"],
                              info["tiering_maxmemory_waits"],
                              info["tiering_maxmemory_evictions_allowed"]))
    info = r.info()
    assert info["evicted_keys"] == 0, {k: v for k, v in info.items() if "tiering" in k}
    assert r.dbsize() == len(model)
    assert info["tiering_tiered_keys"] > 10000
    # at most the limit once each SET was let in, plus the log's buffer of the last writes
    assert info["used_memory"] <= 13 * 2**20, info["used_memory"]
    assert info["tiering_maxmemory_waits"] > 0
    check_all(r, model)  # brings every value back in: reads do not evict
    wait_for(lambda: r.info("memory")["used_memory"] <= 12 * 2**20, what="values out again")
    assert r.info()["evicted_keys"] == 0
    # the tier fails: values cannot go out, so eviction deletes keys again
    r.execute_command("DEBUG", "TIERING-FAULT", "put-error", "1")
    more = fill(r, 10000, 1000, prefix="x")
    info = r.info()
    assert info["evicted_keys"] > 0
    assert info["tiering_maxmemory_evictions_allowed"] > 0
    assert r.dbsize() == len(model) + len(more) - info["evicted_keys"]
    everything = list(model.items()) + list(more.items())
    for i in range(0, len(everything), 500):
        part = everything[i:i + 500]
        for (k, v), got in zip(part, r.mget([k for k, _ in part])):
            assert got is None or got == v, k
    r.execute_command("DEBUG", "TIERING-FAULT", "put-error", "0")
