"""ACL users (docs/security.md, "Users and ACL"): rules, the checks at dispatch and at EXEC, the
ACL commands and their reply shapes, the ACL LOG, AUTH / HELLO AUTH, CLIENT LIST / KILL USER, the
aclfile (SAVE, LOAD, start), `user` lines in keel.conf, requirepass as the default user's
password, and masteruser for replication."""
import os
import socket
import tempfile
import time

import pytest
import redis

from keel_harness import KeelServer, RespError

from test_replication import repl_info, replica_of, snapshot_of, wait_caught_up, write_everything


@pytest.fixture
def admin(server):
    """A default-user client on the module's server; every user but default, the default user's
    rules and the ACL LOG are reset around each test."""
    c = server.client(decode_responses=True)

    def clean():
        for u in c.acl_users():
            if u != "default":
                c.acl_deluser(u)
        c.execute_command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
        c.execute_command("ACL", "LOG", "RESET")
        c.config_set("acllog-max-len", "128")

    clean()
    c.flushall()
    yield c
    clean()
    c.close()


def as_user(server, name, pw, **kw):
    return server.client(username=name, password=pw, decode_responses=True, **kw)


def log_entries(c):
    return c.execute_command("ACL", "LOG")


def entry(e):
    """An ACL LOG entry (a flat list in RESP2) as a dict."""
    return dict(zip(e[::2], e[1::2]))


def test_a_user_that_may_only_read_app_keys(server, admin):
    admin.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")
    admin.set("app:x", "1")
    admin.set("other:x", "2")
    app = as_user(server, "app", "pw")
    assert app.get("app:x") == "1"
    with pytest.raises(redis.exceptions.NoPermissionError) as ei:
        app.get("other:x")
    assert str(ei.value) == "No permissions to access a key"
    with pytest.raises(redis.exceptions.NoPermissionError) as ei:
        app.set("app:x", "3")
    assert str(ei.value) == "User app has no permissions to run the 'set' command"
    assert admin.get("app:x") == "1"
    log = [entry(e) for e in log_entries(admin)]
    assert [(e["reason"], e["object"], e["username"], e["context"]) for e in log] == [
        ("command", "set", "app", "toplevel"), ("key", "other:x", "app", "toplevel")]
    assert "user=app" in log[0]["client-info"]
    for e in log:
        assert e["count"] == 1 and float(e["age-seconds"]) < 60
        assert e["timestamp-created"] <= e["timestamp-last-updated"]
    assert log[0]["entry-id"] > log[1]["entry-id"]
    # The same denial again within 60 s is counted in the same entry, moved to the front.
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.get("other:x")
    log = [entry(e) for e in log_entries(admin)]
    assert len(log) == 2 and log[0]["object"] == "other:x" and log[0]["count"] == 2
    assert admin.info("stats")["acl_access_denied_key"] >= 2
    app.close()


def test_category_rules(server, admin):
    admin.execute_command("ACL", "SETUSER", "s", "on", ">pw", "allkeys", "-@all", "+@string")
    admin.execute_command("ACL", "SETUSER", "d", "on", ">pw", "allkeys", "+@all", "-@dangerous")
    s = as_user(server, "s", "pw")
    d = as_user(server, "d", "pw")
    s.set("k", "v")
    assert s.get("k") == "v"
    with pytest.raises(redis.exceptions.NoPermissionError, match="'lpush' command"):
        s.lpush("l", "x")
    d.lpush("l", "x")
    with pytest.raises(redis.exceptions.NoPermissionError, match="'flushall' command"):
        d.flushall()
    with pytest.raises(redis.exceptions.NoPermissionError, match="'config|set' command"):
        d.config_set("maxmemory", "0")
    assert admin.exists("k", "l") == 2
    assert "get" in admin.execute_command("ACL", "CAT", "read")
    assert "set" not in admin.execute_command("ACL", "CAT", "read")
    assert "config|get" in admin.execute_command("ACL", "CAT", "admin")
    cats = admin.execute_command("ACL", "CAT")
    assert {"read", "write", "admin", "dangerous", "pubsub"} <= set(cats)
    with pytest.raises(redis.ResponseError, match="Unknown category 'nope'"):
        admin.execute_command("ACL", "CAT", "nope")
    s.close()
    d.close()


