//! Off-chain workers: how they sign transactions (operator keys, `arbi`) and the provider /
//! watcher worker, which runs assigned tasks on the node's engine and commits their results,
//! answers disputes against them, and (with `--watcher`) checks and challenges others' results.

use alloc::vec::Vec;
use codec::Encode;
use frame_support::parameter_types;

use super::BlockHashCount;
use sp_runtime::{generic::Era, traits::Verify, SaturatedConversion};

use crate::{
	AccountId, Nonce, Runtime, RuntimeCall, Signature, SignedPayload, System, TaskRegistry,
	TxExtension, UncheckedExtrinsic,
};
use frame_support::traits::Get;
use pallet_provider_worker::{DisputeId, ElementRef, TaskId};
use pallet_task_registry::TaskStatus;

impl frame_system::offchain::SigningTypes for Runtime {
	type Public = <Signature as Verify>::Signer;
	type Signature = Signature;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	type RuntimeCall = RuntimeCall;
	type Extrinsic = UncheckedExtrinsic;
}

impl<LocalCall> frame_system::offchain::CreateSignedTransaction<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	fn create_signed_transaction<
		C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
	>(
		call: RuntimeCall,
		public: <Signature as Verify>::Signer,
		account: AccountId,
		nonce: Nonce,
	) -> Option<UncheckedExtrinsic> {
		// Valid for the next BlockHashCount blocks (rounded to a power of two by Era).
		let period = BlockHashCount::get() as u64;
		let current = System::block_number().saturated_into::<u64>().saturating_sub(1);
		let extension: TxExtension = (
			frame_system::CheckNonZeroSender::<Runtime>::new(),
			frame_system::CheckSpecVersion::<Runtime>::new(),
			frame_system::CheckTxVersion::<Runtime>::new(),
			frame_system::CheckGenesis::<Runtime>::new(),
			frame_system::CheckEra::<Runtime>::from(Era::mortal(period, current)),
			frame_system::CheckNonce::<Runtime>::from(nonce),
			frame_system::CheckWeight::<Runtime>::new(),
			pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
			frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
		);
		let payload = SignedPayload::new(call, extension).ok()?;
		let signature = payload.using_encoded(|bytes| C::sign(bytes, public))?;
		let (call, extension, _) = payload.deconstruct();
		Some(UncheckedExtrinsic::new_signed(
			call,
			sp_runtime::MultiAddress::Id(account),
			signature,
			extension,
		))
	}
}

/// Tasks assigned to an operator that still wait for its result, from the task registry.
pub struct RegistryTasks;
impl pallet_provider_worker::AssignedTasks<AccountId, RuntimeCall> for RegistryTasks {
	fn awaiting_result(operator: &AccountId) -> Vec<pallet_provider_worker::AssignedTask> {
		TaskRegistry::operator_tasks(operator)
			.into_iter()
			.filter_map(|id| {
				let task = pallet_task_registry::Tasks::<Runtime>::get(id)?;
				match &task.status {
					pallet_task_registry::TaskStatus::Assigned { operator: o, .. }
						if o == operator => {},
					_ => return None,
				}
				let model = TaskRegistry::model(task.model)?;
				Some(pallet_provider_worker::AssignedTask {
					task: id,
					model_root: model.model_root.0,
					input: task.input.into_inner(),
					generation: generation_job(task.request, model.io.kind),
				})
			})
			.collect()
	}

	fn open_tasks(operator: &AccountId) -> Vec<TaskId> {
		// The registry indexes an operator's tasks from assignment until they end.
		TaskRegistry::operator_tasks(operator)
	}

	fn commit_call(
		task: TaskId,
		output: Vec<u8>,
		trace_root: Option<[u8; 32]>,
	) -> Option<RuntimeCall> {
		Some(RuntimeCall::TaskRegistry(pallet_task_registry::Call::commit_result {
			task,
			output: output.try_into().ok()?,
			trace_root: trace_root.map(Into::into),
		}))
	}
}

