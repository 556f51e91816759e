//! The descent inside one dispute (docs/protocol.md, "Descent").
//!
//! A challenger who cannot read the provider's trace (its node refuses, is down, or is not
//! reachable) still knows the task's input and the committed output, and can recompute the whole
//! model itself. It challenges an output element. Each answer within the bound opens, besides
//! the element's own row, the trace rows it reads: its operands. The challenger then names one
//! element of those rows, and the provider must open that one; and so on, each step one node
//! earlier in the graph. An answer outside the bound convicts the provider; a descent that only
//! finds answers within the bound ends at the model's inputs and weights, which are proven
//! against the task and the registered model, and the challenger loses.
//!
//! Why the walk finds a fault when there is one: an element the provider committed is, by its
//! answer within the bound, explained by its operands. If it is far from the challenger's own
//! value, some operand must be far too (the same operands give the same value up to rounding),
//! so following the operand farthest from the challenger's own run, measured in units of that
//! element's bound, leads to an element whose operands agree and whose value does not: an answer
//! the runtime rules outside the bound.
//!
//! This module has the rule ([`operand_rows`]: what may be named next) and the challenger's
//! strategy ([`first_element`], [`next_element`]); the runtime stores the rows an answer opened,
//! the watcher runs the strategy against its own trace.

use alloc::vec::Vec;

use crate::{
	ir::{Graph, NodeId, Op, WeightId},
	opening::{embedding_table_row, recompute_element, required_rows, MalformedReason, RowRef},
};

/// Most operand rows one answer opens ([`operand_rows`]): a matrix product, a sum, a masked
/// softmax and a masked mean read two; every other op one.
pub const MAX_OPERAND_ROWS: u32 = 2;

/// The trace rows an answer about element `(node, row, col)` opens besides the element's own
/// row: the rows of computed nodes and inputs it reads, as `(node, row)`. The next step of a
/// descent names an element of one of them. Weight rows are not among them: they are proven
/// against the registered model and cannot be wrong.
pub fn operand_rows(
	graph: &Graph,
	node: NodeId,
	row: u32,
	col: u32,
) -> Result<Vec<(NodeId, u32)>, MalformedReason> {
	let rows = required_rows(graph, node, row, col)?;
	Ok(rows
		.into_iter()
		.skip(1)
		.filter_map(|r| match r {
			RowRef::Trace { node, row } => Some((node, row)),
			RowRef::Weight { .. } => None,
		})
		.collect())
}

/// What the strategy reads of the challenger's own execution of the task.
pub trait OwnRun {
	/// Row `row` of node `node` of the challenger's own trace.
	fn trace_row(&self, node: NodeId, row: u32) -> Option<Vec<f32>>;
	/// Row `row` of weight tensor `tensor`.
	fn weight_row(&self, tensor: WeightId, row: u32) -> Option<Vec<f32>>;
}

/// How far `claimed` lies from the challenger's own value of element `(node, row, col)`, in
/// units of that element's bound (plus `slack`) as the challenger's own operands give it.
/// Rounding differences between honest runs score about 1 or less; a value that follows from a
/// wrong one scores far more. `None` when the own run lacks a row.
pub fn distance(
	graph: &Graph,
	own: &dyn OwnRun,
	slack: f32,
	node: NodeId,
	row: u32,
	col: u32,
	claimed: f32,
) -> Option<f64> {
	let required = required_rows(graph, node, row, col).ok()?;
	let mut values: Vec<Vec<f32>> = Vec::with_capacity(required.len() + 1);
	for r in &required {
		values.push(match *r {
			RowRef::Trace { node, row } => own.trace_row(node, row)?,
			RowRef::Weight { tensor, row } => own.weight_row(tensor, row)?,
		});
	}
	let n = graph.node(node)?;
	if let Op::Embedding { table } = n.op {
		let ids_node = graph.node(*n.inputs.first()?)?;
		let vocabulary = graph.weight(table)?.shape.rows();
		let ids_row = values.get(1)?;
		let table_row = embedding_table_row(ids_row, ids_node.shape.width(), row, vocabulary)?;
		values.push(own.weight_row(table, table_row)?);
	}
	let mine = *values.first()?.get(col as usize)?;
	let rows: Vec<&[f32]> = values.iter().map(|v| v.as_slice()).collect();
	let check = recompute_element(graph, node, row, col, &rows).ok()?;
	let unit = (check.bound + slack as f64).max(f64::MIN_POSITIVE);
	let gap = (claimed as f64 - mine as f64).abs();
	Some(if gap.is_nan() { f64::INFINITY } else { gap / unit })
}

/// Where a descent starts: the element of the committed output (the graph's final node, row by
/// row) farthest from the challenger's own, relative to its bound. `None` when the output has
/// another size than the final node, or the own run lacks a row.
pub fn first_element(
	graph: &Graph,
	own: &dyn OwnRun,
	slack: f32,
	committed_output: &[f32],
) -> Option<(NodeId, u32, u32)> {
	let last = graph.nodes.len().checked_sub(1)? as NodeId;
	let shape = &graph.node(last)?.shape;
	let width = shape.width().max(1);
	if committed_output.len() as u64 != shape.rows() * width as u64 {
		return None;
	}
	let mut best: Option<((NodeId, u32, u32), f64)> = None;
	for (i, claimed) in committed_output.iter().enumerate() {
		let (row, col) = ((i / width as usize) as u32, (i % width as usize) as u32);
		let d = distance(graph, own, slack, last, row, col, *claimed)?;
		if best.is_none_or(|(_, b)| d > b) {
			best = Some(((last, row, col), d));
		}
	}
	best.map(|(e, _)| e)
}

/// The next step of a descent: among the operand rows the provider's last answer opened
/// (`opened`: node, row and the provider's values, as the runtime keeps them), the element
/// farthest from the challenger's own, relative to its bound. Input rows are skipped (they are
/// ruled against the task's input, which both sides share). `None` when nothing is left to name.
pub fn next_element(
	graph: &Graph,
	own: &dyn OwnRun,
	slack: f32,
	opened: &[(NodeId, u32, Vec<f32>)],
) -> Option<(NodeId, u32, u32)> {
	let mut best: Option<((NodeId, u32, u32), f64)> = None;
	for (node, row, values) in opened {
		if graph.is_input(*node) {
			continue;
		}
		for (col, claimed) in values.iter().enumerate() {
			let Some(d) = distance(graph, own, slack, *node, *row, col as u32, *claimed) else {
				continue;
			};
			if best.is_none_or(|(_, b)| d > b) {
				best = Some(((*node, *row, col as u32), d));
			}
		}
	}
	best.map(|(e, _)| e)
}
