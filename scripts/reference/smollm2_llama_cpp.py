#!/usr/bin/env python3
"""llama.cpp on SmolLM2 (issue: verified text generation), beside smollm2_transformers.py: its
tokenization of the same strings and prompts (its own GGUF tokenizer, `smollm` pre-tokenizer), and
its greedy generations (8-bit activations in its quantized products). Prints JSON lines in the
transformers script's format; the engine's tests compare its tokenizer with the ids recorded here
(scripts/reference/smollm2_llama_cpp.expected.jsonl).

Needs llama-cpp-python 0.3.36 built from source (scripts/bench-generation.sh builds it in
~/.cache/arbiter/llama-cpp-native) and numpy.

    smollm2_llama_cpp.py --gguf FILE.gguf
"""
import argparse
import json
import os
import sys

import numpy as np
from llama_cpp import Llama

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smollm2_cases import PROMPTS, STRINGS  # noqa: E402

CHAT = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=20)
    args = ap.parse_args()
    llm = Llama(model_path=args.gguf, n_ctx=512, n_threads=2, verbose=False)
    for text in STRINGS:
        print(json.dumps({"text": text, "ids": llm.tokenize(text.encode(), add_bos=False, special=True)}))
    for prompt in PROMPTS:
        rendered = CHAT.format(prompt["text"]) if prompt["chat"] else prompt["text"]
        ids = llm.tokenize(rendered.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        generated = []
        for _ in range(args.max_new_tokens):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            token = int(np.argmax(logits))
            generated.append(token)
            if token == 2:  # <|im_end|>
                break
            llm.eval([token])
        text = llm.detokenize(generated, special=True).decode(errors="replace")
        print(json.dumps({"prompt": prompt, "prompt_ids": ids, "generated": generated, "text": text}))


if __name__ == "__main__":
    main()
