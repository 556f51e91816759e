//! A loaded model: its graph template, its weights (memory-mapped from safetensors, or owned
//! for generated models), the weights tree behind `model_root`, its tokenizer, and the weights
//! as candle tensors on the engine's device.

use std::{
	borrow::Cow,
	path::{Path, PathBuf},
};

use arbiter_primitives::{
	commitment::{weights_tree_with, ModelCommitment},
	encoding::hash,
	merkle::MerkleTree,
	prover::WeightRows,
	Graph, Hash, InputKind, NodeId, Op, WeightId,
};
use candle_core::{Device, Tensor};

use crate::{
	bert::{bert_graph, BertConfig, BERT_INPUT_PADS},
	cpu::{linear_q4::Q8Rows, PackedQ4, PackedWeight},
	error::{io_err, EngineError, Result},
	tokenize::TextTokenizer,
};

/// Files a model folder holds (what `scripts/fetch-model.sh` places there).
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// `sha256  file` lines, written by the fetch script; checked at load.
pub const CHECKSUMS_FILE: &str = "SHA256SUMS";

/// Where `scripts/fetch-model.sh` puts models: `$ARBITER_MODELS_DIR`, else
/// `~/.cache/arbiter/models`.
pub fn default_models_dir() -> PathBuf {
	std::env::var_os("ARBITER_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/arbiter/models")
	})
}

/// The MiniLM folder `scripts/fetch-model.sh` fills: `$ARBITER_MINILM_DIR`, else
/// `all-minilm-l6-v2` in [`default_models_dir`].
pub fn default_minilm_dir() -> PathBuf {
	std::env::var_os("ARBITER_MINILM_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|| default_models_dir().join("all-minilm-l6-v2"))
}

/// Longest input text in bytes the engine accepts (the chain's default `MaxInputBytes`).
pub const DEFAULT_MAX_TEXT_BYTES: usize = 4096;
/// Longest input in tokens; longer inputs are truncated (sentence-transformers' max_seq_length).
pub const MAX_TOKENS: usize = 256;
/// Longest input of a model without a tokenizer (generated test models).
pub const GENERATED_MAX_TOKENS: u32 = 64;

/// Weight tensors, row-major f32, one per graph weight (empty for a weight kept only in its
/// compact form, [`CompactWeights`]).
enum WeightStore {
	/// Slices of a memory-mapped safetensors file: `(byte offset, element count)` per tensor.
	Mapped { map: memmap2::Mmap, ranges: Vec<(usize, usize)> },
	/// Owned values (generated models, or a file whose tensors are not 4-byte aligned).
	Owned(Vec<Vec<f32>>),
}

impl WeightStore {
	fn tensor(&self, i: usize) -> &[f32] {
		match self {
			WeightStore::Mapped { map, ranges } => {
				let Some((offset, len)) = ranges.get(i).copied() else { return &[] };
				let bytes = map.get(offset..offset + len * 4).unwrap_or(&[]);
				// SAFETY: the loader checked the range is in the map, 4-byte aligned, F32 dtype and
				// that the host is little-endian; every bit pattern is a valid f32.
				let (head, values, _) = unsafe { bytes.align_to::<f32>() };
				if head.is_empty() {
					values
				} else {
					&[]
				}
			},
			WeightStore::Owned(v) => v.get(i).map(|t| t.as_slice()).unwrap_or(&[]),
		}
	}
}

/// Weights a loader keeps in their file's compact form instead of f32: a GGUF's 4-bit linear
/// layers (run by the 4-bit kernel) and its 8-bit token embedding (the tied LM head). Each
/// dequantizes exactly to the values the model commits (the loader checks it against candle's
/// dequantization); a row an opening needs is dequantized when asked ([`Model::weight_row`]), so
/// the f32 values are never resident (docs/benchmarks.md, "Generation": peak memory).
#[derive(Default)]
pub struct CompactWeights {
	/// 4-bit blocks by weight index, for `Linear` weights.
	pub linear: Vec<Option<PackedQ4>>,
	/// The token embedding's weight index and its 8-bit rows.
	pub embedding: Option<(WeightId, Q8Rows)>,
}

impl CompactWeights {
	fn holds(&self, index: usize) -> bool {
		matches!(self.linear.get(index), Some(Some(_))) ||
			self.embedding.as_ref().is_some_and(|(t, _)| *t as usize == index)
	}

	/// Row `row` (of `width` values) of weight `index`, dequantized; `None` if not held here.
	fn row(&self, index: usize, row: u32, width: usize) -> Option<Vec<f32>> {
		if let Some(Some(q)) = self.linear.get(index) {
			return (q.k() == width).then(|| q.dequantized_row(row as usize)).flatten();
		}
		let (_, q8) = self.embedding.as_ref().filter(|(t, _)| *t as usize == index)?;
		(q8.width() == width && (row as usize) < q8.rows())
			.then(|| q8.dequantized_row(row as usize))
	}

	/// Weight `index` dequantized in full; `None` if not held here.
	fn tensor(&self, index: usize) -> Option<Vec<f32>> {
		if let Some(Some(q)) = self.linear.get(index) {
			return Some(q.dequantized());
		}
		let (_, q8) = self.embedding.as_ref().filter(|(t, _)| *t as usize == index)?;
		Some((0..q8.rows()).flat_map(|r| q8.dequantized_row(r)).collect())
	}
}

/// Row `row` of weight `index`: a slice of its f32 values, or dequantized from its compact form.
fn row_of<'a>(
	template: &Graph,
	weights: &'a WeightStore,
	compact: &CompactWeights,
	index: WeightId,
	row: u32,
) -> Option<Cow<'a, [f32]>> {
	let width = template.weight(index)?.shape.width() as usize;
	if compact.holds(index as usize) {
		return compact.row(index as usize, row, width).map(Cow::Owned);
	}
	let start = (row as usize).checked_mul(width)?;
	weights
		.tensor(index as usize)
		.get(start..start.checked_add(width)?)
		.map(Cow::Borrowed)
}

