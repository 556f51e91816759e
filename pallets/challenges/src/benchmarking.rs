//! Benchmarks: `respond` with the worst-case op (a `Linear` whose rows have the registry's maximum
//! width, so the dot product has the most terms and the openings the most bytes), `challenge`,
//! `settle`, `descend` with the most and widest operand rows kept, and the hook at its per-block
//! bound.

use super::*;
use alloc::vec::Vec;
use arbiter_primitives::{
	builder::GraphBuilder,
	commitment::{model_commitment, trace_tree, weights_tree},
	descent::MAX_OPERAND_ROWS,
	encoding::descriptor_hash,
	prover::ProverData,
	Graph, Opening,
};
use codec::Encode;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::{Bounded, Saturating};

/// A Linear op with `width` input columns: 2 output columns suffice, the work per element
/// depends only on the row width. Its input is a constant row (every input is derived from the
/// task's token ids; the verifier compares the opened row with it, which costs the same for
/// any value). With `cheat`, output column 1 is off by 1.0: the provider's own opening of it is
/// ruled outside the bound.
fn widest_linear(
	width: u32,
	cheat: bool,
	graph_bytes: u32,
) -> (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>) {
	let mut g = GraphBuilder::new();
	// Unused one-value weights with 100-byte names (107 bytes each, encoded) fill the graph to
	// about `graph_bytes` (decoding, hashing and validating the graph grow with its bytes).
	let padding = graph_bytes.saturating_sub(256) / 110;
	for k in 0..padding {
		let mut name = alloc::format!("pad.{k}");
		name.extend(core::iter::repeat_n('.', 100usize.saturating_sub(name.len())));
		g.weight(&name, &[1]);
	}
	let w = g.weight("w", &[2, width]);
	let b = g.weight("b", &[2]);
	let x = g.input(
		arbiter_primitives::InputKind::Constant { value_bits: 0.75f32.to_bits() },
		&[1, width],
	);
	g.linear(x, w, Some(b));
	let graph = g.build();
	let pseudo = |i: u32, scale: f32| {
		((i.wrapping_mul(2_654_435_761) >> 8) as f32 / 16_777_216.0 - 0.5) * scale
	};
	let mut weights: Vec<Vec<f32>> = (0..padding).map(|_| alloc::vec![0.5]).collect();
	weights.push((0..2 * width).map(|i| pseudo(i, 0.1)).collect());
	weights.push(alloc::vec![0.25, -0.5]);
	let (w_data, b_data) = (&weights[padding as usize], &weights[padding as usize + 1]);
	let input: Vec<f32> = alloc::vec![0.75; width as usize];
	let mut out = Vec::new();
	for c in 0..2usize {
		let row = w_data.get(c * width as usize..(c + 1) * width as usize).unwrap_or(&[]);
		let dot: f32 = input.iter().zip(row).map(|(a, b)| a * b).sum();
		out.push(dot + b_data[c]);
	}
	if cheat {
		out[1] += 1.0;
	}
	(graph, weights, alloc::vec![input, out])
}

struct Prepared<T: Config> {
	graph: Graph,
	opening: Opening,
	task: arbiter_interface::TaskId,
	_t: core::marker::PhantomData<T>,
}

fn prepare<T: Config>(cheat: bool, graph_bytes: u32) -> Prepared<T> {
	let width = T::BenchmarkHelper::max_row_width();
	let (graph, weights, outputs) = widest_linear(width, cheat, graph_bytes);
	let tokenizer = [0u8; 32];
	// The registry gets the zero tokenizer hash, as its benchmark helper registers.
	let commitment = model_commitment(&graph, &weights, tokenizer).expect("commits");
	let tt = trace_tree(&graph, &outputs).expect("trace");
	let wt = weights_tree(&graph, &weights).expect("weights");
	let prover = ProverData {
		graph: &graph,
		outputs: &outputs,
		trace_tree: &tt,
		weights: &weights,
		weights_tree: &wt,
		tokenizer_hash: tokenizer,
		seq_len: 1,
	};
	let opening = prover.opening(1, 0, 1).expect("opening");
	let output = outputs
		.last()
		.map(|o| arbiter_primitives::encoding::row_bytes(o))
		.unwrap_or_default();
	let task = T::BenchmarkHelper::committed_task(
		descriptor_hash(&graph),
		commitment.model_root,
		width,
		// No root at commit: the provider's answer fixes it (the costlier path).
		None,
		alloc::vec![101],
		output,
	);
	Prepared { graph, opening, task, _t: Default::default() }
}

fn challenger<T: Config>() -> T::AccountId {
	challenger_n::<T>(0)
}

fn challenger_n<T: Config>(n: u32) -> T::AccountId {
	let who: T::AccountId = account("challenger", n, 0);
	let _ = T::Currency::set_balance(&who, BalanceOf::<T>::max_value() / 1_000_000u32.into());
	who
}

