#!/usr/bin/env bash
# The main job on the emulated seed lab, from a fresh machine: set up, bring the lab up,
# provision + verify + report, tear down. Prints the summary and the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
topology=${1:-topologies/seed-lab.yaml}
exec .venv/bin/sriovcheck run "$topology" --lab --teardown