/// Weight `index`: its f32 values, or dequantized from its compact form.
fn tensor_of<'a>(
	weights: &'a WeightStore,
	compact: &CompactWeights,
	index: usize,
) -> Cow<'a, [f32]> {
	match compact.tensor(index) {
		Some(values) => Cow::Owned(values),
		None => Cow::Borrowed(weights.tensor(index)),
	}
}

/// How raw text becomes token ids (clients tokenize; the engine does for its command line).
pub enum InputEncoder {
	/// The model's tokenizer (BERT's WordPiece, or a decoder's byte-level BPE).
	/// Boxed: a tokenizer is over 1 KiB, the other variant nothing.
	Text(Box<TextTokenizer>),
	/// No text path: inputs are token ids (generated test models).
	Tensors,
}

/// The inputs of one execution: the sequence length the graph is instantiated at, and one
/// row-major tensor per `Input` node ([`Model::input_of_ids`] derives them from token ids, as
/// the chain does; tests may build others to exercise the engine's own checks).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInput {
	pub seq_len: u32,
	pub tensors: Vec<Vec<f32>>,
}

/// A model ready to run.
pub struct Model {
	/// A short name (the folder name, or the generator's).
	pub name: String,
	/// The registered graph (a template when it has symbolic sequence dimensions).
	pub template: Graph,
	weights: WeightStore,
	weights_tree: MerkleTree,
	pub commitment: ModelCommitment,
	pub encoder: InputEncoder,
	/// The `tokenizer.json` bytes `commitment.tokenizer_hash` commits (clients tokenize with
	/// them: the node's `arbiter_tokenizer` RPC); `None` for models fed tensors.
	pub tokenizer_json: Option<std::sync::Arc<[u8]>>,
	/// Value a padded position takes in each `Input` node when sequences of different lengths
	/// share a batch; `None`: such inputs run in separate batches.
	pub input_pads: Option<Vec<f32>>,
	/// The weights as candle tensors on the engine's device.
	/// Built on first use ([`Model::device_weights`]): a decoder-only model never needs them.
	device_weights: std::sync::OnceLock<Vec<Tensor>>,
	/// Linear layers' weights packed for the CPU kernel ([`crate::cpu::linear`]), by weight
	/// index; empty off the CPU or on CPUs without AVX-512 (candle's matmul runs instead).
	pub(crate) packed: Vec<Option<PackedWeight>>,
	/// Weights kept in their file's compact form (a GGUF's 4-bit linear layers for the
	/// decoder's 4-bit kernel, [`crate::cpu::linear_q4`], and its 8-bit token embedding for the
	/// logits); empty unless a GGUF loader gave them.
	pub(crate) compact: CompactWeights,
	pub(crate) device: Device,
	/// Longest accepted text in bytes.
	pub max_text_bytes: usize,
	/// Test-only fault: this node's output is perturbed (see [`Model::inject_fault`]).
	pub(crate) fault: Option<NodeId>,
	/// Test-only fault: the output committed is not the traced one (see
	/// [`Model::inject_output_fault`]).
	pub(crate) output_fault: bool,
	/// Test-only fault: the generation step whose committed token is the runner-up (see
	/// [`Model::inject_token_choice_fault`]).
	pub(crate) token_fault: Option<u32>,
}

