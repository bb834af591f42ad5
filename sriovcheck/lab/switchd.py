"""The Junos emulator process of a lab: `python -m sriovcheck.lab.switchd --state-dir DIR [--ready-fd N]`.

`lab up` starts it detached. It serves the live switch view of the lab in DIR on 127.0.0.1. The
password, when the topology names a variable in switch.password_env, is read from this process's
environment and is never written anywhere; the lab's own client key is always authorized.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from sriovcheck.errors import SriovcheckError
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.switch_view import KernelSnapshotSource


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sriovcheck.lab.switchd", description=__doc__)
    parser.add_argument("--state-dir", required=True, help="the lab's directory (<state_root>/<topology>/lab)")
    parser.add_argument("--ready-fd", type=int, default=None, help='write "ready <port>\\n" here once listening')
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s switchd[%(process)d] %(levelname)s %(message)s")
    try:
        st = lab_state.load(args.state_dir)
        password = os.environ.get(st.password_env) if st.password_env else None
        from sriovcheck.lab.junos.server import serve

        source = KernelSnapshotSource(args.state_dir)
        try:
            serve(source, host=st.emulator.host, port=args.port, host_key_path=st.host_key, password=password,
                  authorized_keys_path=st.authorized_keys, username=st.username, ready_fd=args.ready_fd,
                  login_log=str(Path(args.state_dir) / "logins.jsonl"))
        finally:
            source.close()
    except SriovcheckError as exc:
        print(f"switchd: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
