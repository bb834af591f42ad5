#!/usr/bin/env bash
# The main job on the emulated seed lab, from a fresh machine: set up, bring the lab up,
# provision + verify + report, tear down. Prints the summary and the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
topology=${1:-topologies/seed-lab.yaml}
# The handover block (as the README shows it) comes from these options; a topology with a
# `handover:` section gives the same.
exec .venv/bin/sriovcheck run "$topology" --lab --teardown \
  --customer "ACME Telco" --site "Frankfurt DC2" --rack R12 --executed-by "J. Doe" --witnessed-by "A. Customer"