/// Every weight a `Linear` node multiplies by, packed, but those `skip` names; `None` for the
/// other weights.
fn pack_linear_weights(
	template: &Graph,
	slices: &[&[f32]],
	skip: &[bool],
) -> Vec<Option<PackedWeight>> {
	let mut packed: Vec<Option<PackedWeight>> = (0..slices.len()).map(|_| None).collect();
	for node in &template.nodes {
		let Op::Linear { weight, .. } = node.op else { continue };
		if skip.get(weight as usize).copied().unwrap_or(false) {
			continue;
		}
		let (Some(slot), Some(data), Some(w)) =
			(packed.get_mut(weight as usize), slices.get(weight as usize), template.weight(weight))
		else {
			continue;
		};
		if slot.is_none() {
			*slot = PackedWeight::pack(data, w.shape.rows() as usize, w.shape.width() as usize);
		}
	}
	packed
}

fn sha256_hex(path: &Path) -> Result<String> {
	use sha2::{Digest, Sha256};
	use std::io::Read;
	let mut file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
	let mut hasher = Sha256::new();
	let mut buf = vec![0u8; 1 << 20];
	loop {
		let n = file.read(&mut buf).map_err(|e| io_err(path, e))?;
		if n == 0 {
			break;
		}
		hasher.update(buf.get(..n).unwrap_or(&[]));
	}
	Ok(hex::encode(hasher.finalize()))
}

/// Checks every `sha256  name` line of `DIR/SHA256SUMS`.
fn verify_checksums(dir: &Path) -> Result<()> {
	let path = dir.join(CHECKSUMS_FILE);
	if !path.exists() {
		return Err(EngineError::ModelFileMissing(path));
	}
	let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
	for line in text.lines().filter(|l| !l.trim().is_empty()) {
		let mut parts = line.split_whitespace();
		let (Some(expected), Some(name)) = (parts.next(), parts.next()) else {
			return Err(EngineError::BadConfig {
				path: path.clone(),
				reason: format!("bad line {line:?}"),
			});
		};
		let file = dir.join(name.trim_start_matches('*'));
		if !file.exists() {
			return Err(EngineError::ModelFileMissing(file));
		}
		let found = sha256_hex(&file)?;
		if !found.eq_ignore_ascii_case(expected) {
			return Err(EngineError::ChecksumMismatch {
				file,
				expected: expected.to_string(),
				found,
			});
		}
	}
	Ok(())
}

fn required_file(dir: &Path, name: &str) -> Result<PathBuf> {
	let path = dir.join(name);
	if path.is_file() {
		Ok(path)
	} else {
		Err(EngineError::ModelFileMissing(path))
	}
}

