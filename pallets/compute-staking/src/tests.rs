//! Unit tests: every call's success and refusals, the unbonding timeline, slashing with
//! rounding, jail and resume, selection, and the accounting after each scenario.

use crate::{mock::*, pallet::*, traits::*, types::*, Error, Event};
use frame_support::{
	assert_noop, assert_ok,
	traits::{
		fungible::{Inspect, InspectHold},
		Get,
	},
	BoundedVec,
};
use sp_runtime::{DispatchError, Perbill, TokenError};

fn offer(models: &[u32], price: u64, capacity: u32) -> OfferOf<Test> {
	Offer {
		models: BoundedVec::try_from(models.to_vec()).unwrap(),
		price,
		price_per_token: 0,
		capacity,
		endpoint: BoundedVec::try_from(b"http://127.0.0.1:9944".to_vec()).unwrap(),
		hardware: Hardware::Cpu,
	}
}

fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&HoldReason::ProviderStake.into(), &who)
}

fn free(who: u64) -> u64 {
	Balances::balance(&who)
}

/// Funds are neither created nor destroyed, and held stake equals the ledger.
fn assert_accounting() {
	let sum: u64 = (1..=20u64)
		.chain(100..=120)
		.map(|a| free(a) + Balances::total_balance_on_hold(&a))
		.sum();
	assert_eq!(sum, Balances::total_issuance(), "every unit is someone's free or held balance");
	assert_eq!(Balances::total_issuance(), 20 * ENDOWMENT + 21 * 10, "issuance unchanged");
	Staking::do_try_state().unwrap();
}

fn register(who: u64, stake: u64, operator: u64, models: &[u32]) {
	assert_ok!(Staking::register(
		RuntimeOrigin::signed(who),
		stake,
		operator,
		offer(models, 10, 2)
	));
}

#[test]
fn register_holds_stake_and_indexes() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 5_000, 101, &[1, 2]);
		assert_eq!(held(1), 5_000);
		assert_eq!(free(1), ENDOWMENT - 5_000);
		let info = Providers::<Test>::get(1).unwrap();
		assert_eq!(info.operator, 101);
		assert_eq!(info.status, ProviderStatus::Active);
		assert_eq!(Operators::<Test>::get(101), Some(1));
		assert_eq!(ModelProviders::<Test>::get(1).into_inner(), vec![1]);
		assert_eq!(ProviderCount::<Test>::get(), 1);
		System::assert_last_event(
			Event::Registered { provider: 1, operator: 101, stake: 5_000 }.into(),
		);
		assert!(<Staking as ProviderRegistry<u64>>::is_active(&1));
		assert_eq!(<Staking as ProviderRegistry<u64>>::provider_of_operator(&101), Some(1));
		assert_accounting();
	});
}

#[test]
fn register_refusals_change_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 5_000, 101, &[1]);
		let o = |m: &[u32]| offer(m, 10, 2);
		let r = |who, stake, op, off| Staking::register(RuntimeOrigin::signed(who), stake, op, off);
		assert_noop!(r(1, 5_000, 102, o(&[1])), Error::<Test>::AlreadyRegistered);
		assert_noop!(r(2, 5_000, 101, o(&[1])), Error::<Test>::OperatorInUse);
		assert_noop!(r(2, 999, 102, o(&[1])), Error::<Test>::StakeBelowMinimum);
		assert_noop!(r(2, 5_000, 102, o(&[99])), Error::<Test>::UnknownModel);
		assert_noop!(r(2, 5_000, 102, o(&[1, 1])), Error::<Test>::DuplicateModel);
		assert_noop!(r(2, 5_000, 102, o(&[])), Error::<Test>::NoModels);
		assert_noop!(r(2, 5_000, 102, offer(&[1], 10, 0)), Error::<Test>::ZeroCapacity);
		// Free tasks would let a provider feed itself reputation at no cost.
		assert_noop!(r(2, 5_000, 102, offer(&[1], 0, 1)), Error::<Test>::PriceBelowMinimum);
		assert_noop!(r(2, ENDOWMENT, 102, o(&[1])), Error::<Test>::InsufficientBalance);
		MaxProviders::set(1);
		assert_noop!(r(2, 5_000, 102, o(&[1])), Error::<Test>::TooManyProviders);
		assert_accounting();
	});
}

