"""Run by tests/test_distributed.py inside a network namespace where a 2-node Ray cluster is up.

    python tests/ray_cluster_job.py ADDRESS WORKSPACE FILES...

Ingests FILES into WORKSPACE through the Ray cluster at ADDRESS (as ``miner ingest --ray``
does) and prints one JSON line: the nodes alive, the nodes that parsed files, whether the tasks'
finding vectors equal the writer's, and the findings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    address, workspace, *files = sys.argv[1:]
    import ray

    from miner import distributed
    from miner.config import get_settings
    from miner.ingest import sha256_file
    from miner.pipeline import Workspace, ingest

    paths = [Path(f) for f in files]
    nodes: set[str] = set()
    # every file once through the cluster, to see which nodes take part
    todo = [(p, sha256_file(p)) for p in paths]
    parsed = list(distributed.parse_all(todo, get_settings(), address, nodes=nodes))
    # the findings' vectors come back from the tasks, equal to what the writer would compute
    import numpy as np

    from miner.embed import get_embedder

    local = get_embedder(get_settings().embed_model)
    with_spans = [p for p in parsed if p.spans and any(not s.review for s in p.spans)]
    vectors_ok = bool(with_spans) and all(
        p.vectors is not None and np.allclose(p.vectors[3], local.encode(p.vectors[2]), atol=1e-5)
        for p in with_spans
    )
    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    alive = sum(1 for n in ray.nodes() if n["Alive"])
    ray.shutdown()

    ws = Workspace(Path(workspace))
    try:
        batch = ingest(ws, paths, ray=address)
        findings = [f.to_dict() for f in ws.catalogue.findings()]
    finally:
        ws.close()
    print(
        json.dumps(
            {
                "alive": alive,
                "nodes_used": len(nodes),
                "parse_errors": [p.error for p in parsed if p.error],
                "vectors_ok": vectors_ok,
                "counts": batch["counts"],
                "findings": findings,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
