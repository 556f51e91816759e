#!/usr/bin/env python3
"""How far apart two honest f32 engines put SmolLM2's logits (docs/protocol.md, "Watching
generations"): Hugging Face `transformers` runs the chat prompt and its greedy continuation in
one f32 prefill and prints, at each step, the logits of the best and the runner-up token. The
engine's own numbers for the same steps come from
`cargo test --release -p arbiter-inference --test gguf the_watcher -- --nocapture`; the
difference of the two gaps, over the step's `A_c + A_r`, is what the watcher's `TOKEN_TOLERANCE`
must cover. Needs the baseline venv of scripts/bench-inference.sh.

    smollm2_logit_gaps.py --gguf FILE.gguf [--prompt TEXT] [--steps N]
"""
import argparse
import json
import os

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--prompt", default="What is the capital of France?")
    ap.add_argument("--steps", type=int, default=12)
    a = ap.parse_args()
    torch.set_num_threads(2)
    folder, name = os.path.split(os.path.abspath(a.gguf))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    ids = tok.apply_chat_template([{"role": "user", "content": a.prompt}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)["input_ids"][0].tolist()
    tokens = []
    with torch.no_grad():
        for _ in range(a.steps):
            tokens.append(int(model(torch.tensor([ids + tokens])).logits[0, -1].argmax()))
        logits = model(torch.tensor([ids + tokens[:-1]])).logits[0]
    for step in range(a.steps):
        row = logits[len(ids) - 1 + step]
        top = torch.topk(row, 2)
        (b, r), (lb, lr) = top.indices.tolist(), top.values.tolist()
        print(json.dumps({"step": step, "best": b, "best_logit": lb, "runner_up": r, "runner_up_logit": lr}))


if __name__ == "__main__":
    main()