/// The costliest ruling to set up: a cheating provider's task with the most providers a model
/// can have (a loss reassigns over all of them) and every other dispute slot taken by another
/// challenger (a loss dismisses them all). Returns the dispute of element (1, 0, 1), whose
/// provider opening is ruled outside the bound.
fn worst_case<T: Config>(graph_bytes: u32) -> (Prepared<T>, DisputeId) {
	let p = prepare::<T>(true, graph_bytes);
	T::BenchmarkHelper::fill_providers(p.task);
	for n in 1..T::MaxOpenDisputesPerTask::get() {
		Pallet::<T>::do_challenge(challenger_n::<T>(n), p.task, 1, 0, 0)
			.expect("a decoy challenges");
	}
	Pallet::<T>::do_challenge(challenger::<T>(), p.task, 1, 0, 1).expect("challenges");
	let dispute = NextDisputeId::<T>::get().saturating_sub(1);
	(p, dispute)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn challenge() {
		let p = prepare::<T>(false, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(challenger::<T>()), p.task, 1, 0, 1);
		assert!(OpenDisputes::<T>::contains_key(p.task));
	}

	/// The longest generation an output holds (the task read is the largest), challenged at
	/// its last step.
	#[benchmark]
	fn challenge_token_choice() {
		let most = T::BenchmarkHelper::most_new_tokens();
		let mut tokens = alloc::vec![7u32; most as usize];
		if let Some(last) = tokens.last_mut() {
			*last = 9;
		}
		let task = T::BenchmarkHelper::committed_generation(alloc::vec![101, 102], tokens);
		#[extrinsic_call]
		_(RawOrigin::Signed(challenger::<T>()), task, most - 1, 8);
		assert!(OpenDisputes::<T>::contains_key(task));
	}

	/// The worst path: the provider's answer convicts it (decode, verify, slash, dismiss every
	/// other dispute, reassign over the most providers), with a graph of `g` bytes.
	#[benchmark]
	fn respond(g: Linear<0, { T::MaxGraphBytes::get() }>) {
		let (p, dispute) = worst_case::<T>(g);
		let graph =
			BoundedVec::try_from(p.graph.encode()).expect("the padded graph fits MaxGraphBytes");
		let opening =
			BoundedVec::try_from(p.opening.encode()).expect("the opening fits MaxOpeningBytes");
		let operator = Disputes::<T>::get(dispute).expect("open").operator;
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), dispute, graph, opening);
		assert!(!Disputes::<T>::contains_key(dispute), "ruled");
		assert!(OpenDisputes::<T>::get(p.task).is_empty(), "the others dismissed");
	}

	/// The challenger names the next step: the most operand rows kept, each of the widest
	/// width, the named row the last one searched.
	#[benchmark]
	fn descend() {
		let p = prepare::<T>(false, 0);
		let who = challenger::<T>();
		Pallet::<T>::do_challenge(who.clone(), p.task, 1, 0, 1).expect("challenges");
		let dispute = NextDisputeId::<T>::get().saturating_sub(1);
		let width = T::MaxOperandWidth::get();
		let rows: Vec<OperandRow<T::MaxOperandWidth>> = (0..MAX_OPERAND_ROWS)
			.map(|row| OperandRow {
				node: 0,
				row,
				values: BoundedVec::try_from(alloc::vec![0u32; width as usize]).expect("fits"),
			})
			.collect();
		OpenedOperands::<T>::insert(dispute, BoundedVec::try_from(rows).expect("fits"));
		Disputes::<T>::mutate(dispute, |d| {
			if let Some(d) = d {
				d.turn = Turn::Challenger;
			}
		});
		#[extrinsic_call]
		_(RawOrigin::Signed(who), dispute, 0, MAX_OPERAND_ROWS - 1, width - 1);
		assert_eq!(Disputes::<T>::get(dispute).map(|d| d.round), Some(1));
	}

	/// The worst path: no answer (slash, dismiss every other dispute, reassign over the most
	/// providers).
	#[benchmark]
	fn settle() {
		let (_, dispute) = worst_case::<T>(0);
		let late = frame_system::Pallet::<T>::block_number()
			.saturating_add(T::ResponseWindow::get())
			.saturating_add(1u32.into());
		frame_system::Pallet::<T>::set_block_number(late);
		#[extrinsic_call]
		_(RawOrigin::Signed(challenger::<T>()), dispute);
	}

	#[benchmark]
	fn on_initialize(d: Linear<0, { T::MaxDeadlinesPerBlock::get() }>) {
		let (_, first) = worst_case::<T>(0);
		let now = frame_system::Pallet::<T>::block_number();
		let due = now.saturating_add(T::ResponseWindow::get()).saturating_add(1u32.into());
		// The same dispute queued `d` times: the first settles it, the rest find it gone;
		// settling one is the expensive part, so weight it per entry.
		let _ = ResponseDeadlines::<T>::try_mutate(due, |q| {
			q.clear();
			for _ in 0..d {
				let _ = q.try_push(first);
			}
			Ok::<(), ()>(())
		});
		frame_system::Pallet::<T>::set_block_number(due);
		#[block]
		{
			Pallet::<T>::settle_expired(due);
		}
	}

	impl_benchmark_test_suite!(
		Pallet,
		crate::mock::ExtBuilder::default().build(),
		crate::mock::Test
	);
}