def test_subcommand_rules(server, admin):
    admin.execute_command("ACL", "SETUSER", "cg", "on", ">pw", "-@all", "+config|get")
    cg = as_user(server, "cg", "pw")
    assert cg.config_get("maxmemory") == {"maxmemory": "0"}
    with pytest.raises(redis.exceptions.NoPermissionError) as ei:
        cg.config_set("maxmemory", "1")
    assert str(ei.value) == "User cg has no permissions to run the 'config|set' command"
    assert admin.config_get("maxmemory") == {"maxmemory": "0"}
    user = admin.acl_getuser("cg")
    assert user["categories"] == ["-@all"] and user["commands"] == ["+config|get"]
    with pytest.raises(redis.ResponseError) as ei:
        admin.execute_command("ACL", "SETUSER", "cg", "+config|nosuch")
    assert str(ei.value) == ("Error in ACL SETUSER modifier '+config|nosuch': Unknown command or "
                             "category name in ACL")
    cg.close()


def test_channel_patterns(server, admin):
    admin.execute_command("ACL", "SETUSER", "ps", "on", ">pw", "+@all", "resetkeys", "&news.*")
    ps = as_user(server, "ps", "pw")
    assert ps.publish("news.1", "hi") == 0
    with pytest.raises(redis.exceptions.NoPermissionError) as ei:
        ps.publish("sport", "hi")
    assert str(ei.value) == "No permissions to access a channel"
    raw = server.raw()
    assert raw.call("AUTH", "ps", "pw") == "OK"
    err = raw.call("SUBSCRIBE", "news.1", "sport")
    assert isinstance(err, RespError) and str(err) == "NOPERM No permissions to access a channel"
    # PSUBSCRIBE patterns are matched literally against the allowed patterns.
    assert str(raw.call("PSUBSCRIBE", "news.1")).startswith("NOPERM")
    assert raw.call("PSUBSCRIBE", "news.*") == [b"psubscribe", b"news.*", 1]
    raw.close()
    log = [entry(e) for e in log_entries(admin)]
    assert ("channel", "news.1") in [(e["reason"], e["object"]) for e in log]
    assert ("channel", "sport") in [(e["reason"], e["object"]) for e in log]
    ps.close()


def test_revoking_a_channel_closes_its_subscriber(server, admin):
    admin.execute_command("ACL", "SETUSER", "sub", "on", ">pw", "+@all", "&news.*", "&sport")
    raw = server.raw()
    raw.call("AUTH", "sub", "pw")
    assert raw.call("SUBSCRIBE", "sport") == [b"subscribe", b"sport", 1]
    other = server.raw()
    other.call("AUTH", "sub", "pw")
    assert other.call("SUBSCRIBE", "news.1") == [b"subscribe", b"news.1", 1]
    # Widening keeps both; dropping sport closes the one subscribed to it, not the other.
    admin.execute_command("ACL", "SETUSER", "sub", "&weather")
    assert admin.publish("sport", "x") == 1
    assert raw.read() == [b"message", b"sport", b"x"]
    admin.execute_command("ACL", "SETUSER", "sub", "resetchannels", "&news.*")
    with pytest.raises((ConnectionError, OSError)):
        raw.read()
    assert admin.publish("news.1", "y") == 1
    assert other.read() == [b"message", b"news.1", b"y"]
    raw.close()
    other.close()


def test_wrong_password_is_wrongpass_and_logged(server, admin):
    admin.execute_command("ACL", "SETUSER", "u", "on", ">right", "+@all")
    raw = server.raw()
    err = raw.call("AUTH", "u", "wrong")
    assert str(err) == "WRONGPASS invalid username-password pair or user is disabled."
    assert str(raw.call("AUTH", "nosuchuser", "x")).startswith("WRONGPASS")
    assert raw.call("AUTH", "u", "right") == "OK"
    assert raw.call("ACL", "WHOAMI") == b"u"
    raw.close()
    log = [entry(e) for e in log_entries(admin)]
    assert [(e["reason"], e["object"], e["username"]) for e in log] == [
        ("auth", "AUTH", "nosuchuser"), ("auth", "AUTH", "u")]
    assert admin.info("stats")["acl_access_denied_auth"] >= 2
    # A disabled user cannot authenticate, even with its password.
    admin.execute_command("ACL", "SETUSER", "u", "off")
    raw = server.raw()
    assert str(raw.call("AUTH", "u", "right")).startswith("WRONGPASS")
    raw.close()