#[test]
fn model_provider_lists_are_bounded() {
	ExtBuilder::default().build().execute_with(|| {
		for who in 1..=6u64 {
			register(who, 2_000, 100 + who, &[3]);
		}
		assert_noop!(
			Staking::register(RuntimeOrigin::signed(7), 2_000, 107, offer(&[3], 1, 1)),
			Error::<Test>::ModelProvidersFull
		);
		assert_accounting();
	});
}

#[test]
fn bond_extra_update_offer_and_operator() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 2_000, 101, &[1, 2]);
		assert_ok!(Staking::bond_extra(RuntimeOrigin::signed(1), 500));
		assert_eq!(held(1), 2_500);
		assert_noop!(Staking::bond_extra(RuntimeOrigin::signed(1), 0), Error::<Test>::ZeroAmount);
		assert_noop!(Staking::bond_extra(RuntimeOrigin::signed(2), 5), Error::<Test>::NotProvider);

		assert_ok!(Staking::update_offer(RuntimeOrigin::signed(1), offer(&[2, 4], 33, 5)));
		assert!(ModelProviders::<Test>::get(1).is_empty());
		assert_eq!(ModelProviders::<Test>::get(4).into_inner(), vec![1]);
		assert_eq!(Providers::<Test>::get(1).unwrap().offer.price, 33);
		assert_noop!(
			Staking::update_offer(RuntimeOrigin::signed(1), offer(&[9], 1, 1)),
			Error::<Test>::UnknownModel
		);

		register(2, 2_000, 102, &[1]);
		assert_noop!(
			Staking::set_operator(RuntimeOrigin::signed(1), 102),
			Error::<Test>::OperatorInUse
		);
		assert_ok!(Staking::set_operator(RuntimeOrigin::signed(1), 111));
		assert_eq!(Operators::<Test>::get(101), None);
		assert_eq!(Operators::<Test>::get(111), Some(1));
		System::assert_last_event(
			Event::OperatorChanged { provider: 1, old: 101, new: 111 }.into(),
		);
		assert_accounting();
	});
}

#[test]
fn pause_and_resume() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 2_000, 101, &[1]);
		assert_noop!(Staking::resume(RuntimeOrigin::signed(1)), Error::<Test>::NotPaused);
		assert_ok!(Staking::pause(RuntimeOrigin::signed(1)));
		assert!(!<Staking as ProviderRegistry<u64>>::is_active(&1));
		assert_noop!(Staking::pause(RuntimeOrigin::signed(1)), Error::<Test>::NotActive);
		assert_ok!(Staking::resume(RuntimeOrigin::signed(1)));
		assert!(<Staking as ProviderRegistry<u64>>::is_active(&1));
	});
}

#[test]
fn unbond_withdraw_timeline() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 3_000, 101, &[1]);
		assert_noop!(
			Staking::unbond(RuntimeOrigin::signed(1), 3_001),
			Error::<Test>::UnbondTooMuch
		);
		assert_noop!(Staking::unbond(RuntimeOrigin::signed(1), 0), Error::<Test>::ZeroAmount);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 1_000)); // block 1 -> unlock at 11
		run_to_block(5);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 1_500)); // unlock at 15; active 500 < min
		System::assert_last_event(Event::BelowMinimum { provider: 1, active: 500 }.into());
		assert!(!<Staking as ProviderRegistry<u64>>::is_active(&1));
		assert_eq!(held(1), 3_000, "unlocking stake stays held");
		assert_noop!(
			Staking::withdraw_unbonded(RuntimeOrigin::signed(1)),
			Error::<Test>::NothingToWithdraw
		);
		run_to_block(11);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_eq!(held(1), 2_000);
		assert_eq!(free(1), ENDOWMENT - 2_000);
		run_to_block(15);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_eq!(held(1), 500);
		assert_accounting();
		// Chunks are bounded.
		for _ in 0..3 {
			assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 100));
		}
		assert_noop!(
			Staking::unbond(RuntimeOrigin::signed(1), 100),
			Error::<Test>::TooManyUnlockingChunks
		);
		// Resume needs the minimum again.
		assert_ok!(Staking::pause(RuntimeOrigin::signed(1)));
		assert_noop!(Staking::resume(RuntimeOrigin::signed(1)), Error::<Test>::StakeBelowMinimum);
		assert_accounting();
	});
}

