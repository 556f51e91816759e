//! Generation tasks: what the chain checks of the generated tokens, element disputes on a
//! generation trace, and token-choice disputes (docs/protocol.md, "Generation tasks").
//!
//! A generation's trace is the decoder graph at the positions decoding ran: the prompt and every
//! generated token but the last ([`generation_trace_input`]); its final node is the normalized
//! hidden row of every position. The committed output is the tokens, not that node: the tokens
//! are the trace's input from the second step on, so the ordinary input check binds the trace to
//! them, and whether each was a choice the provider's own hidden row allows is what a
//! token-choice dispute rules on. The logits of a position are its hidden row times the token
//! embedding's rows (the tied LM head, [`lm_head`]); the runtime computes the two a dispute names
//! exactly and allows the provider the rounding of any f32 dot product, so an honest argmax (or
//! Gumbel-max) always survives and a provider can only pick among near-ties inside that band.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::{
	evaluator::{exact::ExactSum, gamma},
	ir::{f32_of, Graph, NodeId, Op, WeightId},
	opening::{
		check_commitments, check_opening_with, open_all, verdict_of, MalformedReason, OpenedRows,
		Opening, OutputRule, RegisteredModel, RowRef, TaskCommitments, Verdict,
	},
	sampling::gumbel_noise,
	Hash,
};

/// 2^-50: the relative size allowed for f64 roundings in the ruling (each is 2^-53 at most).
const ROUNDING_MARGIN: f64 = 8.881_784_197_001_252e-16;

/// How a generation task chooses each token (the submitter's choice, stored with the task).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum TokenSampling {
	/// The highest logit.
	Greedy,
	/// Gumbel-max under the submitter's seed: the highest
	/// `logit / temperature + gumbel_noise(seed, step, token)`. `temperature_bits` is an f32,
	/// finite and positive ([`TokenSampling::is_valid`]; the chain refuses others).
	Gumbel { temperature_bits: u32, seed: u64 },
}

impl TokenSampling {
	/// Whether the temperature (if any) is finite and positive.
	pub fn is_valid(&self) -> bool {
		match self {
			Self::Greedy => true,
			Self::Gumbel { temperature_bits, .. } => {
				let t = f32_of(*temperature_bits);
				t.is_finite() && t > 0.0
			},
		}
	}

	/// The score the token with logit `logit` gets at step `step`; the highest is chosen. The
	/// engine's choice and the runtime's ruling both use it.
	pub fn score(&self, logit: f32, step: u32, token: u32) -> f64 {
		match *self {
			Self::Greedy => logit as f64,
			Self::Gumbel { temperature_bits, seed } =>
				logit as f64 / f32_of(temperature_bits) as f64 + gumbel_noise(seed, step, token),
		}
	}
}

/// Why committed tokens are refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TokensError {
	/// No token, or more than `max_new_tokens`.
	Count,
	/// A token at or above the vocabulary size.
	OutOfVocabulary,
	/// The stop token before the last position.
	StopBeforeEnd,
	/// Fewer than `max_new_tokens` and the last is not the stop token.
	EndedEarly,
}

/// The stop rule, from on-chain data only: 1 to `max_new_tokens` tokens, each below
/// `vocabulary`; the stop token only last; fewer than the maximum only if the stop token ended
/// them.
pub fn check_generated_tokens(
	tokens: &[u32],
	max_new_tokens: u32,
	stop_token: u32,
	vocabulary: u32,
) -> Result<(), TokensError> {
	let Some((last, before)) = tokens.split_last() else { return Err(TokensError::Count) };
	if tokens.len() as u64 > max_new_tokens as u64 {
		return Err(TokensError::Count);
	}
	if tokens.iter().any(|t| *t >= vocabulary) {
		return Err(TokensError::OutOfVocabulary);
	}
	if before.contains(&stop_token) {
		return Err(TokensError::StopBeforeEnd);
	}
	if (tokens.len() as u64) < max_new_tokens as u64 && *last != stop_token {
		return Err(TokensError::EndedEarly);
	}
	Ok(())
}

/// The output a generation commits: its tokens, u32 little-endian each ([`tokens_of_output`]
/// reads it back).
pub fn output_of_tokens(tokens: &[u32]) -> Vec<u8> {
	tokens.iter().flat_map(|t| t.to_le_bytes()).collect()
}