def test_hello_auth(server, admin):
    admin.execute_command("ACL", "SETUSER", "h", "on", ">pw", "+@all", "~*")
    raw = server.raw()
    err = raw.call("HELLO", "3", "AUTH", "h", "bad")
    assert str(err).startswith("WRONGPASS")
    reply = raw.call("HELLO", "3", "AUTH", "h", "pw", "SETNAME", "me")
    assert reply[b"proto"] == 3
    assert raw.call("ACL", "WHOAMI") == b"h"
    info = raw.call("CLIENT", "INFO")
    assert " user=h " in info and " name=me " in info
    assert raw.call("RESET") == "RESET"
    assert raw.call("ACL", "WHOAMI") == b"default"
    raw.close()
    log = [entry(e) for e in log_entries(admin)]
    assert [(e["reason"], e["object"], e["username"]) for e in log] == [("auth", "HELLO", "h")]


def test_deluser_disconnects_its_clients(server, admin):
    admin.execute_command("ACL", "SETUSER", "tmp", "on", ">pw", "+@all", "~*")
    a = as_user(server, "tmp", "pw", single_connection_client=True)
    b = as_user(server, "tmp", "pw", single_connection_client=True)
    assert a.ping() and b.ping()
    assert "user=tmp" in admin.execute_command("CLIENT", "LIST")
    with pytest.raises(redis.ResponseError, match="The 'default' user cannot be removed"):
        admin.execute_command("ACL", "DELUSER", "tmp", "default")
    assert admin.execute_command("ACL", "DELUSER", "tmp", "nosuch") == 1
    for c in (a, b):
        c.retry_on_timeout = False
        with pytest.raises(redis.ConnectionError):
            c.connection.send_command("PING")
            c.connection.read_response()
    assert "user=tmp" not in admin.execute_command("CLIENT", "LIST")
    assert admin.ping()
    # A user deleting itself gets its reply, then the connection goes.
    admin.execute_command("ACL", "SETUSER", "self", "on", ">pw", "+@all", "~*")
    raw = server.raw()
    raw.call("AUTH", "self", "pw")
    assert raw.call("ACL", "DELUSER", "self") == 1
    with pytest.raises((ConnectionError, OSError)):
        raw.call("PING")
    raw.close()
    # Inside MULTI: the whole EXEC reply first.
    admin.execute_command("ACL", "SETUSER", "self", "on", ">pw", "+@all", "~*")
    raw = server.raw()
    raw.call("AUTH", "self", "pw")
    raw.call("MULTI")
    raw.call("ACL", "DELUSER", "self")
    raw.call("PING")
    assert raw.call("EXEC") == [1, "PONG"]
    with pytest.raises((ConnectionError, OSError)):
        raw.call("PING")
    raw.close()


def test_client_kill_user(server, admin):
    admin.execute_command("ACL", "SETUSER", "k", "on", ">pw", "+@all", "~*")
    conns = [server.raw() for _ in range(2)]
    for c in conns:
        assert c.call("AUTH", "k", "pw") == "OK"
    keep = server.raw()
    assert admin.execute_command("CLIENT", "KILL", "USER", "k") == 2
    for c in conns:
        with pytest.raises((ConnectionError, OSError)):
            c.call("PING")
        c.close()
    assert keep.call("PING") == "PONG"
    keep.close()
    with pytest.raises(redis.ResponseError, match="No such user 'nosuch'"):
        admin.execute_command("CLIENT", "KILL", "USER", "nosuch")


