//! `arbiter-infer` end to end on MiniLM (run `scripts/fetch-model.sh` first): JSON shapes, the
//! model root agreeing between commands, the same trace roots whatever the thread count, the
//! `check` command, and one-line errors for bad input.

mod common;

use common::model_dir;
use std::process::Command;

fn infer(args: &[&str]) -> (bool, String, String) {
	let out = Command::new(env!("CARGO_BIN_EXE_arbiter-infer")).args(args).output().unwrap();
	(
		out.status.success(),
		String::from_utf8_lossy(&out.stdout).to_string(),
		String::from_utf8_lossy(&out.stderr).to_string(),
	)
}

fn json(args: &[&str]) -> serde_json::Value {
	let (ok, out, err) = infer(args);
	assert!(ok, "arbiter-infer {args:?} failed: {err}");
	serde_json::from_str(&out).unwrap()
}

#[test]
fn embed_and_model_info_agree_and_roots_do_not_depend_on_threads() {
	let dir = model_dir();
	let m = dir.to_str().unwrap();
	let texts = [
		"--text",
		"A man is eating food.",
		"--text",
		"A much longer sentence, so that the batch is padded and the matmuls are larger.",
	];
	let mut roots = Vec::new();
	for threads in ["1", "2", "4"] {
		let mut args = vec!["--threads", threads, "embed", "--model", m, "--json"];
		args.extend(texts);
		let v = json(&args);
		let embeddings = v["embeddings"].as_array().unwrap();
		assert_eq!(embeddings.len(), 2);
		assert!(embeddings.iter().all(|e| e.as_array().unwrap().len() == 384));
		let norm: f64 = embeddings[0]
			.as_array()
			.unwrap()
			.iter()
			.map(|x| x.as_f64().unwrap().powi(2))
			.sum();
		assert!((norm - 1.0).abs() < 1e-5);
		roots.push((v["trace_roots"].clone(), v["model_root"].clone()));
	}
	assert!(
		roots.windows(2).all(|w| w[0] == w[1]),
		"trace roots differ across thread counts: {roots:?}"
	);
	let info = json(&["model-info", "--model", m, "--json"]);
	assert_eq!(info["model_root"], roots[0].1);
	assert_eq!(info["io"]["output_width"], 384);
	assert_eq!(info["io"]["max_input_tokens"], 256);
	assert_eq!(info["io"]["input"]["TokenIds"]["vocabulary"], 30_522);
	assert_eq!(info["max_row_width"], 1536);
	assert!(info["graph"].as_str().unwrap().starts_with("0x"));
}

#[test]
fn check_verifies_sampled_elements() {
	let dir = model_dir();
	let (ok, out, err) = infer(&[
		"check",
		"--model",
		dir.to_str().unwrap(),
		"--text",
		"Checking the trace.",
		"--samples",
		"10",
	]);
	assert!(ok, "{err}");
	// 10 samples for each of the 153 computed nodes, and all 6 elements of each of the 5
	// inputs (ruled against the task's ids).
	assert!(out.starts_with("1560 of 1560 sampled elements passed"), "{out}");
}

#[test]
fn bad_input_gives_one_line_errors() {
	let dir = model_dir();
	let m = dir.to_str().unwrap();
	let long = "y".repeat(4097);
	for (args, expected) in [
		(vec!["embed", "--model", "/nonexistent/model", "--text", "x"], "does not exist"),
		(vec!["embed", "--model", m, "--text", ""], "input text is empty"),
		(
			vec!["embed", "--model", m, "--text", long.as_str()],
			"longer than the limit of 4096 bytes",
		),
		(vec!["--device", "tpu", "model-info", "--model", m], "unknown inference device"),
		(
			vec!["embed", "--model", m, "--ids", "101,30522,102"],
			"token id 30522 at position 1 is not below the vocabulary size 30522",
		),
		(vec!["embed", "--model", m, "--ids", "101,x,102"], "\"x\" is not a token id"),
		(vec!["embed", "--model", m, "--ids", "101", "--text", "both"], "cannot be used with"),
	] {
		let (ok, _, err) = infer(&args);
		assert!(!ok, "{args:?} must fail");
		// The first line says what is wrong (clap adds a usage hint for bad flags).
		let first = err.lines().next().unwrap_or_default();
		assert!(first.starts_with("error: ") && first.contains(expected), "{args:?}: {err}");
	}
}

/// Tokenizing and embedding ids give what embedding the text gives: a client that tokenizes and
/// submits ids gets the text's embedding.
#[test]
fn tokenize_then_embed_ids_is_embedding_the_text() {
	let dir = model_dir();
	let m = dir.to_str().unwrap();
	let text = "Clients submit token ids.";
	let tokens = json(&["tokenize", "--model", m, "--text", text, "--json"]);
	let ids: Vec<String> =
		tokens["ids"][0].as_array().unwrap().iter().map(|v| v.to_string()).collect();
	assert_eq!(ids.first().map(String::as_str), Some("101"), "[CLS] first");
	let by_text = json(&["embed", "--model", m, "--text", text, "--json"]);
	let by_ids = json(&["embed", "--model", m, "--ids", &ids.join(","), "--json"]);
	assert_eq!(by_text["trace_roots"], by_ids["trace_roots"]);
	assert_eq!(by_text["embeddings"], by_ids["embeddings"]);
	assert_eq!(by_text["ids"], tokens["ids"]);
	let info = json(&["model-info", "--model", m, "--json"]);
	assert_eq!(tokens["tokenizer_hash"], info["tokenizer_hash"]);
}

