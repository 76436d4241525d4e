"""Regenerate the `general` env's shipped task set, `envs/general/data/builtin.json.gz`.

Runs the procedural synthesis pipeline (`agentgym.synth.general.bundle.build_bundle`: 200 tasks, seed 0, about 30 s)
and writes the bundle that `GeneralEnv()` serves when it is given no tasks. The env cannot import `synth`
(tests/test_layering.py), so the set ships as package data and is materialized into the user cache on first use.

Usage: python scripts/build_general_bundle.py [OUT]
"""

from __future__ import annotations

import sys

from agentgym.synth.general.bundle import main

if __name__ == "__main__":
    main(sys.argv[1:])