#[test]
fn open_dispute_blocks_withdrawal_and_deregistration() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 3_000, 101, &[1]);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 3_000));
		assert_ok!(<Staking as DisputeTracking<u64>>::dispute_opened(&1));
		run_to_block(20);
		assert_noop!(
			Staking::withdraw_unbonded(RuntimeOrigin::signed(1)),
			Error::<Test>::DisputeOpen
		);
		assert_noop!(Staking::deregister(RuntimeOrigin::signed(1)), Error::<Test>::DisputeOpen);
		<Staking as DisputeTracking<u64>>::dispute_closed(&1);
		assert_noop!(Staking::deregister(RuntimeOrigin::signed(1)), Error::<Test>::StakeRemaining);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_ok!(<Staking as CapacityAccounting<u64>>::reserve(&1));
		assert_noop!(Staking::deregister(RuntimeOrigin::signed(1)), Error::<Test>::TasksInFlight);
		<Staking as CapacityAccounting<u64>>::release(&1);
		assert_ok!(Staking::deregister(RuntimeOrigin::signed(1)));
		assert!(Providers::<Test>::get(1).is_none());
		assert!(Operators::<Test>::get(101).is_none());
		assert!(ModelProviders::<Test>::get(1).is_empty());
		assert_eq!(free(1), ENDOWMENT);
		assert_accounting();
	});
}

/// Stake that backs a task still assigned, committed or disputed cannot leave: unbonding then
/// withdrawing before the task's window closes would leave nothing to slash.
#[test]
fn stake_behind_a_task_in_flight_cannot_be_withdrawn() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 3_000, 101, &[1]);
		assert_ok!(<Staking as CapacityAccounting<u64>>::reserve(&1));
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 3_000));
		run_to_block(20);
		assert_noop!(
			Staking::withdraw_unbonded(RuntimeOrigin::signed(1)),
			Error::<Test>::TasksInFlight
		);
		assert_eq!(held(1), 3_000);
		<Staking as CapacityAccounting<u64>>::release(&1);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_eq!(held(1), 0);
		assert_accounting();
	});
}

#[test]
fn capacity_is_reserved_and_released() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 3_000, 101, &[1]); // capacity 2
		let reserve = <Staking as CapacityAccounting<u64>>::reserve;
		assert_ok!(reserve(&1));
		assert_ok!(reserve(&1));
		assert_noop!(reserve(&1), Error::<Test>::NoCapacity);
		assert!(
			<Staking as ProviderSelection<u64, u64>>::select(1, [0; 32], &[], u64::MAX, 0)
				.is_none(),
			"full providers are not selected"
		);
		<Staking as CapacityAccounting<u64>>::release(&1);
		assert!(<Staking as ProviderSelection<u64, u64>>::select(1, [0; 32], &[], u64::MAX, 0)
			.is_some());
		assert_noop!(reserve(&9), Error::<Test>::NotProvider);
	});
}

#[test]
fn slash_splits_exactly_and_jails() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 10_001, 101, &[1]);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 2_000));
		let before = (free(2), free(3));
		// 10 % of 10_001 held = 1_000 (floor); thirds: 333 + 333 + dust to the last.
		let slashed = <Staking as ProviderSlashing<u64, u64>>::slash(
			&1,
			Perbill::from_percent(10),
			&[(2, Perbill::from_parts(333_333_333)), (3, Perbill::from_parts(666_666_667))],
		)
		.unwrap();
		assert_eq!(slashed, 1_000);
		assert_eq!(free(2) - before.0, 333);
		assert_eq!(free(3) - before.1, 667);
		assert_eq!(held(1), 9_001);
		let info = Providers::<Test>::get(1).unwrap();
		assert_eq!(info.status, ProviderStatus::Jailed);
		assert_eq!(info.active, 7_001, "taken from active stake first");
		assert_eq!(info.unlocking[0].amount, 2_000);
		assert!(!<Staking as ProviderRegistry<u64>>::is_active(&1));
		assert_accounting();

		// Jail lasts at least `MinJailPeriod` (5 blocks in the mock), then ends with resume once
		// above the minimum.
		assert_eq!(info.jailed_until, System::block_number() + 5);
		run_to_block(System::block_number() + 4);
		assert_noop!(Staking::resume(RuntimeOrigin::signed(1)), Error::<Test>::StillJailed);
		run_to_block(System::block_number() + 1);
		assert_ok!(Staking::resume(RuntimeOrigin::signed(1)));
		assert!(<Staking as ProviderRegistry<u64>>::is_active(&1));
	});
}