/// What the engine needs of a generation task besides its prompt: its request and the model's
/// stop token (`None` for an embedding task).
fn generation_job(
	request: pallet_task_registry::TaskRequest,
	kind: pallet_task_registry::ModelKind,
) -> Option<arbiter_inference_interface::GenerationJob> {
	match (request, kind) {
		(
			pallet_task_registry::TaskRequest::Generation { max_new_tokens, sampling },
			pallet_task_registry::ModelKind::Generation { stop_token, .. },
		) => Some(arbiter_inference_interface::GenerationJob {
			max_new_tokens,
			stop_token,
			sampling,
		}),
		_ => None,
	}
}

/// The operator of `provider` (the account its node signs with).
fn operator_of(provider: &AccountId) -> Option<AccountId> {
	pallet_compute_staking::Providers::<Runtime>::get(provider).map(|p| p.operator)
}

/// Open disputes against an operator's results, from the challenges pallet.
pub struct ChallengeDisputes;
impl pallet_provider_worker::ProviderDisputes<AccountId, RuntimeCall> for ChallengeDisputes {
	fn disputes_against(operator: &AccountId) -> Vec<pallet_provider_worker::OpenDispute> {
		// Off-chain only: iterating the open disputes costs no block weight.
		pallet_challenges::Disputes::<Runtime>::iter()
			.filter(|(_, d)| d.turn == pallet_challenges::Turn::Provider)
			.filter(|(_, d)| operator_of(&d.provider).as_ref() == Some(operator))
			.filter_map(|(id, d)| {
				let model = TaskRegistry::model(d.model)?;
				let token_choice = match d.claim {
					pallet_challenges::Claim::TokenChoice { step, rival } => Some((step, rival)),
					pallet_challenges::Claim::Element => None,
				};
				Some(pallet_provider_worker::OpenDispute {
					dispute: id,
					task: d.task,
					model_root: model.model_root.0,
					element: d.element,
					token_choice,
					round: d.round,
				})
			})
			.collect()
	}

	fn respond_call(dispute: DisputeId, graph: &[u8], opening: &[u8]) -> Option<RuntimeCall> {
		use codec::DecodeAll;
		// Sent only when both decode and fit (the runtime checks again).
		arbiter_primitives::Graph::decode_all(&mut &graph[..]).ok()?;
		arbiter_primitives::Opening::decode_all(&mut &opening[..]).ok()?;
		Some(RuntimeCall::Challenges(pallet_challenges::Call::respond {
			dispute,
			graph: graph.to_vec().try_into().ok()?,
			opening: opening.to_vec().try_into().ok()?,
		}))
	}
}

/// A committed result in its challenge window as a watcher checks it (`None`: not in its
/// window, or not checkable).
fn watched_task(
	id: TaskId,
	now: crate::BlockNumber,
) -> Option<pallet_provider_worker::WatchedTask<AccountId>> {
	let task = pallet_task_registry::Tasks::<Runtime>::get(id)?;
	let (TaskStatus::Committed { provider, operator, output, trace_root, window_end, .. } |
	TaskStatus::Disputed { provider, operator, output, trace_root, window_end, .. }) = task.status
	else {
		return None;
	};
	if window_end < now {
		return None;
	}
	let model = TaskRegistry::model(task.model)?;
	// A generation is checked by its token choices (docs/protocol.md, "Watching
	// generations"); a generation task of a model not registered for generation has
	// no job, and is not watched.
	let generation = generation_job(task.request, model.io.kind);
	if task.request != pallet_task_registry::TaskRequest::Embedding && generation.is_none() {
		return None;
	}
	let endpoint = pallet_compute_staking::Providers::<Runtime>::get(&provider)?
		.offer
		.endpoint
		.into_inner();
	Some(pallet_provider_worker::WatchedTask {
		operator,
		request: arbiter_inference_interface::WatchRequest {
			task: id,
			model_root: model.model_root.0,
			input: task.input.into_inner(),
			output: output.into_inner(),
			generation,
			trace_root: trace_root.map(|r| r.0),
			endpoint,
			slack_bits: model.slack_bits,
			max_row_width: model.max_row_width,
			audit: false,
		},
		disputes: pallet_challenges::OpenDisputes::<Runtime>::get(id)
			.into_iter()
			.filter_map(|d| {
				pallet_challenges::Disputes::<Runtime>::get(d).map(|d| (d.challenger, d.element))
			})
			.collect(),
	})
}