/// A generation's committed output as its tokens (u32 little-endian each, the form the chain
/// stores); `None` unless the bytes are whole u32s.
pub fn tokens_of_output(output: &[u8]) -> Option<Vec<u32>> {
	if !output.len().is_multiple_of(4) {
		return None;
	}
	Some(
		output
			.chunks_exact(4)
			.map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
			.collect(),
	)
}

/// The ids a generation's trace is of: the prompt, then every generated token but the last
/// (whose hidden row no step needs).
pub fn generation_trace_input(prompt: &[u32], tokens: &[u32]) -> Vec<u32> {
	let mut ids = Vec::with_capacity(prompt.len() + tokens.len());
	ids.extend_from_slice(prompt);
	ids.extend_from_slice(tokens.get(..tokens.len().saturating_sub(1)).unwrap_or(&[]));
	ids
}

/// The weight the logits are read from: the graph's token embedding (the first `Embedding`'s
/// table) when its rows are as wide as the final node (a tied LM head). A generation model
/// must have one (the registry checks it); `None` otherwise.
pub fn lm_head(graph: &Graph) -> Option<WeightId> {
	let width = graph.nodes.last()?.shape.width();
	let table = graph.nodes.iter().find_map(|n| match n.op {
		Op::Embedding { table } => Some(table),
		_ => None,
	})?;
	(graph.weight(table)?.shape.width() == width).then_some(table)
}

/// What the chain holds of a generation task.
#[derive(Clone, Copy, Debug)]
pub struct GenerationCommitments<'a> {
	/// The committed (or first-answer-fixed) trace root.
	pub trace_root: &'a Hash,
	/// The prompt's token ids.
	pub prompt: &'a [u32],
	/// The committed generated tokens.
	pub tokens: &'a [u32],
	pub sampling: TokenSampling,
}

/// Rules on an element of a generation trace: as [`crate::opening::verify_element`], with the
/// trace's input the prompt and the tokens ([`generation_trace_input`]) and no output rule (the
/// final node is not the committed output).
pub fn verify_generation_element(
	model: &RegisteredModel,
	task: &GenerationCommitments,
	disputed: (NodeId, u32, u32),
	opening: &Opening,
) -> Verdict {
	let input = generation_trace_input(task.prompt, task.tokens);
	let commitments = TaskCommitments { trace_root: task.trace_root, output: &[], input: &input };
	verdict_of(model, check_opening_with(model, &commitments, disputed, opening, OutputRule::None))
}

/// The element a token-choice opening names: the final node's row at the position whose
/// hidden row chose token `step` (the prompt's last position for step 0), column 0. `None` when
/// there is no such step.
pub fn token_choice_element(
	graph: &Graph,
	task: &GenerationCommitments,
	step: u32,
) -> Option<(NodeId, u32, u32)> {
	if step as usize >= task.tokens.len() || task.prompt.is_empty() {
		return None;
	}
	let last = graph.nodes.len().checked_sub(1)? as NodeId;
	Some((last, task.prompt.len() as u32 - 1 + step, 0))
}

/// The rows a token-choice opening holds: the hidden row, then the chosen and the rival
/// token's embedding rows.
pub fn token_choice_rows(
	graph: &Graph,
	task: &GenerationCommitments,
	step: u32,
	rival: u32,
) -> Result<[RowRef; 3], MalformedReason> {
	let (node, row, _) =
		token_choice_element(graph, task, step).ok_or(MalformedReason::ElementOutOfRange)?;
	let table = lm_head(graph).ok_or(MalformedReason::NodeNotChallengeable)?;
	let vocabulary = graph.weight(table).map(|w| w.shape.rows()).unwrap_or(0);
	let chosen = *task.tokens.get(step as usize).ok_or(MalformedReason::ElementOutOfRange)?;
	if rival == chosen || rival as u64 >= vocabulary || chosen as u64 >= vocabulary {
		return Err(MalformedReason::ElementOutOfRange);
	}
	Ok([
		RowRef::Trace { node, row },
		RowRef::Weight { tensor: table, row: chosen },
		RowRef::Weight { tensor: table, row: rival },
	])
}