def test_multi_is_checked_when_queued_and_again_at_exec(server, admin):
    admin.execute_command("ACL", "SETUSER", "m", "on", ">pw", "~app:*", "+@all")
    raw = server.raw()
    raw.call("AUTH", "m", "pw")
    assert raw.call("MULTI") == "OK"
    assert str(raw.call("GET", "other")).startswith("NOPERM")
    assert str(raw.call("EXEC")).startswith("EXECABORT")
    # Allowed when queued, refused at EXEC after the rules changed.
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "app:1", "v") == "QUEUED"
    assert raw.call("GET", "app:1") == "QUEUED"
    admin.execute_command("ACL", "SETUSER", "m", "-set")
    out = raw.call("EXEC")
    assert str(out[0]) == ("NOPERM ACLs rules changed between the moment the transaction was "
                           "accumulated and the EXEC call. This command is no longer allowed for "
                           "the following reason: no permission to execute the command or "
                           "subcommand")
    assert out[1] is None
    raw.close()
    log = [entry(e) for e in log_entries(admin)]
    assert [(e["reason"], e["object"], e["context"]) for e in log] == [
        ("command", "set", "multi"), ("key", "other", "multi")]


def test_getuser_shape_in_resp2_and_resp3(server, admin):
    admin.execute_command("ACL", "SETUSER", "g", "on", ">pw", "~a:*", "%R~r:*", "&ch",
                          "-@all", "+get")
    r2 = server.raw()
    flat = r2.call("ACL", "GETUSER", "g")
    assert flat[::2] == [b"flags", b"passwords", b"commands", b"keys", b"channels", b"selectors"]
    d = dict(zip(flat[::2], flat[1::2]))
    assert d[b"flags"] == [b"on", b"sanitize-payload"]
    assert d[b"passwords"] == [
        b"30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"]  # SHA-256("pw")
    assert d[b"commands"] == b"-@all +get"
    assert d[b"keys"] == b"~a:* %R~r:*"
    assert d[b"channels"] == b"&ch"
    assert d[b"selectors"] == []
    assert r2.call("ACL", "GETUSER", "nosuch") is None
    r2.close()
    r3 = server.raw(resp=3)
    m = r3.call("ACL", "GETUSER", "g")
    assert isinstance(m, dict)
    assert m[b"flags"] == {b"on", b"sanitize-payload"}
    assert m[b"commands"] == b"-@all +get" and m[b"selectors"] == []
    log = r3.call("ACL", "LOG")
    assert log == []
    r3.close()


def test_dryrun(server, admin):
    admin.execute_command("ACL", "SETUSER", "dr", "on", ">pw", "~app:*", "&ch", "+@read",
                          "+publish")
    dry = lambda *a: admin.execute_command("ACL", "DRYRUN", "dr", *a)  # noqa: E731
    assert dry("GET", "app:1") == "OK"
    assert dry("GET", "x") == "User dr has no permissions to access the 'x' key"
    assert dry("SET", "app:1", "v") == "User dr has no permissions to run the 'set' command"
    assert dry("PUBLISH", "nope", "m") == "User dr has no permissions to access the 'nope' channel"
    with pytest.raises(redis.ResponseError, match="User 'nosuch' not found"):
        admin.execute_command("ACL", "DRYRUN", "nosuch", "GET", "x")
    with pytest.raises(redis.ResponseError, match="Command 'nocmd' not found"):
        dry("nocmd")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
        dry("GET")
    assert log_entries(admin) == []  # a dry run logs nothing


def test_genpass(admin):
    p = admin.execute_command("ACL", "GENPASS")
    assert len(p) == 64 and all(ch in "0123456789abcdef" for ch in p)
    assert admin.execute_command("ACL", "GENPASS") != p
    assert len(admin.execute_command("ACL", "GENPASS", "32")) == 8
    assert len(admin.execute_command("ACL", "GENPASS", "5")) == 2
    assert len(admin.execute_command("ACL", "GENPASS", "4096")) == 1024
    for bad in ("0", "4097", "-1"):
        with pytest.raises(redis.ResponseError, match="a positive number up to 4096"):
            admin.execute_command("ACL", "GENPASS", bad)