/// Committed results whose challenge window is open, for watchers.
pub struct WatchableResults;
impl pallet_provider_worker::WatchedTasks<AccountId, RuntimeCall> for WatchableResults {
	fn challengeable() -> Vec<pallet_provider_worker::WatchedTask<AccountId>> {
		let now = System::block_number();
		// Committed tasks are queued for the block after their window ends (the registry scans
		// at most 1,024 blocks; later windows are seen as they come closer).
		let last = now
			.saturating_add(<Runtime as pallet_task_registry::Config>::ChallengeWindow::get())
			.saturating_add(1);
		let mut ids = TaskRegistry::tasks_due(now, last);
		// A task can be queued twice (its assignment deadline, then its window).
		ids.sort_unstable();
		ids.dedup();
		ids.into_iter().filter_map(|id| watched_task(id, now)).collect()
	}

	fn challenge_call(task: TaskId, element: ElementRef) -> RuntimeCall {
		let ElementRef { node, row, col } = element;
		RuntimeCall::Challenges(pallet_challenges::Call::challenge { task, node, row, col })
	}

	fn token_choice_call(task: TaskId, step: u32, rival: u32) -> RuntimeCall {
		RuntimeCall::Challenges(pallet_challenges::Call::challenge_token_choice {
			task,
			step,
			rival,
		})
	}

	fn descents(challenger: &AccountId) -> Vec<pallet_provider_worker::DescentTurn> {
		// Off-chain only: iterating the open disputes costs no block weight.
		pallet_challenges::Disputes::<Runtime>::iter()
			.filter(|(_, d)| d.turn == pallet_challenges::Turn::Challenger)
			.filter(|(_, d)| &d.challenger == challenger)
			.filter_map(|(id, d)| {
				let task = pallet_task_registry::Tasks::<Runtime>::get(d.task)?;
				let model = TaskRegistry::model(d.model)?;
				let opened = pallet_challenges::OpenedOperands::<Runtime>::get(id)?
					.into_iter()
					.map(|r| (r.node, r.row, r.values.into_inner()))
					.collect();
				// A generation's trace is of its prompt and its committed tokens.
				let tokens = match (task.request, &task.status) {
					(pallet_task_registry::TaskRequest::Embedding, _) => None,
					(
						pallet_task_registry::TaskRequest::Generation { .. },
						TaskStatus::Committed { output, .. } | TaskStatus::Disputed { output, .. },
					) => Some(arbiter_primitives::token_choice::tokens_of_output(output)?),
					_ => return None,
				};
				Some(pallet_provider_worker::DescentTurn {
					dispute: id,
					round: d.round,
					request: arbiter_inference_interface::DescentRequest {
						task: d.task,
						model_root: model.model_root.0,
						input: task.input.into_inner(),
						tokens,
						slack_bits: model.slack_bits,
						opened,
					},
				})
			})
			.collect()
	}

	fn descend_call(dispute: DisputeId, element: ElementRef) -> RuntimeCall {
		let ElementRef { node, row, col } = element;
		RuntimeCall::Challenges(pallet_challenges::Call::descend { dispute, node, row, col })
	}
}

/// Results a node's operators were drawn to audit, from the audits pallet.
pub struct DrawnAudits;
impl pallet_provider_worker::AuditDuties<AccountId, RuntimeCall> for DrawnAudits {
	fn audits_of(operator: &AccountId) -> Vec<arbiter_inference_interface::WatchRequest> {
		let Some(provider) = pallet_compute_staking::Operators::<Runtime>::get(operator) else {
			return Vec::new();
		};
		let now = System::block_number();
		// Off-chain only: iterating the open audits costs no block weight.
		pallet_audits::OpenAudits::<Runtime>::iter()
			.filter(|(_, audit)| {
				audit
					.auditors
					.iter()
					.any(|(a, s)| *a == provider && *s == pallet_audits::AuditorStatus::Drawn)
			})
			.filter_map(|(task, _)| watched_task(task, now))
			.map(|watched| arbiter_inference_interface::WatchRequest {
				audit: true,
				..watched.request
			})
			.collect()
	}

	fn attest_call(task: TaskId) -> RuntimeCall {
		RuntimeCall::Audits(pallet_audits::Call::attest { task })
	}
}

parameter_types! {
	/// A commit not in a block after this many blocks is sent again.
	pub const ResubmitAfter: crate::BlockNumber = 5;
}

