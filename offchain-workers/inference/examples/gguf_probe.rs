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

use candle_core::{
	quantized::{gguf_file, GgmlDType},
	Device,
};

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// The IEEE half at `at` (little-endian), exactly, as f64.
fn f16_at(bytes: &[u8], at: usize) -> f64 {
	let bits = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
	let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
	let exponent = ((bits >> 10) & 0x1f) as i32;
	let mantissa = (bits & 0x3ff) as f64;
	sign * match exponent {
		0 => mantissa * 2f64.powi(-24),
		31 if mantissa == 0.0 => f64::INFINITY,
		31 => f64::NAN,
		e => (1024.0 + mantissa) * 2f64.powi(e - 25),
	}
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
	let (mut values, mut rounded) = (0u64, 0u64);
	let mut names: Vec<&String> = content.tensor_infos.keys().collect();
	names.sort();
	for name in names {
		let tensor = content.tensor(&mut file, name, &Device::Cpu).expect("a tensor");
		let entry = by_type.entry(format!("{:?}", tensor.dtype())).or_default();
		entry.0 += 1;
		entry.1 += tensor.shape().elem_count();
		let dequantized: Vec<f32> = tensor
			.dequantize(&Device::Cpu)
			.and_then(|t| t.flatten_all()?.to_vec1())
			.expect("f32");
		let raw = tensor.data().expect("raw blocks");
		let (block_bytes, per_block) = match tensor.dtype() {
			GgmlDType::Q4_1 => (20usize, 32usize),
			GgmlDType::Q8_0 => (34, 32),
			_ => continue,
		};
		for (b, block) in raw.chunks_exact(block_bytes).enumerate() {
			let d = f16_at(block, 0);
			for j in 0..per_block {
				let exact = match tensor.dtype() {
					GgmlDType::Q4_1 => {
						let m = f16_at(block, 2);
						let byte = block[4 + j % 16];
						let q = if j < 16 { byte & 0x0F } else { byte >> 4 };
						d * q as f64 + m
					},
					_ => d * (block[2 + j] as i8) as f64,
				};
				values += 1;
				if dequantized[b * per_block + j] as f64 != exact {
					rounded += 1;
				}
			}
		}
	}
	for (dtype, (tensors, elements)) in &by_type {
		println!("tensors {dtype}: {tensors} ({elements} values)");
	}
	println!("quantized values dequantized: {values}; took a rounding in f32: {rounded}");
	// The tokenizer built from the file, on the strings given with --text.
	let json = arbiter_inference::gguf_tokenizer::tokenizer_json(&content).expect("a tokenizer");
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