fn smollm2() -> String {
	let path = std::env::var_os("ARBITER_SMOLLM2_GGUF")
		.map(std::path::PathBuf::from)
		.unwrap_or_else(|| {
			std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
				.join(".cache/arbiter/gguf/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
		});
	assert!(path.is_file(), "SmolLM2 is not at {} (run scripts/fetch-smollm2.sh)", path.display());
	path.to_string_lossy().to_string()
}

#[test]
fn generate_gives_transformers_tokens_and_one_trace_root_whatever_the_threads() {
	let g = smollm2();
	let mut runs = Vec::new();
	for threads in ["1", "2"] {
		let v = json(&[
			"--threads",
			threads,
			"generate",
			"--model",
			&g,
			"--chat",
			"--prompt",
			"What is 17 + 25?",
			"--max-new-tokens",
			"16",
			"--json",
		]);
		runs.push(v);
	}
	// scripts/reference/smollm2_transformers.expected.jsonl, this prompt's greedy tokens.
	let want = [33, 39, 1232, 216, 34, 37, 446, 216, 35, 34, 30, 2];
	let tokens: Vec<u64> = runs[0]["tokens"]
		.as_array()
		.unwrap()
		.iter()
		.map(|t| t.as_u64().unwrap())
		.collect();
	assert_eq!(tokens, want);
	assert_eq!(runs[0]["text"], "17 + 25 = 32.<|im_end|>");
	assert_eq!(runs[0]["stopped"], true);
	assert_eq!(runs[0]["traced_positions"], 40 + 11);
	assert_eq!(
		runs[0]["trace_root"], runs[1]["trace_root"],
		"a replay on other threads gives the root"
	);
	assert_eq!(runs[0]["model_root"], runs[1]["model_root"]);
	// The decoder's linear layers on f32 weights instead of the 4-bit blocks (where the CPU runs
	// the 4-bit kernel): the same model root and trace, bit for bit.
	// And on the AVX2 path instead of AVX-512 (where the CPU has it): the vector paths' kernels
	// compute the same chains.
	for (variable, value) in [("ARBITER_F32_WEIGHTS", "1"), ("ARBITER_CPU_PATH", "avx2")] {
		if std::env::var("ARBITER_CPU_PATH").as_deref() == Ok("portable") {
			break; // the portable path's linear layers sum in another order
		}
		#[cfg(target_arch = "x86_64")]
		let has_avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
		#[cfg(not(target_arch = "x86_64"))]
		let has_avx2 = false;
		if value == "avx2" && !has_avx2 {
			continue;
		}
		let out = Command::new(env!("CARGO_BIN_EXE_arbiter-infer"))
			.env(variable, value)
			.args(["generate", "--model", &g, "--chat", "--prompt", "What is 17 + 25?"])
			.args(["--max-new-tokens", "16", "--json"])
			.output()
			.unwrap();
		assert!(out.status.success());
		let other: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
		assert_eq!(other["trace_root"], runs[0]["trace_root"], "{variable}={value}");
		assert_eq!(other["tokens"], runs[0]["tokens"], "{variable}={value}");
		// f32 weights are candle's dequantization of the file; the 4-bit and 8-bit blocks the
		// engine keeps instead are committed as their own dequantization: the same root.
		assert_eq!(other["model_root"], runs[0]["model_root"], "{variable}={value}");
	}
	// Seeded sampling: the same seed, the same tokens.
	let sampled = |seed: &str| {
		json(&[
			"generate",
			"--model",
			&g,
			"--ids",
			"504,1296,3003,14797,359",
			"--max-new-tokens",
			"6",
			"--temperature",
			"0.9",
			"--seed",
			seed,
			"--json",
		])["tokens"]
			.clone()
	};
	assert_eq!(sampled("5"), sampled("5"));
}

#[test]
fn generate_refuses_bad_requests_with_one_line_errors() {
	let g = smollm2();
	let minilm = model_dir();
	let cases: [(&[&str], &str); 4] = [
		(&["generate", "--model", minilm.to_str().unwrap(), "--prompt", "hi"], "error:"),
		(&["generate", "--model", &g, "--prompt", "hi", "--temperature", "0"], "temperature"),
		(&["generate", "--model", &g, "--ids", "1,49152", "--max-new-tokens", "2"], "49152"),
		(&["generate", "--model", &g, "--prompt", "hi", "--positions", "9000"], "context"),
	];
	for (args, needle) in cases {
		let (ok, _, err) = infer(args);
		assert!(!ok, "{args:?} succeeded");
		assert!(
			err.starts_with("error:") && err.trim_end().lines().count() == 1,
			"{args:?}: {err}"
		);
		assert!(err.contains(needle), "{args:?}: {err}");
	}
}