#[test]
fn slash_reaches_unlocking_stake_and_never_exceeds_holdings() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 4_000, 101, &[1]);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 3_500));
		let slashed = <Staking as ProviderSlashing<u64, u64>>::slash(
			&1,
			Perbill::from_percent(100),
			&[(2, Perbill::one())],
		)
		.unwrap();
		assert_eq!(slashed, 4_000);
		assert_eq!(held(1), 0);
		let info = Providers::<Test>::get(1).unwrap();
		assert_eq!(info.active, 0);
		assert!(info.unlocking.is_empty(), "the slashed provider cannot unbond its way out");
		assert_eq!(free(2), ENDOWMENT + 4_000);
		assert_accounting();
		// Nothing left to slash: a second slash moves nothing.
		assert_eq!(
			<Staking as ProviderSlashing<u64, u64>>::slash(
				&1,
				Perbill::from_percent(50),
				&[(2, Perbill::one())]
			),
			Ok(0)
		);
		assert_accounting();
	});
}

#[test]
fn slash_refusals_change_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 4_000, 101, &[1]);
		let slash = <Staking as ProviderSlashing<u64, u64>>::slash;
		assert_eq!(
			slash(&1, Perbill::from_percent(10), &[(2, Perbill::from_percent(60))]),
			Err(Error::<Test>::BadShares.into())
		);
		assert_eq!(slash(&1, Perbill::from_percent(10), &[]), Err(Error::<Test>::BadShares.into()));
		assert_eq!(
			slash(&9, Perbill::from_percent(10), &[(2, Perbill::one())]),
			Err(Error::<Test>::NotProvider.into())
		);
		// A payout that would leave a new account below the existential deposit fails as a whole.
		let r = slash(
			&1,
			Perbill::from_parts(500_000),
			&[(2, Perbill::from_percent(50)), (999, Perbill::from_percent(50))],
		);
		assert!(
			matches!(
				r,
				Err(DispatchError::Token(TokenError::BelowMinimum | TokenError::CannotCreate))
			),
			"{r:?}"
		);
		assert_eq!(held(1), 4_000);
		assert_eq!(free(2), ENDOWMENT);
		assert_eq!(Providers::<Test>::get(1).unwrap().status, ProviderStatus::Active);
		assert_accounting();
	});
}

#[test]
fn selection_is_stake_weighted_and_deterministic() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 1_000, 101, &[1]);
		register(2, 3_000, 102, &[1]);
		register(3, 6_000, 103, &[1, 2]);
		let pick = |seed: u32| {
			let mut s = [0u8; 32];
			s[..4].copy_from_slice(&seed.to_le_bytes());
			<Staking as ProviderSelection<u64, u64>>::select(1, s, &[], u64::MAX, 0).unwrap()
		};
		assert_eq!(pick(7), pick(7), "same seed, same provider");
		let mut counts = [0u32; 4];
		let n = 20_000;
		for seed in 0..n {
			counts[pick(seed).provider as usize] += 1;
		}
		for (who, share) in [(1usize, 0.1f64), (2, 0.3), (3, 0.6)] {
			let got = counts[who] as f64 / n as f64;
			assert!((got - share).abs() < 0.015, "provider {who}: {got} vs {share}");
		}
		// Too expensive for the task's max fee (all three ask 10).
		assert!(<Staking as ProviderSelection<u64, u64>>::select(1, [1u8; 32], &[], 9, 0).is_none());
		assert!(
			<Staking as ProviderSelection<u64, u64>>::select(1, [1u8; 32], &[], 10, 0).is_some()
		);
		// Governance raises the minimum price: offers below it take nothing until updated.
		MinPrice::set(11);
		assert!(<Staking as ProviderSelection<u64, u64>>::select(1, [1u8; 32], &[], u64::MAX, 0)
			.is_none());
		MinPrice::set(1);
		// Excluded, paused and unknown-model cases.
		let s = [1u8; 32];
		let only =
			<Staking as ProviderSelection<u64, u64>>::select(1, s, &[1, 2], u64::MAX, 0).unwrap();
		assert_eq!(only.provider, 3);
		assert_eq!(only.operator, 103);
		assert_ok!(Staking::pause(RuntimeOrigin::signed(3)));
		assert!(
			<Staking as ProviderSelection<u64, u64>>::select(1, s, &[1, 2], u64::MAX, 0).is_none()
		);
		assert!(<Staking as ProviderSelection<u64, u64>>::select(5, s, &[], u64::MAX, 0).is_none());
	});
}

