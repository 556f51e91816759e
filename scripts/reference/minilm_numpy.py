#!/usr/bin/env python3
"""An independent all-MiniLM-L6-v2 (BERT + mean pooling + L2 normalisation) in numpy, float64,
written from the published architecture: its own safetensors reader and its own BERT WordPiece
tokenizer (uncased), nothing from this project. Compares `arbiter-infer embed --json` with it.

    minilm_numpy.py --model DIR --infer PATH/arbiter-infer [--text T ...]

Fails (exit 1) unless, for every text, the token counts agree, the cosine similarity is
>= 0.99999 and the largest absolute difference is <= 1e-5."""
import argparse
import json
import math
import struct
import subprocess
import sys
import unicodedata

import numpy as np

SENTENCES = [
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog!",
    "Arbiter settles a dispute by recomputing one output element of one tensor operation.",
    "Héllo, wörld: ÇA VA? 123-456 (test) [brackets] and emojis 🙂.",
    "short",
    " ".join(["token"] * 300),  # truncated to 256 tokens
]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).astype(np.float64)
    return out


def is_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokens(text):
    chars = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD:
            continue
        if c in " \t\n\r" or unicodedata.category(c) == "Zs":
            chars.append(" ")
        elif unicodedata.category(c).startswith("C"):
            continue
        elif is_cjk(cp):
            chars.append(f" {c} ")
        else:
            chars.append(c)
    text = unicodedata.normalize("NFD", "".join(chars).lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    tokens = []
    for word in text.split():
        current = ""
        for c in word:
            if is_punct(c):
                if current:
                    tokens.append(current)
                    current = ""
                tokens.append(c)
            else:
                current += c
        if current:
            tokens.append(current)
    return tokens


def wordpiece(word, vocab):
    if len(word) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab, max_tokens=256):
    pieces = [p for w in basic_tokens(text) for p in wordpiece(w, vocab)]
    pieces = pieces[: max_tokens - 2]
    return [vocab["[CLS]"]] + [vocab[p] for p in pieces] + [vocab["[SEP]"]]


ERF = np.vectorize(math.erf)


def layer_norm(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def embed(ids, w, cfg):
    n, h = len(ids), cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    hd = h // heads
    eps = cfg["layer_norm_eps"]
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
        + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        lin = lambda t, name: t @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, heads, hd).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, heads, hd).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, heads, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, h)
        x = layer_norm(lin(ctx, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"], eps)
        up = lin(x, "intermediate.dense")
        act = 0.5 * up * (1.0 + ERF(up / math.sqrt(2.0)))
        x = layer_norm(lin(act, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    pooled = x.mean(0)
    return pooled / max(np.linalg.norm(pooled), 1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--infer", required=True)
    ap.add_argument("--text", action="append")
    args = ap.parse_args()
    texts = args.text or SENTENCES
    cfg = json.load(open(f"{args.model}/config.json"))
    vocab = json.load(open(f"{args.model}/tokenizer.json", encoding="utf-8"))["model"]["vocab"]
    weights = read_safetensors(f"{args.model}/model.safetensors")
    cmd = [args.infer, "embed", "--model", args.model, "--json"] + [a for t in texts for a in ("--text", t)]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    ok = True
    for i, text in enumerate(texts):
        ids = tokenize(text, vocab)
        ref = embed(ids, weights, cfg)
        got = np.array(ours["embeddings"][i], dtype=np.float64)
        cos = float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref)))
        diff = float(np.abs(got - ref).max())
        same_tokens = len(ids) == ours["tokens"][i]
        good = same_tokens and cos >= 0.99999 and diff <= 1e-5
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} tokens {ours['tokens'][i]:3d} (reference {len(ids):3d}) cosine {cos:.9f} "
              f"max|diff| {diff:.2e}  {text[:50]!r}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
