"""Runs Schemathesis against a fresh `aurra serve` from its own /openapi.json; meant to run
inside a network namespace with loopback only (test_openapi.py starts it with `unshare -n`),
so that nothing a generated request asks of the server can leave the machine.

usage: openapi_run.py DATA_DIR MAX_EXAMPLES  (prints a JSON summary on its last line)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from conftest import (READY_RE, aurra_bin, child_env, create_key, reset_operator,  # noqa: E402
                      store_flags)


def main() -> int:
    data_dir, max_examples = Path(sys.argv[1]), sys.argv[2]
    binary = aurra_bin()
    key = create_key(binary, data_dir, "fuzz", "schemathesis")
    # The operator credential, for the admin endpoints (issued before the server starts, so
    # its first start writes none).
    operator = reset_operator(binary, data_dir)
    log = open(data_dir.parent / "server.log", "w")
    server = subprocess.Popen(
        [str(binary), "serve", *store_flags(data_dir), "--bind", "127.0.0.1:0"],
        env={**child_env(), "AURRA_LOG": "warn"}, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        url = None
        for line in server.stdout:
            match = READY_RE.match(line.strip())
            if match:
                url = match.group(1)
                break
        assert url, "the server did not start"
        schemathesis = Path(sys.executable).parent / "schemathesis"

        def run(token, *select):
            return subprocess.run(
                [str(schemathesis), "run", f"{url}/openapi.json",
                 "-H", f"Authorization: Bearer {token}", *select,
                 "--checks", "all", "--max-examples", max_examples, "--workers", "1",
                 "--seed", os.environ.get("AURRA_SCHEMATHESIS_SEED", "20261202"), "--no-color"],
                env={**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
                     "PYTHONPATH": str(Path(__file__).parent)},
                capture_output=True, text=True, timeout=900)

        # The memory endpoints with the API key; the admin endpoints with the operator
        # credential (each refuses the other's).
        runs = [run(key, "--exclude-path-regex", "^/admin/"),
                run(operator, "--include-path-regex", "^/admin/")]
        health = requests.get(f"{url}/health", timeout=30)
        for done in runs:
            print(done.stdout[-20000:])
        returncode = max(done.returncode for done in runs)
        print(json.dumps({"returncode": returncode, "health": health.status_code,
                          "health_body": health.json(), "alive": server.poll() is None}))
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
