//! What a GGUF model file holds, as the engine would read it (issue: verified text generation):
//! its metadata (architecture, shapes, tokenizer), its tensors by type, and whether every
//! quantized weight dequantizes to f32 exactly (the runtime checks Linear ops against f32 weight
//! rows, so a weight row must be the same f32 values wherever it is dequantized).
//!
//!   gguf_probe --model FILE.gguf [--text TEXT]...
//!
//! Exactness: for Q4_1 (`d·q + m`) and Q8_0 (`d·q`) blocks, every value candle's dequantization
//! gives is compared with the same expression in f64 from the block's raw fields; a value whose
//! f32 differs from the f64 one took a rounding.

use std::collections::BTreeMap;

use candle_core::quantized::gguf_file;

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn main() {
	let path = arg("--model").expect("--model FILE.gguf");
	let mut file = std::fs::File::open(&path).expect("the model file");
	let content = gguf_file::Content::read(&mut file).expect("a GGUF file");
	let mut keys: Vec<&String> = content.metadata.keys().collect();
	keys.sort();
	for key in keys {
		let value = &content.metadata[key];
		let shown = match value {
			gguf_file::Value::Array(items) => format!("array of {}", items.len()),
			other => format!("{other:?}"),
		};
		println!("{key}: {}", shown.chars().take(120).collect::<String>());
	}
	let mut by_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();
	for info in content.tensor_infos.values() {
		let entry = by_type.entry(format!("{:?}", info.ggml_dtype)).or_default();
		entry.0 += 1;
		entry.1 += info.shape.elem_count();
	}
	let (values, rounded) =
		arbiter_inference::gguf::dequantization_roundings(&content, &mut file).expect("tensors");
	for (dtype, (tensors, elements)) in &by_type {
		println!("tensors {dtype}: {tensors} ({elements} values)");
	}
	println!("quantized values dequantized: {values}; took a rounding in f32: {rounded}");
	// The tokenizer built from the file, on the strings given with --text.
	let json = arbiter_inference::gguf::tokenizer_json(&content).expect("a tokenizer");
	let tokenizer: tokenizers::Tokenizer = json.parse().expect("a tokenizer.json");
	let args: Vec<String> = std::env::args().collect();
	for (i, a) in args.iter().enumerate() {
		if a == "--text" {
			let text = args.get(i + 1).expect("--text TEXT");
			let ids = tokenizer.encode(text.as_str(), false).expect("encodes").get_ids().to_vec();
			println!("{}", serde_json::json!({ "text": text, "ids": ids }));
		}
	}
}
