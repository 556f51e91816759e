#!/usr/bin/env python3
"""Writes model.safetensors with random weights into DIR, with the tensor names, dtypes and shapes
of the manifest (name -> {dtype, shape}, from a real model's safetensors header). Used for
the GPU checks (scripts/gpu/check.sh), where the real MiniLM weights (91 MB) cannot travel: the
same architecture and sizes, so the same work per sentence. LayerNorm scales near 1, biases and
weights small, like a trained BERT's, so activations stay in a realistic range.

  random_weights.py MANIFEST DIR [SEED]
"""
import json
import sys

import numpy as np
from safetensors.numpy import save_file

manifest, out_dir = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
tensors = {}
for name, spec in sorted(json.load(open(manifest)).items()):
    shape = spec["shape"]
    if spec["dtype"] == "I64":  # position ids: 0, 1, 2, ...
        tensors[name] = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        continue
    if "LayerNorm.weight" in name:
        t = 1.0 + 0.05 * rng.standard_normal(shape)
    elif name.endswith("bias"):
        t = 0.02 * rng.standard_normal(shape)
    else:
        t = 0.05 * rng.standard_normal(shape)
    tensors[name] = t.astype(np.float32)
save_file(tensors, f"{out_dir}/model.safetensors")
print(f"{len(tensors)} tensors, {sum(t.size for t in tensors.values())} values -> {out_dir}/model.safetensors")