impl pallet_provider_worker::Config for Runtime {
	type OperatorKey = pallet_provider_worker::crypto::OperatorAuthId;
	type Tasks = RegistryTasks;
	type Disputes = ChallengeDisputes;
	type Watched = WatchableResults;
	type Audits = DrawnAudits;
	type ResubmitAfter = ResubmitAfter;
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{RuntimeOrigin, UNIT};
	use frame_support::{assert_ok, BoundedVec};
	use pallet_provider_worker::AssignedTasks;
	use sp_keyring::Sr25519Keyring;
	use sp_runtime::traits::Dispatchable;

	#[test]
	fn the_worker_sees_exactly_the_tasks_assigned_to_its_operator() {
		crate::tests::ext_from_preset("development").execute_with(|| {
			System::set_block_number(1);
			let (alice, ferdie) =
				(Sr25519Keyring::Alice.to_account_id(), Sr25519Keyring::Ferdie.to_account_id());
			let model = crate::tests::approved_model_with_provider([4; 32], RuntimeOrigin::root());
			assert!(RegistryTasks::awaiting_result(&ferdie).is_empty());
			assert_ok!(TaskRegistry::submit_task(
				RuntimeOrigin::signed(alice.clone()),
				model,
				BoundedVec::try_from(vec![101, 7592, 102]).unwrap(),
				10 * UNIT,
			));
			let tasks = RegistryTasks::awaiting_result(&ferdie);
			assert_eq!(
				tasks,
				vec![pallet_provider_worker::AssignedTask {
					task: 0,
					model_root: [4; 32],
					input: vec![101, 7592, 102],
					generation: None,
				}]
			);
			assert!(RegistryTasks::awaiting_result(&alice).is_empty());
			// The commit the worker sends is the operator's commit_result; once committed the
			// task no longer waits.
			let call = RegistryTasks::commit_call(0, vec![0u8; 1536], Some([7; 32])).unwrap();
			assert_ok!(call.dispatch(RuntimeOrigin::signed(ferdie.clone())));
			assert!(RegistryTasks::awaiting_result(&ferdie).is_empty());
			// An output over the storage bound cannot become a call.
			assert!(RegistryTasks::commit_call(0, vec![0u8; 64 * 1024 + 1], None).is_none());
		});
	}

	#[test]
	fn a_generation_reaches_the_worker_with_its_request_and_its_token_choices_with_the_claim() {
		use pallet_provider_worker::{ProviderDisputes, WatchedTasks};
		use pallet_task_registry::{ModelKind, TokenSampling};
		crate::tests::ext_from_preset("development").execute_with(|| {
			System::set_block_number(1);
			let (alice, ferdie, dave) = (
				Sr25519Keyring::Alice.to_account_id(),
				Sr25519Keyring::Ferdie.to_account_id(),
				Sr25519Keyring::Dave.to_account_id(),
			);
			let kind =
				ModelKind::Generation { max_new_tokens: 64, max_context: 512, stop_token: 2 };
			let model = crate::tests::approved_model_of_kind_with_provider(
				[5; 32],
				RuntimeOrigin::root(),
				kind,
			);
			let sampling = TokenSampling::Gumbel { temperature_bits: 0.7f32.to_bits(), seed: 3 };
			assert_ok!(TaskRegistry::submit_generation(
				RuntimeOrigin::signed(alice.clone()),
				model,
				BoundedVec::try_from(vec![1, 9690, 198]).unwrap(),
				8,
				sampling,
				10 * UNIT,
			));
			let job = arbiter_inference_interface::GenerationJob {
				max_new_tokens: 8,
				stop_token: 2,
				sampling,
			};
			assert_eq!(
				RegistryTasks::awaiting_result(&ferdie),
				vec![pallet_provider_worker::AssignedTask {
					task: 0,
					model_root: [5; 32],
					input: vec![1, 9690, 198],
					generation: Some(job),
				}]
			);
			// The engine's tokens (u32 little-endian) are the commit.
			let tokens: Vec<u8> = [504u32, 3000, 2].iter().flat_map(|t| t.to_le_bytes()).collect();
			assert_ok!(RegistryTasks::commit_call(0, tokens, None)
				.unwrap()
				.dispatch(RuntimeOrigin::signed(ferdie.clone())));
			// Watchers check it by its token choices: the request carries the job.
			let watched = WatchableResults::challengeable();
			assert_eq!(watched.len(), 1);
			let r = &watched[0].request;
			assert_eq!(
				(r.task, r.input.as_slice(), r.generation),
				(0, &[1, 9690, 198][..], Some(job))
			);
			assert_eq!(
				r.output,
				[504u32, 3000, 2].iter().flat_map(|t| t.to_le_bytes()).collect::<Vec<u8>>()
			);
			// A token-choice dispute (the watcher's call) reaches the provider with its claim.
			assert_ok!(WatchableResults::token_choice_call(0, 1, 4000)
				.dispatch(RuntimeOrigin::signed(dave.clone())));
			let disputes = ChallengeDisputes::disputes_against(&ferdie);
			assert_eq!(disputes.len(), 1);
			assert_eq!(disputes[0].token_choice, Some((1, 4000)));
			// Its answer stood: the watcher's descent re-executes the prompt and the tokens.
			pallet_challenges::Disputes::<Runtime>::mutate(0, |d| {
				d.as_mut().unwrap().turn = pallet_challenges::Turn::Challenger
			});
			pallet_challenges::OpenedOperands::<Runtime>::insert(
				0,
				BoundedVec::try_from(vec![pallet_challenges::OperandRow {
					node: 300,
					row: 3,
					values: BoundedVec::try_from(vec![0u32; 4]).unwrap(),
				}])
				.unwrap(),
			);
			let turns = WatchableResults::descents(&dave);
			assert_eq!(turns.len(), 1);
			assert_eq!(turns[0].request.input, vec![1, 9690, 198]);
			assert_eq!(turns[0].request.tokens, Some(vec![504, 3000, 2]));
		});
	}