def test_list_users_whoami_and_log_length(server, admin):
    admin.execute_command("ACL", "SETUSER", "zed", "on", ">pw", "~*", "+@all")
    admin.execute_command("ACL", "SETUSER", "amy")
    assert admin.acl_users() == ["amy", "default", "zed"]
    assert admin.execute_command("ACL", "LIST") == [
        "user amy off sanitize-payload resetchannels -@all",
        "user default on nopass sanitize-payload ~* &* +@all",
        "user zed on sanitize-payload "
        "#30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* resetchannels "
        "+@all"]
    assert admin.execute_command("ACL", "WHOAMI") == "default"
    admin.config_set("acllog-max-len", "2")
    raw = server.raw()
    for u in ("a", "b", "c"):
        raw.call("AUTH", u, "x")
    raw.close()
    log = [entry(e) for e in log_entries(admin)]
    assert [e["username"] for e in log] == ["c", "b"]
    assert len(admin.execute_command("ACL", "LOG", "1")) == 1
    assert admin.execute_command("ACL", "LOG", "RESET") == "OK"
    assert log_entries(admin) == []
    with pytest.raises(redis.ResponseError, match="argument must be between 0 and 10000"):
        admin.config_set("acllog-max-len", "10001")
    with pytest.raises(redis.ResponseError, match="not configured to use an ACL file"):
        admin.execute_command("ACL", "SAVE")


def test_the_longest_user_name_in_client_list(server, admin):
    name = "n" * 256
    admin.execute_command("ACL", "SETUSER", name, "on", "nopass", "+@all")
    raw = server.raw()
    assert raw.call("AUTH", name, "x") == "OK"
    assert " user=%s " % name in admin.execute_command("CLIENT", "LIST")
    # With a long client name too the line is cut, never overrun.
    assert raw.call("CLIENT", "SETNAME", "c" * 700) == "OK"
    info = raw.call("CLIENT", "INFO").decode()
    assert info.startswith("id=") and info.endswith("\n") and len(info) <= 1024
    raw.close()


def test_rule_limits_and_errors(admin):
    with pytest.raises(redis.ResponseError) as ei:
        admin.execute_command("ACL", "SETUSER", "e", "on", "bogus")
    assert str(ei.value) == "Error in ACL SETUSER modifier 'bogus': Syntax error"
    assert "e" not in admin.acl_users()
    with pytest.raises(redis.ResponseError, match="spaces or null characters"):
        admin.execute_command("ACL", "SETUSER", "a b", "on")
    with pytest.raises(redis.ResponseError, match="Usernames must be 1 to 256 bytes"):
        admin.execute_command("ACL", "SETUSER", "n" * 257, "on")
    with pytest.raises(redis.ResponseError, match="Pattern too long"):
        admin.execute_command("ACL", "SETUSER", "p", "~" + "k" * 1025)
    with pytest.raises(redis.ResponseError, match="Selectors are not supported"):
        admin.execute_command("ACL", "SETUSER", "p", "(~x +get)")
    with pytest.raises(redis.ResponseError, match="Too many ACL rules"):
        admin.execute_command("ACL", "SETUSER", "p", *(["on"] * 1025))


# ---- servers of their own: requirepass, aclfile, keel.conf, replication ----


def start(live, args=(), **kw):
    s = KeelServer(args=list(args), **kw)
    live.append(s)
    return s.start()


