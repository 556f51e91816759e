//! `arbiter-infer` end to end on MiniLM (run `scripts/fetch-model.sh` first): JSON shapes, the
//! model root agreeing between commands, the same trace roots whatever the thread count, the
//! `check` command, and one-line errors for bad input.

mod common;

use common::model_dir;
use std::process::Command;


fn infer(args: &[&str]) -> (bool, String, String) {
	let out = Command::new(env!("CARGO_BIN_EXE_arbiter-infer")).args(args).output().unwrap();
	(out.status.success(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
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
	let texts = ["--text", "A man is eating food.", "--text", "A much longer sentence, so that the batch is padded and the matmuls are larger."];
	let mut roots = Vec::new();
	for threads in ["1", "2", "4"] {
		let mut args = vec!["--threads", threads, "embed", "--model", m, "--json"];
		args.extend(texts);
		let v = json(&args);
		let embeddings = v["embeddings"].as_array().unwrap();
		assert_eq!(embeddings.len(), 2);
		assert!(embeddings.iter().all(|e| e.as_array().unwrap().len() == 384));
		let norm: f64 = embeddings[0].as_array().unwrap().iter().map(|x| x.as_f64().unwrap().powi(2)).sum();
		assert!((norm - 1.0).abs() < 1e-5);
		roots.push((v["trace_roots"].clone(), v["model_root"].clone()));
	}
	assert!(roots.windows(2).all(|w| w[0] == w[1]), "trace roots differ across thread counts: {roots:?}");
	let info = json(&["model-info", "--model", m, "--json"]);
	assert_eq!(info["model_root"], roots[0].1);
	assert_eq!(info["io"]["output_width"], 384);
	assert_eq!(info["io"]["max_input_tokens"], 256);
	assert_eq!(info["max_row_width"], 1536);
	assert!(info["graph"].as_str().unwrap().starts_with("0x"));
}

#[test]
fn check_verifies_sampled_elements() {
	let dir = model_dir();
	let (ok, out, err) = infer(&["check", "--model", dir.to_str().unwrap(), "--text", "Checking the trace.", "--samples", "10"]);
	assert!(ok, "{err}");
	// 10 samples for each of the 153 non-input nodes.
	assert!(out.starts_with("1530 of 1530 sampled elements passed"), "{out}");
}

#[test]
fn bad_input_gives_one_line_errors() {
	let dir = model_dir();
	let m = dir.to_str().unwrap();
	let long = "y".repeat(4097);
	for (args, expected) in [
		(vec!["embed", "--model", "/nonexistent/model", "--text", "x"], "does not exist"),
		(vec!["embed", "--model", m, "--text", ""], "input text is empty"),
		(vec!["embed", "--model", m, "--text", long.as_str()], "longer than the limit of 4096 bytes"),
		(vec!["--device", "tpu", "model-info", "--model", m], "unknown inference device"),
	] {
		let (ok, _, err) = infer(&args);
		assert!(!ok, "{args:?} must fail");
		// The first line says what is wrong (clap adds a usage hint for bad flags).
		let first = err.lines().next().unwrap_or_default();
		assert!(first.starts_with("error: ") && first.contains(expected), "{args:?}: {err}");
	}
}
