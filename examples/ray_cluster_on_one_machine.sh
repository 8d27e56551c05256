#!/usr/bin/env bash
# A two-node Ray cluster on one machine: a short controller training on it, then a quick evaluation.
# Needs: pip install -e ".[ray]". Run from the repository root. docs/ray.md shows this script.
set -euo pipefail
export RAY_AUTH_MODE=token                   # Ray's token authentication, as on a real cluster
ray get-auth-token --generate > /dev/null    # makes ~/.ray/auth_token where none exists; both nodes read it
trap 'ray stop > /dev/null 2>&1' EXIT
ray start --head --port=6390 --num-cpus=1
ray start --address=127.0.0.1:6390 --num-cpus=1 --node-manager-port=6391 --object-manager-port=6392 \
    --min-worker-port=20000 --max-worker-port=20999 --metrics-export-port=6393 \
    --dashboard-agent-listen-port=6394 --dashboard-agent-grpc-port=6395 --runtime-env-agent-port=6396
# A new node takes some seconds to show up: wait until the head counts two.
for _ in $(seq 60); do
    [ "$(ray status --address 127.0.0.1:6390 | grep -c ' node_')" -ge 2 ] && break
    sleep 1
done
ray status --address 127.0.0.1:6390          # 2 nodes, 2 CPUs
python train_controller.py --set ppo.vec_env=ray --set ppo.n_envs=2 --set ppo.total_timesteps=512 \
    --run-dir "${RUN_DIR:-runs/ray-two-nodes}" --overwrite --no-progress --ray-address 127.0.0.1:6390
python evaluate.py --ray 127.0.0.1:6390 --quick --no-peers --baselines cosine \
    --run-dir "${RUN_DIR:-runs/ray-two-nodes}" --out "${EVAL_DIR:-eval/ray-two-nodes}"
