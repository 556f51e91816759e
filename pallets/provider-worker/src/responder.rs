//! The provider's answer to challenges: for a dispute against one of this node's operators,
//! `respond` with the model's graph and the opening of the disputed element from the engine's
//! trace store. An honest trace wins; a faulty one loses, as it should — the worker answers
//! either way, since no answer loses too. A descent asks again for each step (docs/protocol.md,
//! "Descent"): each round is answered once.

use arbiter_inference_interface::{inference, InferenceError};
use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;

use crate::{
	send_once::{claim, key, operator_keys, send_signed},
	Config, ElementRef, Pallet, ProviderDisputes,
};

const LOG_TARGET: &str = "arbiter::provider";
const SENT_PREFIX: &[u8] = b"arbiter/provider/respond-sent/";

impl<T: Config> Pallet<T> {
	/// One block's work: answer every open dispute against our operators.
	pub(crate) fn run_responder(now: BlockNumberFor<T>) {
		for (public, operator) in operator_keys::<T>() {
			for d in T::Disputes::disputes_against(&operator) {
				let ElementRef { node, row, col } = d.element;
				let opened = match d.token_choice {
					Some((step, rival)) =>
						inference::token_choice_opening(d.task, d.model_root, step, rival),
					None => inference::opening(d.task, d.model_root, node, row, col),
				};
				let opening = match opened {
					Ok(o) => o,
					// No engine here: another node of this operator may answer.
					Err(InferenceError::Unavailable) => return,
					Err(e) => {
						log::warn!(target: LOG_TARGET, "dispute {}: no opening of task {} ({node}, {row}, {col}): {e:?}", d.dispute, d.task);
						continue;
					},
				};
				let graph = match inference::graph(d.model_root) {
					Ok(g) => g,
					Err(e) => {
						log::warn!(target: LOG_TARGET, "dispute {}: no graph for the model: {e:?}", d.dispute);
						continue;
					},
				};
				let resubmit = T::ResubmitAfter::get();
				if !claim::<T>(&key(SENT_PREFIX, (d.dispute, d.round)), now, Some(resubmit)) {
					continue;
				}
				let Some(call) = T::Disputes::respond_call(d.dispute, &graph, &opening) else {
					log::warn!(target: LOG_TARGET, "dispute {}: the engine's graph or opening does not decode", d.dispute);
					continue;
				};
				if send_signed::<T>(&public, call) {
					log::info!(target: LOG_TARGET, "dispute {}: answered with the opening of task {} ({node}, {row}, {col})", d.dispute, d.task);
				} else {
					log::warn!(target: LOG_TARGET, "dispute {}: could not send the answer; retrying in {resubmit:?} blocks", d.dispute);
				}
			}
		}
	}
}