/// Rules on a token-choice dispute: the challenger says `rival` scores higher than the token the
/// provider committed at `step`. The opening holds the final node's row at that step's position
/// (proven against the trace root) and the two tokens' embedding rows (proven against the model
/// root). With `D` the exact difference of the two logits (rival − chosen) and `Aₜ = Σ|hᵢeₜᵢ|`,
/// an f32 logit is within `γ(k)·Aₜ` of the exact one whatever the summation order, so:
///
/// - greedy: the provider loses iff `D > γ(k)·(A_c + A_r) + 2·slack`;
/// - Gumbel: iff `D/T + g_r − g_c > (γ(k)·(A_c + A_r) + 2·slack)/T + η`, `η` covering the f64
///   roundings of the score (`T` the temperature, `g` the public noise).
///
/// An honest choice (the highest score of the provider's own f32 logits) always survives; a
/// choice beaten by more than the band loses. A step, rival or model that has no such element
/// is ruled for the provider ([`Verdict::ruling`]); the pallet refuses such challenges first.
pub fn verify_token_choice(
	model: &RegisteredModel,
	task: &GenerationCommitments,
	step: u32,
	rival: u32,
	opening: &Opening,
) -> Verdict {
	match check_token_choice(model, task, step, rival, opening) {
		Ok(true) => Verdict::WithinBound,
		Ok(false) => Verdict::OutsideBound,
		Err(reason) => Verdict::Malformed(reason),
	}
}

/// `Ok(true)` when the committed token is allowed.
fn check_token_choice(
	model: &RegisteredModel,
	task: &GenerationCommitments,
	step: u32,
	rival: u32,
	opening: &Opening,
) -> Result<bool, MalformedReason> {
	if !task.sampling.is_valid() {
		// The chain refuses such a task at submission; nothing to rule on.
		return Err(MalformedReason::BadRowOpening);
	}
	check_commitments(model, task.trace_root, opening)?;
	let input = generation_trace_input(task.prompt, task.tokens);
	if opening.seq_len as u64 != input.len() as u64 {
		return Err(MalformedReason::InputMismatch);
	}
	let graph = &model.graph.instantiate(opening.seq_len);
	graph.validate(model.max_row_width).map_err(MalformedReason::InvalidGraph)?;
	let [hidden_ref, chosen_ref, rival_ref] = token_choice_rows(graph, task, step, rival)?;
	let RowRef::Trace { node, row } = hidden_ref else {
		return Err(MalformedReason::NodeNotChallengeable);
	};
	if (opening.node, opening.row, opening.col) != (node, row, 0) {
		return Err(MalformedReason::WrongElement);
	}
	// The final node has one row per position: its row `p` is position `p`'s hidden row.
	let final_node = graph.node(node).ok_or(MalformedReason::NodeNotChallengeable)?;
	if final_node.shape.rows() != opening.seq_len as u64 {
		return Err(MalformedReason::NodeNotChallengeable);
	}
	let OpenedRows { trace, weights } = open_all(graph, opening)?;
	// Exactly the three rows, each once.
	let opened: Vec<RowRef> = trace
		.iter()
		.map(|(node, row, _)| RowRef::Trace { node: *node, row: *row })
		.chain(
			weights
				.iter()
				.map(|(tensor, row, _)| RowRef::Weight { tensor: *tensor, row: *row }),
		)
		.collect();
	for (k, r) in opened.iter().enumerate() {
		if ![hidden_ref, chosen_ref, rival_ref].contains(r) || opened[..k].contains(r) {
			return Err(MalformedReason::UnexpectedRow { row: *r });
		}
	}
	let find = |r: RowRef| -> Result<&[f32], MalformedReason> {
		match r {
			RowRef::Trace { .. } => trace.first().map(|(_, _, v)| v.as_slice()),
			RowRef::Weight { row, .. } =>
				weights.iter().find(|(_, w, _)| *w == row).map(|(_, _, v)| v.as_slice()),
		}
		.ok_or(MalformedReason::MissingRow { row: r })
	};
	let (hidden, chosen_row, rival_row) = (find(hidden_ref)?, find(chosen_ref)?, find(rival_ref)?);
	let chosen = *task.tokens.get(step as usize).ok_or(MalformedReason::ElementOutOfRange)?;
	let gap = token_choice_gap(
		hidden,
		(chosen, chosen_row),
		(rival, rival_row),
		task.sampling,
		step,
		model.slack(),
	);
	Ok(gap.excess <= gap.allowed)
}