def test_requirepass_is_the_default_users_password(live):
    s = start(live, ["--requirepass", "s3"])
    raw = s.raw()
    assert str(raw.call("GET", "k")).startswith("NOAUTH")
    assert raw.call("AUTH", "s3") == "OK"
    assert raw.call("ACL", "WHOAMI") == b"default"
    d = raw.call("ACL", "GETUSER", "default")
    assert d[d.index(b"flags") + 1] == [b"on", b"sanitize-payload"]
    assert raw.call("CONFIG", "SET", "requirepass", "other") == "OK"
    assert raw.call("CONFIG", "GET", "requirepass") == [b"requirepass", b"other"]
    fresh = s.raw()
    assert str(fresh.call("AUTH", "s3")).startswith("WRONGPASS")
    assert fresh.call("AUTH", "default", "other") == "OK"
    fresh.close()
    # No password: new connections are authenticated, AUTH <pass> is an error.
    assert raw.call("CONFIG", "SET", "requirepass", "") == "OK"
    fresh = s.raw()
    assert fresh.call("PING") == "PONG"
    assert str(fresh.call("AUTH", "x")).startswith(
        "ERR AUTH <password> called without any password configured for the default user")
    fresh.close()
    # The default user's rules decide too: a password set by ACL SETUSER, or the user off.
    assert raw.call("ACL", "SETUSER", "default", ">zz") == "OK"
    fresh = s.raw()
    assert str(fresh.call("PING")).startswith("NOAUTH")
    assert fresh.call("AUTH", "zz") == "OK"
    fresh.close()
    assert raw.call("ACL", "SETUSER", "default", "nopass", "off") == "OK"
    fresh = s.raw()
    assert str(fresh.call("PING")).startswith("NOAUTH")
    assert str(fresh.call("AUTH", "default", "any")).startswith("WRONGPASS")
    fresh.close()
    assert raw.call("PING") == "PONG", "an authenticated connection stays so"
    raw.close()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_acl_save_then_restart_with_the_aclfile(live):
    d = tempfile.mkdtemp(prefix="keel-acl-")
    path = os.path.join(d, "users.acl")
    write(path, "user default on nopass ~* &* +@all\n")
    s = start(live, ["--aclfile", path])
    c = s.client(decode_responses=True)
    c.execute_command("ACL", "SETUSER", "alice", "on", ">pw", "~a:*", "%W~w:*", "&ch.*",
                      "-@all", "+@read", "+config|get")
    c.execute_command("ACL", "SETUSER", "bob", "off", "nopass", "allkeys", "+@all", "-@admin")
    c.execute_command("ACL", "SETUSER", "default", "resetpass", ">adminpw")
    before = c.execute_command("ACL", "LIST")
    assert c.execute_command("ACL", "SAVE") == "OK"
    assert not [f for f in os.listdir(d) if ".tmp-" in f], "no temporary file left"
    with open(path) as f:
        assert f.read().splitlines() == before
    c.close()
    assert s.stop() == 0
    s.start()
    c = s.client(username="default", password="adminpw", decode_responses=True)
    assert c.execute_command("ACL", "LIST") == before
    alice = s.client(username="alice", password="pw", decode_responses=True)
    assert alice.get("a:1") is None
    with pytest.raises(redis.exceptions.NoPermissionError):
        alice.get("b:1")
    alice.close()
    c.close()


def test_acl_load_with_a_broken_file_keeps_the_old_users(live):
    d = tempfile.mkdtemp(prefix="keel-acl-")
    path = os.path.join(d, "users.acl")
    write(path, "user default on nopass ~* &* +@all\nuser old on >pw ~* +@all\n")
    s = start(live, ["--aclfile", path])
    c = s.client(decode_responses=True)
    before = c.execute_command("ACL", "LIST")
    old = s.raw()
    assert old.call("AUTH", "old", "pw") == "OK"
    write(path, "user default on nopass ~* &* +@all\nuser new on +nosuchcmd\nbogus line\n")
    with pytest.raises(redis.ResponseError) as ei:
        c.execute_command("ACL", "LOAD")
    msg = str(ei.value)
    assert ":2: Error in applying operation '+nosuchcmd'" in msg
    assert ":3 should start with user keyword" in msg
    assert "no change to the previously active ACL rules was performed" in msg
    assert c.execute_command("ACL", "LIST") == before
    assert old.call("PING") == "PONG"
    # A good file replaces every user; clients of the users it replaced are closed.
    write(path, "user new on >n +@all ~*\n")
    assert c.execute_command("ACL", "LOAD") == "OK"
    assert c.acl_users() == ["default", "new"]
    with pytest.raises((ConnectionError, OSError)):
        old.call("PING")
    old.close()
    # The file had no default user: it is the factory one.
    assert "user default on nopass sanitize-payload ~* &* +@all" in c.execute_command("ACL", "LIST")
    assert c.ping(), "the default user's clients stay"
    c.close()


def exits_with(live, args, config_text=None):
    """Start a server that must refuse to start; returns its log."""
    kw = {}
    if config_text is not None:
        fd, conf = tempfile.mkstemp(prefix="keel-acl-", suffix=".conf")
        os.write(fd, config_text.encode())
        os.close(fd)
        kw["config_file"] = conf
    s = KeelServer(args=list(args), **kw)
    live.append(s)
    s.start(wait=False)
    rc = s.proc.wait(timeout=30)
    assert rc != 0
    return s.read_log()