	#[test]
	fn a_drawn_auditor_sees_its_audits_as_audit_checks_and_attests_them() {
		use pallet_provider_worker::AuditDuties;
		crate::tests::ext_from_preset("development").execute_with(|| {
			System::set_block_number(1);
			let (alice, bob, ferdie, dave) = (
				Sr25519Keyring::Alice.to_account_id(),
				Sr25519Keyring::Bob.to_account_id(),
				Sr25519Keyring::Ferdie.to_account_id(),
				Sr25519Keyring::Dave.to_account_id(),
			);
			let model = crate::tests::approved_model_with_provider([4; 32], RuntimeOrigin::root());
			assert_ok!(TaskRegistry::submit_task(
				RuntimeOrigin::signed(dave.clone()),
				model,
				BoundedVec::try_from(vec![101, 7592, 102]).unwrap(),
				10 * UNIT,
			));
			assert_ok!(RegistryTasks::commit_call(0, vec![1u8; 1536], None)
				.unwrap()
				.dispatch(RuntimeOrigin::signed(ferdie.clone())));
			assert!(DrawnAudits::audits_of(&alice).is_empty(), "not drawn");
			// Alice's provider (operator Alice, the dev genesis) drawn to audit Bob's result.
			pallet_audits::OpenAudits::<Runtime>::insert(
				0,
				pallet_audits::Audit {
					provider: bob,
					auditors: BoundedVec::truncate_from(vec![(
						alice.clone(),
						pallet_audits::AuditorStatus::Drawn,
					)]),
				},
			);
			let audits = DrawnAudits::audits_of(&alice);
			assert_eq!(audits.len(), 1);
			assert_eq!((audits[0].task, audits[0].audit, audits[0].output.len()), (0, true, 1536));
			assert!(DrawnAudits::audits_of(&ferdie).is_empty(), "only the drawn operator's");
			assert_ok!(DrawnAudits::attest_call(0).dispatch(RuntimeOrigin::signed(alice.clone())));
			assert!(DrawnAudits::audits_of(&alice).is_empty(), "attested: no longer a duty");
		});
	}

