"""llama.cpp (llama-cpp-python, built from source) on a GGUF: prompt processing and greedy
generation in tokens per second, one JSON line like examples/bench_generate.rs. The prompt is the
benchmark sentences' text, tokenized by llama.cpp and cut to --prompt-tokens; generation is greedy
for exactly --new-tokens (no stop token); medians of --repeat runs. --batch B > 1: B sequences of
the same prompt decoded together through llama.cpp's own batch API (one `llama_decode` a step with
one token of each sequence, each sequence its own KV state; each prompt its own block, as
examples/bench_generate.rs --batch does); tokens per second count all B. llama.cpp quantizes the
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
ap.add_argument("--batch", type=int, default=1)
args = ap.parse_args()

text = " ".join(l.strip() for l in open(args.sentences) if l.strip())[:4000]
if args.batch > 1:
    import ctypes
    import llama_cpp as L

    text_model = Llama(model_path=args.model, vocab_only=True, verbose=False)
    prompt = text_model.tokenize(text.encode(), add_bos=False, special=False)[: args.prompt_tokens]
    B, P, N = args.batch, len(prompt), args.new_tokens
    L.llama_backend_init()
    model = L.llama_model_load_from_file(args.model.encode(), L.llama_model_default_params())
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    cp = L.llama_context_default_params()
    cp.n_seq_max = B
    cp.n_ctx = B * (P + N + 8)
    cp.n_batch = max(512, P)
    cp.n_ubatch = max(512, P)
    cp.n_threads = args.threads
    cp.n_threads_batch = args.threads
    ctx = L.llama_init_from_model(model, cp)
    batch = L.llama_batch_init(max(P, B), 0, 1)

    def submit(entries):
        """entries: (token, position, sequence, wants logits)"""
        batch.n_tokens = len(entries)
        for i, (tok, pos, seq, out) in enumerate(entries):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = 1 if out else 0
        assert L.llama_decode(ctx, batch) == 0

    def argmax(i):
        return int(np.argmax(np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, i), shape=(n_vocab,))))

    prefill, decode = [], []
    for _ in range(args.repeat):
        L.llama_memory_clear(L.llama_get_memory(ctx), True)
        t = time.perf_counter()
        last = []
        for s in range(B):
            submit([(tok, p, s, p == P - 1) for p, tok in enumerate(prompt)])
            last.append(argmax(P - 1))
        prefill.append(B * P / (time.perf_counter() - t))
        t = time.perf_counter()
        for step in range(N - 1):
            submit([(last[s], P + step, s, True) for s in range(B)])
            last = [argmax(s) for s in range(B)]
        decode.append(B * (N - 1) / (time.perf_counter() - t))
    print(json.dumps({
        "engine": f"llama.cpp (llama-cpp-python {__version__}, 8-bit activations)",
        "threads": args.threads,
        "batch": B,
        "prompt_tokens": P,
        "new_tokens": N,
        "prompt_tokens_per_s": round(statistics.median(prefill), 1),
        "generation_tokens_per_s": round(statistics.median(decode), 1),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }))
    raise SystemExit(0)

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