/// Maps the safetensors file and finds every graph weight in it (F32, shape as the graph says).
fn map_weights(path: &Path, graph: &Graph) -> Result<WeightStore> {
	let bad = |reason: String| EngineError::BadWeights { path: path.to_path_buf(), reason };
	if cfg!(target_endian = "big") {
		return Err(EngineError::Unsupported("big-endian hosts".into()));
	}
	let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
	// SAFETY: the file is opened read-only and the fetch script never rewrites it in place; a
	// concurrent writer would only change values, which the weights root then no longer matches.
	let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io_err(path, e))?;
	let tensors = safetensors::SafeTensors::deserialize(&map).map_err(|e| bad(e.to_string()))?;
	let base = map.as_ptr() as usize;
	let mut ranges = Vec::with_capacity(graph.weights.len());
	let mut aligned = true;
	for w in &graph.weights {
		let name = String::from_utf8_lossy(&w.name).to_string();
		let view = tensors.tensor(&name).map_err(|_| bad(format!("tensor {name:?} is missing")))?;
		if view.dtype() != safetensors::Dtype::F32 {
			return Err(bad(format!("tensor {name:?} is {:?}, expected F32", view.dtype())));
		}
		let numel: usize = view.shape().iter().product();
		if numel as u64 != w.shape.numel() {
			return Err(bad(format!(
				"tensor {name:?} has shape {:?}, the graph expects {:?}",
				view.shape(),
				w.shape.dims()
			)));
		}
		let offset = view.data().as_ptr() as usize - base;
		aligned &= offset.is_multiple_of(4);
		ranges.push((offset, numel));
	}
	drop(tensors);
	let store = WeightStore::Mapped { map, ranges };
	if aligned {
		return Ok(store);
	}
	// Unaligned tensors: copy them out once.
	let WeightStore::Mapped { map, ranges } = &store else { return Ok(store) };
	let owned = ranges
		.iter()
		.map(|(offset, n)| {
			map.get(*offset..offset + n * 4)
				.unwrap_or(&[])
				.chunks_exact(4)
				.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
				.collect()
		})
		.collect();
	Ok(WeightStore::Owned(owned))
}

