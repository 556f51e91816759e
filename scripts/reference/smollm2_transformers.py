#!/usr/bin/env python3
"""An independent reference for SmolLM2 generation (issue: verified text generation): Hugging Face
`transformers` loads the GGUF itself (its own GGUF reader and tokenizer conversion), dequantizes
every weight to f32 and runs f32 activations; greedy decoding. Prints JSON lines: the token ids of
each string it tokenizes and of each greedy generation.

Needs (in the baseline venv of scripts/bench-inference.sh): transformers 5.24.0, torch 2.15.0,
gguf 0.19.0, accelerate 1.15.0.

    smollm2_transformers.py --gguf FILE.gguf [--max-new-tokens N]
"""
import argparse
import json
import os

import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer

from smollm2_cases import PROMPTS, STRINGS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    folder, name = os.path.split(os.path.abspath(a.gguf))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    for s in STRINGS:
        print(json.dumps({"text": s, "ids": tok.encode(s, add_special_tokens=False)}))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    for p in PROMPTS:
        if p["chat"]:
            ids = tok.apply_chat_template([{"role": "user", "content": p["text"]}], add_generation_prompt=True,
                                          return_tensors="pt", return_dict=True)["input_ids"]
        else:
            ids = tok(p["text"], return_tensors="pt")["input_ids"]
        out = model.generate(ids, max_new_tokens=a.max_new_tokens, do_sample=False)
        new = out[0][ids.shape[1]:].tolist()
        print(json.dumps({"prompt": p, "prompt_ids": ids[0].tolist(), "generated": new, "text": tok.decode(new)}))


if __name__ == "__main__":
    main()
