"""The stock clients against the real server: redis-benchmark and redis-cli."""
import re
import subprocess


def run(args, **kw):
    return subprocess.run(args, capture_output=True, timeout=120, **kw)


def test_redis_benchmark_smoke(server):
    res = run(["redis-benchmark", "-p", str(server.port), "-n", "2000", "-c", "10", "-q",
               "-t", "ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset"])
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out + res.stderr.decode(errors="replace")
    # Every test reports a rate; none of them saw an error reply.
    rates = re.findall(r"([A-Z_0-9 ()]+): ([0-9.]+) requests per second", out.replace("\r", "\n"))
    assert len(rates) >= 15, out
    assert all(float(r[1]) > 0 for r in rates)
    assert "ERR" not in out and "WRONGTYPE" not in out


def test_redis_benchmark_pipelined_with_values(server):
    res = run(["redis-benchmark", "-p", str(server.port), "-n", "5000", "-c", "20", "-P", "16",
               "-d", "512", "-r", "1000", "-q", "-t", "set,get"])
    assert res.returncode == 0
    assert res.stdout.count(b"requests per second") == 2


def test_redis_cli_commands_and_errors(server):
    cli = ["redis-cli", "-p", str(server.port)]
    assert run(cli + ["SET", "greeting", "hello world"]).stdout == b"OK\n"
    assert run(cli + ["GET", "greeting"]).stdout == b"hello world\n"
    assert run(cli + ["--no-raw", "GET", "nokey"]).stdout == b"(nil)\n"
    out = run(cli + ["--no-raw", "INCR", "greeting"]).stdout
    assert out == b"(error) ERR value is not an integer or out of range\n"
    run(cli + ["RPUSH", "list", "a", "b", "c"])
    assert run(cli + ["LRANGE", "list", "0", "-1"]).stdout == b"a\nb\nc\n"
    info = run(cli + ["INFO", "server"]).stdout.decode()
    assert "redis_version:" in info and "keel_version:" in info


def test_redis_cli_resp3_and_scan(server):
    cli = ["redis-cli", "-p", str(server.port)]
    for i in range(50):
        run(cli + ["SET", "scan:%d" % i, "v"])
    keys = run(cli + ["--scan", "--pattern", "scan:*"]).stdout.split()
    assert sorted(keys) == sorted(b"scan:%d" % i for i in range(50))
    run(cli + ["HSET", "h3", "f", "v"])
    out = run(cli + ["-3", "--no-raw", "HGETALL", "h3"]).stdout
    assert out == b'1# "f" => "v"\n'  # redis-cli prints a RESP3 map this way


def test_redis_cli_stdin_and_eval_args(server):
    cli = ["redis-cli", "-p", str(server.port)]
    res = run(cli, input=b"SET piped 1\nINCRBY piped 41\nGET piped\n")
    assert res.stdout.splitlines()[-1] == b"42"
