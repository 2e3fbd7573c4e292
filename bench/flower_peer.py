#!/usr/bin/env python3
"""Flower (flwr) per-round overhead peer benchmark.

What: wall time of one FedAvg round with 1 Flower server + 2 Flower clients, each a
separate OS process, on 127.0.0.1 over TLS (gRPC, throwaway CA + server cert made
with `openssl`). The model is an MLP 784-256-128-10 as float32 numpy arrays
(235,146 params). No training: client fit() returns the received parameters
unchanged (num_examples=1); no evaluation (fraction_evaluate=0).

How: legacy flwr.server.start_server / flwr.client.start_client API (deprecated but
still functional in flwr 1.x, grpc-bidi transport). A FedAvg subclass on the server
timestamps each round: start = entry of configure_fit (after both clients are
connected), end = return of aggregate_fit. So a round = serialize + send model to
both clients, client deserialize/serialize, receive results, FedAvg aggregate.

Usage: python3 bench/flower_peer.py [--rounds 20] [--port 0] [--timeout 170]
Prints flower_version=, flower_round_ms=, flower_median_ms= ; exit 0 on success.
Needs `pip install flwr` (python3 on PATH) and the `openssl` CLI.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

SHAPES = [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]


def run_server(a):
    import numpy as np
    import flwr as fl

    class TimedFedAvg(fl.server.strategy.FedAvg):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.t0, self.ms, self.nres = {}, [], []

        def configure_fit(self, server_round, parameters, client_manager):
            client_manager.wait_for(2, timeout=60)  # don't count client connect time
            self.t0[server_round] = time.perf_counter()
            return super().configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round, results, failures):
            out = super().aggregate_fit(server_round, results, failures)
            self.ms.append((time.perf_counter() - self.t0[server_round]) * 1e3)
            self.nres.append((len(results), len(failures)))
            return out

    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    strat = TimedFedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=2,
                        min_evaluate_clients=0, min_available_clients=2,
                        initial_parameters=fl.common.ndarrays_to_parameters(init))
    d = a.tmpdir
    certs = tuple(open(os.path.join(d, f), "rb").read() for f in ("ca.pem", "server.pem", "server.key"))
    fl.server.start_server(server_address=f"127.0.0.1:{a.port}", strategy=strat, certificates=certs,
                           config=fl.server.ServerConfig(num_rounds=a.rounds, round_timeout=30))
    with open(os.path.join(d, "result.json"), "w") as f:
        json.dump({"ms": strat.ms, "nres": strat.nres, "version": fl.__version__}, f)


def run_client(a):
    import flwr as fl

    class EchoClient(fl.client.NumPyClient):
        def get_parameters(self, config):
            import numpy as np
            return [np.zeros(s, np.float32) for s in SHAPES]

        def fit(self, parameters, config):
            return parameters, 1, {}  # no training: echo the model back

    fl.client.start_client(server_address=f"127.0.0.1:{a.port}", client=EchoClient().to_client(),
                           root_certificates=open(os.path.join(a.tmpdir, "ca.pem"), "rb").read(),
                           insecure=False)


def make_certs(d):
    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bench-ca",
         "-keyout", "ca.key", "-out", "ca.pem")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "1", "-extfile", "ext.cnf", "-out", "server.pem")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--timeout", type=float, default=170.0, help="whole-run limit, seconds")
    p.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    p.add_argument("--tmpdir", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.role == "server":
        return run_server(a)
    if a.role == "client":
        return run_client(a)

    deadline = time.monotonic() + a.timeout
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("flower_peer: terminated"))
    tmp, procs, logs = tempfile.mkdtemp(prefix="flower_peer_"), [], []
    try:
        try:
            import flwr  # noqa: F401  (fail fast with a clear message)
        except ImportError:
            sys.exit(f"flower_peer: flwr not installed for {sys.executable}; run: python3 -m pip install flwr")
        make_certs(tmp)
        port = a.port
        if port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        env = dict(os.environ, FLWR_TELEMETRY_ENABLED="0", PYTHONUNBUFFERED="1")
        base = [sys.executable, os.path.abspath(__file__), "--port", str(port), "--rounds", str(a.rounds),
                "--tmpdir", tmp, "--role"]
        for i, role in enumerate(["server", "client", "client"]):
            log = open(os.path.join(tmp, f"{role}{i}.log"), "w")
            logs.append(log)
            procs.append(subprocess.Popen(base + [role], stdout=log, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True))
            if i == 0:
                time.sleep(1.0)  # let the server bind first (clients retry anyway)
        server = procs[0]
        while server.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {a.timeout:.0f}s")
            if any(c.poll() not in (None, 0) for c in procs[1:]):
                raise RuntimeError("a client exited with an error")
            time.sleep(0.1)
        res_path = os.path.join(tmp, "result.json")
        if server.returncode != 0 or not os.path.exists(res_path):
            raise RuntimeError(f"server exited with code {server.returncode} and no result")
        res = json.load(open(res_path))
        ms = res["ms"]
        if len(ms) != a.rounds or any(r != (2, 0) for r in map(tuple, res["nres"])):
            raise RuntimeError(f"incomplete run: rounds={len(ms)} results/failures={res['nres']}")
        print(f"flower_version={res['version']}")
        print("flower_round_ms=" + ",".join(f"{x:.2f}" for x in ms))
        print(f"flower_median_ms={statistics.median(ms):.2f}")
        return 0
    except (Exception, SystemExit) as e:
        msg = e if isinstance(e, Exception) else e.code
        print(f"flower_peer: FAILED: {msg}", file=sys.stderr)
        for log in logs:  # show child log tails to explain the failure
            log.flush()
            try:
                tail = open(log.name).read()[-1500:]
            except OSError:
                continue
            print(f"--- {os.path.basename(log.name)} (tail) ---\n{tail}", file=sys.stderr)
        return 1
    finally:
        for pr in procs:
            if pr.poll() is None:
                try:
                    os.killpg(pr.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for pr in procs:
            try:
                pr.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(pr.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pr.wait()
        for log in logs:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
