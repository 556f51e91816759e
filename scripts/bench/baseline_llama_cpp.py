"""llama.cpp (llama-cpp-python, built from source) on a GGUF: prompt processing and greedy
generation in tokens per second, one JSON line like examples/bench_generate.rs. The prompt is the
benchmark sentences' text, tokenized by llama.cpp and cut to --prompt-tokens; generation is greedy
for exactly --new-tokens (no stop token); medians of --repeat runs. llama.cpp quantizes the
activations to 8 bits in its quantized matrix products (which the runtime's bound does not allow:
docs/inference.md); it is here as the speed to beat."""
import argparse, json, os, resource, statistics, time

import numpy as np
from llama_cpp import Llama, __version__

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--sentences", required=True)
ap.add_argument("--prompt-tokens", type=int, default=128)
ap.add_argument("--new-tokens", type=int, default=128)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeat", type=int, default=3)
args = ap.parse_args()

text = " ".join(l.strip() for l in open(args.sentences) if l.strip())[:4000]
llm = Llama(model_path=args.model, n_ctx=args.prompt_tokens + args.new_tokens + 8,
            n_threads=args.threads, n_threads_batch=args.threads, n_batch=512, verbose=False,
            logits_all=False)
prompt = llm.tokenize(text.encode(), add_bos=False, special=False)[: args.prompt_tokens]
prefill, decode = [], []
for _ in range(args.repeat):
    llm.reset()
    t = time.perf_counter()
    llm.eval(prompt)
    prefill.append(len(prompt) / (time.perf_counter() - t))
    t = time.perf_counter()
    for _ in range(args.new_tokens - 1):
        # The last position's logits (llama-cpp-python keeps none itself without logits_all).
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        llm.eval([int(np.argmax(logits))])
    decode.append((args.new_tokens - 1) / (time.perf_counter() - t))
print(json.dumps({
    "engine": f"llama.cpp (llama-cpp-python {__version__}, 8-bit activations)",
    "threads": args.threads,
    "prompt_tokens": len(prompt),
    "new_tokens": args.new_tokens,
    "prompt_tokens_per_s": round(statistics.median(prefill), 1),
    "generation_tokens_per_s": round(statistics.median(decode), 1),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}))