	#[test]
	fn watchers_see_committed_results_and_providers_see_disputes_against_them() {
		use pallet_provider_worker::{ProviderDisputes, WatchedTasks};
		crate::tests::ext_from_preset("development").execute_with(|| {
			System::set_block_number(1);
			let (alice, ferdie, dave) = (
				Sr25519Keyring::Alice.to_account_id(),
				Sr25519Keyring::Ferdie.to_account_id(),
				Sr25519Keyring::Dave.to_account_id(),
			);
			let model = crate::tests::approved_model_with_provider([4; 32], RuntimeOrigin::root());
			assert_ok!(TaskRegistry::submit_task(
				RuntimeOrigin::signed(alice.clone()),
				model,
				BoundedVec::try_from(vec![101, 7592, 102]).unwrap(),
				10 * UNIT,
			));
			assert!(WatchableResults::challengeable().is_empty(), "assigned, not committed");
			// The output alone: the provider's first answer fixes its trace root.
			assert_ok!(RegistryTasks::commit_call(0, vec![1u8; 1536], None)
				.unwrap()
				.dispatch(RuntimeOrigin::signed(ferdie.clone())));
			let watched = WatchableResults::challengeable();
			assert_eq!(watched.len(), 1);
			assert_eq!(watched[0].operator, ferdie);
			let r = &watched[0].request;
			assert_eq!(
				(r.task, r.model_root, r.input.as_slice(), r.trace_root),
				(0, [4; 32], &[101, 7592, 102][..], None)
			);
			assert_eq!((r.output.len(), r.max_row_width, r.slack_bits), (1536, 1536, 0));
			assert!(ChallengeDisputes::disputes_against(&ferdie).is_empty());

			// Dave challenges: the result stays on the watch list (other watchers may still
			// challenge it while the window runs, docs/protocol.md "Concurrent disputes") with
			// Dave among its challengers, and the dispute reaches the operator.
			assert_ok!(WatchableResults::challenge_call(0, ElementRef::new(12, 0, 3))
				.dispatch(RuntimeOrigin::signed(dave.clone())));
			let watched = WatchableResults::challengeable();
			assert_eq!(watched.len(), 1);
			assert_eq!(watched[0].disputes, vec![(dave.clone(), ElementRef::new(12, 0, 3))]);
			let disputes = ChallengeDisputes::disputes_against(&ferdie);
			assert_eq!(
				disputes,
				vec![pallet_provider_worker::OpenDispute {
					dispute: 0,
					task: 0,
					model_root: [4; 32],
					element: ElementRef::new(12, 0, 3),
					token_choice: None,
					round: 0,
				}]
			);
			assert!(ChallengeDisputes::disputes_against(&alice).is_empty());
			// Answers are built only from bytes that decode.
			assert!(ChallengeDisputes::respond_call(0, b"junk", b"junk").is_none());
			assert!(WatchableResults::descents(&dave).is_empty(), "the provider's turn");

			// The provider answered within the bound (its opened operand row kept as the
			// challenges pallet keeps it): Dave's turn to name the next element.
			pallet_challenges::Disputes::<Runtime>::mutate(0, |d| {
				d.as_mut().unwrap().turn = pallet_challenges::Turn::Challenger
			});
			let values = vec![1.0f32.to_bits(); 4];
			pallet_challenges::OpenedOperands::<Runtime>::insert(
				0,
				BoundedVec::try_from(vec![pallet_challenges::OperandRow {
					node: 11,
					row: 0,
					values: BoundedVec::try_from(values.clone()).unwrap(),
				}])
				.unwrap(),
			);
			assert!(ChallengeDisputes::disputes_against(&ferdie).is_empty());
			assert!(WatchableResults::descents(&ferdie).is_empty(), "not Ferdie's dispute");
			let turns = WatchableResults::descents(&dave);
			assert_eq!(
				turns,
				vec![pallet_provider_worker::DescentTurn {
					dispute: 0,
					round: 0,
					request: arbiter_inference_interface::DescentRequest {
						task: 0,
						model_root: [4; 32],
						input: vec![101, 7592, 102],
						tokens: None,
						slack_bits: 0,
						opened: vec![(11, 0, values)],
					},
				}]
			);
			// The step Dave's watcher sends is the pallet's descend; then the provider answers.
			assert_ok!(WatchableResults::descend_call(0, ElementRef::new(11, 0, 2))
				.dispatch(RuntimeOrigin::signed(dave.clone())));
			assert!(WatchableResults::descents(&dave).is_empty());
			let disputes = ChallengeDisputes::disputes_against(&ferdie);
			assert_eq!((disputes[0].element, disputes[0].round), (ElementRef::new(11, 0, 2), 1));
		});
	}
}