def test_bad_acl_configuration_stops_the_start(live):
    d = tempfile.mkdtemp(prefix="keel-acl-")
    path = os.path.join(d, "users.acl")
    write(path, "user alice on >pw +nosuchcmd\n")
    log = exits_with(live, ["--aclfile", path])
    assert "Error in applying operation '+nosuchcmd'" in log
    log = exits_with(live, ["--aclfile", os.path.join(d, "missing.acl")])
    assert "Error loading ACLs, opening file" in log
    write(path, "user default on nopass ~* &* +@all\n")
    log = exits_with(live, [], "aclfile %s\nuser alice on >pw\n" % path)
    assert "define either an aclfile or `user` lines, not both" in log
    log = exits_with(live, [], "user alice on >pw bogus\n")
    assert "Error loading ACL rule 'bogus' for the user named 'alice': Syntax error" in log
    log = exits_with(live, [], "user alice on\nuser alice off\n")
    assert "Duplicate user 'alice'" in log


def test_user_lines_in_keel_conf_and_config_rewrite(live):
    fd, conf = tempfile.mkstemp(prefix="keel-acl-", suffix=".conf")
    os.write(fd, b"user alice on >pw ~* +@all\nuser default on >dpw ~* &* +@all\n")
    os.close(fd)
    s = KeelServer(config_file=conf)
    live.append(s)
    s.start()
    raw = s.raw()
    assert str(raw.call("PING")).startswith("NOAUTH"), "the default user has a password"
    assert raw.call("AUTH", "alice", "pw") == "OK"
    assert raw.call("ACL", "SETUSER", "bob", "on", ">b", "~b:*", "+get") == "OK"
    assert raw.call("CONFIG", "REWRITE") == "OK"
    before = raw.call("ACL", "LIST")
    raw.close()
    with open(conf) as f:
        lines = [ln for ln in f.read().splitlines() if ln.startswith("user ")]
    assert [ln.split()[1] for ln in lines] == ["alice", "bob", "default"]
    assert s.stop() == 0
    s.start()
    raw = s.raw()
    assert raw.call("AUTH", "bob", "b") == "OK"
    assert raw.call("AUTH", "alice", "pw") == "OK"
    assert raw.call("ACL", "LIST") == before
    assert raw.call("CONFIG", "GET", "user") == [], "`user` is a directive, not a setting"
    raw.close()


def test_masteruser_needs_psync_and_replconf(live):
    p = start(live, durability="sync")
    pc = p.client()
    pc.execute_command("ACL", "SETUSER", "norepl", "on", ">np", "~*", "+@all", "-psync")
    pc.execute_command("ACL", "SETUSER", "repl", "on", ">rp", "-@all", "+psync", "+replconf",
                       "+ping")
    pc.execute_command("ACL", "SETUSER", "default", "resetpass", ">adm")
    pc = p.client(password="adm")
    write_everything(pc, "a", 50)
    bad = replica_of(live, p.port, ["--masteruser", "norepl", "--masterauth", "np"])
    deadline = time.time() + 20
    err = ""
    while time.time() < deadline:
        err = str(repl_info(bad.client()).get("keel_link_error", ""))
        if "NOPERM" in err:
            break
        time.sleep(0.1)
    assert "NOPERM" in err and "psync" in err, err
    assert repl_info(bad.client())["master_link_status"] == "down"
    log = [entry(e) for e in p.client(password="adm", decode_responses=True)
           .execute_command("ACL", "LOG")]
    assert ("command", "psync", "norepl") in [(e["reason"], e["object"], e["username"])
                                             for e in log]
    good = replica_of(live, p.port, ["--masteruser", "repl", "--masterauth", "rp"])
    rc = good.client()
    wait_caught_up(pc, rc)
    write_everything(pc, "b", 20)
    wait_caught_up(pc, rc)
    assert snapshot_of(rc) == snapshot_of(pc)
    assert "user=repl" in pc.execute_command("CLIENT", "LIST").decode()