#[test]
fn a_generation_asks_its_price_plus_its_new_tokens_at_the_price_per_token() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 1_000, 101, &[1]);
		let per_token = OfferOf::<Test> { price_per_token: 2, ..offer(&[1], 10, 4) };
		assert_ok!(Staking::update_offer(RuntimeOrigin::signed(1), per_token));
		let select = |max_price: u64, tokens: u32| {
			<Staking as ProviderSelection<u64, u64>>::select(1, [3u8; 32], &[], max_price, tokens)
		};
		// 10 + 2 × 5 = 20: a max fee of 19 is too little for 5 new tokens, 20 is enough.
		assert!(select(19, 5).is_none());
		let picked = select(20, 5).unwrap();
		assert_eq!((picked.price, picked.price_per_token), (10, 2));
		// A task that generates nothing asks the price alone.
		assert!(select(10, 0).is_some());
		// A price per token that would overflow saturates and is never selected.
		let huge = OfferOf::<Test> { price_per_token: u64::MAX / 2, ..offer(&[1], 10, 4) };
		assert_ok!(Staking::update_offer(RuntimeOrigin::signed(1), huge));
		assert!(select(u64::MAX - 1, 3).is_none());
		assert_accounting();
	});
}

#[test]
fn reputation_score_moves_selection() {
	ExtBuilder::default().build().execute_with(|| {
		register(1, 5_000, 101, &[1]);
		register(2, 5_000, 102, &[1]);
		for _ in 0..8 {
			<Staking as ReputationRecorder<u64>>::record(&1, Outcome::Completed);
		}
		<Staking as ReputationRecorder<u64>>::record(&2, Outcome::DisputeLost);
		let r1 = Providers::<Test>::get(1).unwrap().reputation;
		let r2 = Providers::<Test>::get(2).unwrap().reputation;
		assert_eq!(r1.score(), Perbill::from_rational(9u32, 10u32));
		assert_eq!(r2.score(), Perbill::from_rational(1u32, 7u32));
		assert_eq!(Reputation::default().score(), Perbill::from_percent(50));
		let mut ones = 0;
		for seed in 0..5_000u32 {
			let mut s = [0u8; 32];
			s[..4].copy_from_slice(&seed.to_le_bytes());
			if <Staking as ProviderSelection<u64, u64>>::select(1, s, &[], u64::MAX, 0)
				.unwrap()
				.provider == 1
			{
				ones += 1;
			}
		}
		// Weights 0.9 : 0.142857 of equal stake -> provider 1 about 86 %.
		let share = ones as f64 / 5_000.0;
		assert!((share - 0.863).abs() < 0.02, "{share}");
	});
}

#[test]
fn bounds_are_as_configured() {
	assert_eq!(<<Test as Config>::MaxModelsPerProvider as Get<u32>>::get(), 4u32);
	ExtBuilder::default().build().execute_with(|| {
		assert_noop!(Staking::unbond(RuntimeOrigin::signed(1), 1), Error::<Test>::NotProvider);
		assert_noop!(
			Staking::withdraw_unbonded(RuntimeOrigin::signed(1)),
			Error::<Test>::NotProvider
		);
		assert_noop!(Staking::deregister(RuntimeOrigin::signed(1)), Error::<Test>::NotProvider);
		assert_noop!(Staking::pause(RuntimeOrigin::signed(1)), Error::<Test>::NotProvider);
		assert_noop!(
			Staking::set_operator(RuntimeOrigin::signed(1), 5),
			Error::<Test>::NotProvider
		);
	});
}