/// How much a rival token beats a chosen one under a hidden row, in the units a token-choice
/// ruling compares (logits when greedy; `logit / T + noise` when sampling).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenChoiceGap {
	/// The rival's score minus the chosen token's, from the exact logits.
	pub excess: f64,
	/// What the rounding of f32 logits allows the provider (the band, the slack and the f64
	/// roundings of the ruling itself): the choice stands iff `excess <= allowed`.
	pub allowed: f64,
	/// `Σ|hᵢcᵢ| + Σ|hᵢrᵢ|` in the same units: the size of the two logits' terms, which a
	/// watcher scales its own tolerance by (another honest hidden row moves the logits in
	/// proportion to it).
	pub scale: f64,
}

/// The gap between the `rival` and the `chosen` token (each with its embedding row) at
/// generation step `step` under `hidden`, as [`verify_token_choice`] rules on it. With `D` the
/// exact difference of the two logits (rival − chosen) and `Aₜ = Σ|hᵢeₜᵢ|`, an f32 logit is
/// within `γ(k)·Aₜ` of the exact one whatever the summation order, so:
///
/// - greedy: `excess = D`, `allowed = γ(k)·(A_c + A_r) + 2·slack` (plus the f64 roundings);
/// - Gumbel: `excess = D/T + g_r − g_c`, `allowed` the same band divided by `T`, plus `η` for the
///   f64 roundings of the scores (`T` the temperature, `g` the public noise).
///
/// An honest choice (the highest score of the provider's own f32 logits) always has
/// `excess <= allowed`.
pub fn token_choice_gap(
	hidden: &[f32],
	(chosen, chosen_row): (u32, &[f32]),
	(rival, rival_row): (u32, &[f32]),
	sampling: TokenSampling,
	step: u32,
	slack: f64,
) -> TokenChoiceGap {
	// D = Σ hᵢ·(rᵢ − cᵢ), exactly (one rounding at the read-out, below 2^-60 relative).
	let mut difference = ExactSum::new();
	let (mut abs_chosen, mut abs_rival) = (0.0f64, 0.0f64);
	for ((h, c), r) in hidden.iter().zip(chosen_row).zip(rival_row) {
		difference.add_product(*h, *r);
		difference.add_product(-*h, *c);
		// f32 × f32 is exact in f64.
		abs_chosen += (*h as f64 * *c as f64).abs();
		abs_rival += (*h as f64 * *r as f64).abs();
	}
	let k = hidden.len() as u32;
	// The f64 sums of |hᵢeᵢ| round k times: inflate so they stay upper bounds.
	let inflate = 1.0 + (k as f64 + 1.0) * f64::EPSILON;
	let (abs_chosen, abs_rival) = (abs_chosen * inflate, abs_rival * inflate);
	let d = difference.to_f64();
	let band = gamma(k) * (abs_chosen + abs_rival) + 2.0 * slack;
	// Read-out rounding of `d` (2^-60 relative) and of the band's own f64 arithmetic.
	let margin = (d.abs() + band) * ROUNDING_MARGIN;
	match sampling {
		TokenSampling::Greedy =>
			TokenChoiceGap { excess: d, allowed: band + margin, scale: abs_chosen + abs_rival },
		TokenSampling::Gumbel { temperature_bits, seed } => {
			let t = f32_of(temperature_bits) as f64;
			let (g_chosen, g_rival) =
				(gumbel_noise(seed, step, chosen), gumbel_noise(seed, step, rival));
			// The provider's scores `fl(fl(L/T) + g)` each round twice in f64 (2^-53 relative),
			// with |L| ≤ A(1 + γ); ours round as many times again.
			let eta = ROUNDING_MARGIN *
				((abs_chosen + abs_rival) * (1.0 + gamma(k)) / t +
					g_chosen.abs() + g_rival.abs());
			TokenChoiceGap {
				excess: d / t + (g_rival - g_chosen),
				allowed: band / t + margin / t + eta,
				scale: (abs_chosen + abs_rival) / t,
			}
		},
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_rounding_margin_is_two_to_the_minus_fifty() {
		assert_eq!(ROUNDING_MARGIN, 1.0 / (1u64 << 50) as f64);
	}
}