impl Model {
	/// Loads a BERT sentence encoder from a model folder (see [`WEIGHTS_FILE`] and friends),
	/// verifying the files' checksums, onto `device`.
	pub fn load(dir: &Path, device: &Device) -> Result<Self> {
		if !dir.is_dir() {
			return Err(EngineError::ModelDirMissing(dir.to_path_buf()));
		}
		let weights_path = required_file(dir, WEIGHTS_FILE)?;
		let config_path = required_file(dir, CONFIG_FILE)?;
		let tokenizer_path = required_file(dir, TOKENIZER_FILE)?;
		verify_checksums(dir)?;
		let config = BertConfig::from_file(&config_path)?;
		// Checkpoints saved from BertModel have no prefix; from BertFor* they have `bert.`.
		let header_has_prefix = {
			let file = std::fs::File::open(&weights_path).map_err(|e| io_err(&weights_path, e))?;
			// SAFETY: read-only map, see `map_weights`.
			let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io_err(&weights_path, e))?;
			let (_, meta) = safetensors::SafeTensors::read_metadata(&map).map_err(|e| {
				EngineError::BadWeights { path: weights_path.clone(), reason: e.to_string() }
			})?;
			meta.tensors().contains_key("bert.embeddings.word_embeddings.weight")
		};
		let template = bert_graph(&config, if header_has_prefix { "bert." } else { "" });
		let weights = map_weights(&weights_path, &template)?;
		let tokenizer_bytes =
			std::fs::read(&tokenizer_path).map_err(|e| io_err(&tokenizer_path, e))?;
		let tokenizer = TextTokenizer::from_bytes(
			&tokenizer_bytes,
			&tokenizer_path,
			MAX_TOKENS.min(config.max_position_embeddings as usize),
		)?;
		let name = dir
			.file_name()
			.map(|n| n.to_string_lossy().to_string())
			.unwrap_or_else(|| "model".into());
		Self::assemble(
			name,
			template,
			weights,
			hash(&tokenizer_bytes),
			Some(tokenizer_bytes.into()),
			InputEncoder::Text(Box::new(tokenizer)),
			Some(BERT_INPUT_PADS.to_vec()),
			device,
			CompactWeights::default(),
		)
	}

	/// A model from an in-memory graph and weights (generated test models). Inputs are given as
	/// tensors; `input_pads` as in [`Model::input_pads`].
	pub fn from_parts(
		name: &str,
		template: Graph,
		weights: Vec<Vec<f32>>,
		tokenizer_hash: Hash,
		input_pads: Option<Vec<f32>>,
		device: &Device,
	) -> Result<Self> {
		Self::assemble(
			name.into(),
			template,
			WeightStore::Owned(weights),
			tokenizer_hash,
			None,
			InputEncoder::Tensors,
			input_pads,
			device,
			CompactWeights::default(),
		)
	}

	/// A text model from an in-memory graph and weights (a decoder read from a GGUF file): the
	/// tokenizer from its `tokenizer.json` bytes, which the model root commits; inputs of up to
	/// `max_tokens` tokens; the weights `compact` holds are kept in that form only (their entry in
	/// `weights` is empty). Its one input, the token ids, is padded with id 0 in a batch (causal
	/// attention: a position never reads a later one).
	pub fn from_text_parts(
		name: &str,
		template: Graph,
		weights: Vec<Vec<f32>>,
		tokenizer_json: &[u8],
		max_tokens: u32,
		device: &Device,
		compact: CompactWeights,
	) -> Result<Self> {
		let tokenizer = TextTokenizer::from_bytes(
			tokenizer_json,
			Path::new("tokenizer.json"),
			max_tokens as usize,
		)?;
		Self::assemble(
			name.into(),
			template,
			WeightStore::Owned(weights),
			hash(tokenizer_json),
			Some(tokenizer_json.into()),
			InputEncoder::Text(Box::new(tokenizer)),
			Some(vec![0.0]),
			device,
			compact,
		)
	}

	// One private constructor behind the three public ones; each argument is one of a model's
	// parts.
	#[allow(clippy::too_many_arguments)]
	fn assemble(
		name: String,
		template: Graph,
		weights: WeightStore,
		tokenizer_hash: Hash,
		tokenizer_json: Option<std::sync::Arc<[u8]>>,
		encoder: InputEncoder,
		input_pads: Option<Vec<f32>>,
		device: &Device,
		compact: CompactWeights,
	) -> Result<Self> {
		// The template must be valid at length 1 (every symbolic dimension filled).
		template.instantiate(1).validate(u32::MAX).map_err(EngineError::InvalidGraph)?;
		// One row at a time: a compact weight's row is dequantized, hashed and dropped.
		let weights_tree =
			weights_tree_with(&template, |t, r| row_of(&template, &weights, &compact, t, r))
				.map_err(EngineError::Commit)?;
		let commitment = ModelCommitment::of(&template, weights_tree.root(), tokenizer_hash);
		let packed = if device.is_cpu() && PackedWeight::supported() {
			let slices: Vec<&[f32]> =
				(0..template.weights.len()).map(|i| weights.tensor(i)).collect();
			let skip: Vec<bool> = (0..slices.len()).map(|i| compact.holds(i)).collect();
			pack_linear_weights(&template, &slices, &skip)
		} else {
			Vec::new()
		};
		let inputs = template.nodes.iter().filter(|n| n.op.is_input()).count();
		if input_pads.as_ref().is_some_and(|p| p.len() != inputs) {
			return Err(EngineError::InvalidInput(format!(
				"{inputs} inputs but pads for a different number"
			)));
		}
		Ok(Self {
			name,
			template,
			weights,
			weights_tree,
			commitment,
			encoder,
			tokenizer_json,
			input_pads,
			device_weights: std::sync::OnceLock::new(),
			packed,
			compact,
			device: device.clone(),
			max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
			fault: None,
			output_fault: false,
			token_fault: None,
		})
	}

	/// The weights as candle tensors on the model's device (for [`crate::engine::run`]), made on
	/// first use.
	pub(crate) fn device_weights(&self) -> Result<&[Tensor]> {
		if let Some(tensors) = self.device_weights.get() {
			return Ok(tensors);
		}
		let tensors = self
			.template
			.weights
			.iter()
			.enumerate()
			.map(|(i, w)| {
				let dims: Vec<usize> = w.shape.dims().iter().map(|d| *d as usize).collect();
				Tensor::from_slice(&self.weight_tensor(i), dims, &self.device)
			})
			.collect::<std::result::Result<Vec<_>, _>>()?;
		// Another thread may have made them meanwhile: either set is the same tensors.
		let _ = self.device_weights.set(tensors);
		self.device_weights
			.get()
			.map(|t| t.as_slice())
			.ok_or_else(|| EngineError::Internal("device weights missing".into()))
	}

	/// The f32 values of weight `index` (memory-mapped or owned); `None` for a weight kept only
	/// in its compact form ([`CompactWeights`]: read it by row, [`Model::weight_row`]).
	pub(crate) fn weight_values(&self, index: u32) -> Option<&[f32]> {
		let numel = self.template.weight(index)?.shape.numel();
		let values = self.weights.tensor(index as usize);
		(values.len() as u64 == numel).then_some(values)
	}

	/// Row `row` of weight `index`, from the f32 values or dequantized from its compact form
	/// (the committed values either way).
	pub fn weight_row(&self, index: WeightId, row: u32) -> Option<Cow<'_, [f32]>> {
		row_of(&self.template, &self.weights, &self.compact, index, row)
	}

	/// Weight tensor `i`, row-major (dequantized from its compact form if kept in one).
	pub fn weight_tensor(&self, i: usize) -> Cow<'_, [f32]> {
		tensor_of(&self.weights, &self.compact, i)
	}

	/// Makes this model wrong on purpose, for exercising the fraud path end to end
	/// (`arbiter-node --provider-fault NODE`, dev chains only): node `node`'s output gets 1 to 7
	/// (cycling by row) added to the first column of every row, beyond any tolerance, and every
	/// later node is computed from it, so the trace is consistent everywhere but at `node`.
	/// (A shift every row shares could vanish in the next LayerNorm or softmax.)
	pub fn inject_fault(&mut self, node: NodeId) -> Result<()> {
		match self.template.node(node) {
			Some(n) if !n.op.is_input() => {
				self.fault = Some(node);
				Ok(())
			},
			Some(_) => Err(EngineError::InvalidInput(format!(
				"node {node} is a model input; inputs cannot be faulted"
			))),
			None => Err(EngineError::InvalidInput(format!(
				"model {} has no node {node} ({} nodes)",
				self.name,
				self.template.nodes.len()
			))),
		}
	}

	/// The faulted node, if any.
	pub fn fault(&self) -> Option<NodeId> {
		self.fault
	}

	/// Makes the job service commit a wrong output over an honest trace, for exercising the
	/// output rule end to end (`arbiter-node --provider-output-fault`, dev chains only): the
	/// first output value gets 0.5 added after tracing, so the trace's final node no longer
	/// holds the committed output (docs/protocol.md, "The output is the trace's final node").
	pub fn inject_output_fault(&mut self) {
		self.output_fault = true;
	}

	/// Makes generation commit, at step `step`, the token its sampling scores second instead of
	/// the first, and decode on from it, for exercising token-choice disputes end to end
	/// (`arbiter-node --provider-token-fault STEP`, dev chains only): the trace is
	/// consistent with the committed tokens everywhere, and the choice at `step` is wrong by
	/// the margin between the two.
	pub fn inject_token_choice_fault(&mut self, step: u32) {
		self.token_fault = Some(step);
	}

	/// The step [`Model::inject_token_choice_fault`] named, if any.
	pub fn token_choice_fault(&self) -> Option<u32> {
		self.token_fault
	}

	/// Whether [`Model::inject_output_fault`] was called.
	pub fn output_fault(&self) -> bool {
		self.output_fault
	}

	/// The tree behind `model_root`'s weights root.
	pub fn weights_tree(&self) -> &MerkleTree {
		&self.weights_tree
	}

	/// The tokenizer, for text models.
	pub fn tokenizer(&self) -> Option<&TextTokenizer> {
		match &self.encoder {
			InputEncoder::Text(t) => Some(t.as_ref()),
			InputEncoder::Tensors => None,
		}
	}

	/// Text → token ids, as a client does before submitting: checks the text (not empty, at
	/// most `max_text_bytes`), tokenizes (special tokens added, truncated to the model's token
	/// limit).
	pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
		if text.trim().is_empty() {
			return Err(EngineError::EmptyText);
		}
		if text.len() > self.max_text_bytes {
			return Err(EngineError::TextTooLong { len: text.len(), limit: self.max_text_bytes });
		}
		let InputEncoder::Text(tokenizer) = &self.encoder else {
			return Err(EngineError::InvalidInput(format!(
				"model {} takes token ids, not text",
				self.name
			)));
		};
		tokenizer.encode(text)
	}

	/// Token ids → text, with the model's tokenizer.
	pub fn decode(&self, ids: &[u32]) -> Result<String> {
		self.tokenizer()
			.ok_or_else(|| {
				EngineError::InvalidInput(format!("model {} has no tokenizer", self.name))
			})?
			.decode(ids)
	}

	/// Text → graph inputs ([`Model::tokenize`], then [`Model::input_of_ids`]).
	pub fn encode_text(&self, text: &str) -> Result<ModelInput> {
		self.input_of_ids(&self.tokenize(text)?)
	}

	/// Token ids → graph inputs, every input node derived from the ids as a dispute derives it
	/// (docs/protocol.md, "Inputs are the task's"). Refuses exactly what the chain refuses at
	/// submission: no ids, more than [`Model::max_tokens`], an id not below
	/// [`Model::vocabulary`]; every other input runs.
	pub fn input_of_ids(&self, ids: &[u32]) -> Result<ModelInput> {
		let max = self.max_tokens();
		if ids.is_empty() || ids.len() > max as usize {
			return Err(EngineError::BadTokenCount { len: ids.len(), max });
		}
		let vocabulary = self.vocabulary();
		if let Some((position, id)) = ids.iter().enumerate().find(|(_, id)| **id >= vocabulary) {
			return Err(EngineError::TokenIdOutOfRange { id: *id, position, vocabulary });
		}
		let seq_len = ids.len() as u32;
		let tensors = self.template.instantiate(seq_len).input_values(ids).ok_or_else(|| {
			EngineError::InvalidInput(format!(
				"model {}'s inputs are not one value per token",
				self.name
			))
		})?;
		Ok(ModelInput { seq_len, tensors })
	}

	/// Token ids must be below this: the rows of the table the token-id input is embedded
	/// with (0 when the graph embeds no token ids).
	pub fn vocabulary(&self) -> u32 {
		self.embedded_rows(InputKind::TokenIds).unwrap_or(0)
	}

	/// Width of the model's output (the last node's row).
	pub fn output_width(&self) -> u32 {
		self.template.nodes.last().map(|n| n.shape.width()).unwrap_or(0)
	}

	/// The longest input in tokens: the tokenizer's limit (text models), else
	/// [`GENERATED_MAX_TOKENS`], and never more positions than the position table has.
	pub fn max_tokens(&self) -> u32 {
		let limit = self.tokenizer().map(|t| t.max_tokens() as u32).unwrap_or(GENERATED_MAX_TOKENS);
		self.embedded_rows(InputKind::Positions).map_or(limit, |rows| limit.min(rows))
	}

	/// The fewest rows of any table an input of `kind` is embedded with.
	fn embedded_rows(&self, kind: InputKind) -> Option<u32> {
		let template = &self.template;
		let reads = |id: NodeId| matches!(template.node(id).map(|n| &n.op), Some(Op::Input { kind: k }) if *k == kind);
		template
			.nodes
			.iter()
			.filter_map(|n| match n.op {
				Op::Embedding { table } if n.inputs.first().is_some_and(|i| reads(*i)) =>
					template.weight(table),
				_ => None,
			})
			.map(|w| u32::try_from(w.shape.rows()).unwrap_or(u32::MAX))
			.min()
	}

	/// Widest row of the graph at its longest input: what the registry's row-width bound and a
	/// dispute step's weight are checked against.
	pub fn max_row_width(&self) -> u32 {
		self.template.instantiate(self.max_tokens()).max_row_width()
	}
}

/// Openings read weight rows from the model: a compact weight's row is dequantized when asked.
impl WeightRows for Model {
	fn weight_row(&self, tensor: WeightId, row: u32, width: u32) -> Option<Vec<f32>> {
		let values = Model::weight_row(self, tensor, row)?;
		(values.len() == width as usize).then(|| values.into_owned())
	}
}
