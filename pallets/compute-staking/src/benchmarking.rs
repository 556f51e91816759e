//! Benchmarks for every call, at their worst cases (full model lists, full unlocking chunks).

use super::*;
use crate::traits::ModelCatalog;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{
		fungible::{Inspect, Mutate},
		Get,
	},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::{Bounded, Saturating};

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let amount = BalanceOf::<T>::max_value() / 4u32.into();
	let _ = T::Currency::set_balance(&who, amount);
	who
}

fn min_stake<T: Config>() -> BalanceOf<T> {
	T::MinProviderStake::get().saturating_add(T::Currency::minimum_balance())
}

/// An offer declaring `m` models (ids 0..m; the runtime's `ModelCatalog` must accept them in
/// benchmarks).
fn offer<T: Config>(m: u32) -> OfferOf<T> {
	let models: alloc::vec::Vec<ModelId> = (0..m).collect();
	models.iter().for_each(|id| T::Models::make_servable(*id));
	let endpoint = alloc::vec![b'x'; T::MaxEndpointLen::get() as usize];
	Offer {
		models: BoundedVec::truncate_from(models),
		price: T::MinPrice::get(),
		price_per_token: sp_runtime::traits::Zero::zero(),
		capacity: 4,
		endpoint: BoundedVec::truncate_from(endpoint),
		hardware: Hardware::Gpu,
	}
}

fn registered<T: Config>(m: u32) -> T::AccountId {
	let who = funded::<T>("provider", 0);
	let operator: T::AccountId = account("operator", 0, 0);
	let stake = min_stake::<T>().saturating_mul(4u32.into());
	Pallet::<T>::do_register(who.clone(), stake, operator, offer::<T>(m))
		.expect("benchmark setup registers");
	who
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register(m: Linear<1, { T::MaxModelsPerProvider::get() }>) {
		let who = funded::<T>("provider", 0);
		let operator: T::AccountId = account("operator", 0, 0);
		let stake = min_stake::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), stake, operator, offer::<T>(m));
		assert!(Providers::<T>::contains_key(&who));
	}

	#[benchmark]
	fn bond_extra() {
		let who = registered::<T>(1);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), min_stake::<T>());
	}

	#[benchmark]
	fn update_offer(m: Linear<1, { T::MaxModelsPerProvider::get() }>) {
		// Drop every old model and add as many new ones: the most index writes.
		let who = registered::<T>(T::MaxModelsPerProvider::get());
		let mut new = offer::<T>(m);
		let fresh: alloc::vec::Vec<ModelId> = (1000..1000 + m).collect();
		fresh.iter().for_each(|id| T::Models::make_servable(*id));
		new.models = BoundedVec::truncate_from(fresh);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), new);
	}

	#[benchmark]
	fn set_operator() {
		let who = registered::<T>(1);
		let new: T::AccountId = account("operator", 1, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), new);
	}

	#[benchmark]
	fn pause() {
		let who = registered::<T>(1);
		#[extrinsic_call]
		_(RawOrigin::Signed(who));
	}

	#[benchmark]
	fn resume() {
		let who = registered::<T>(1);
		Pallet::<T>::do_pause(who.clone()).expect("pauses");
		#[extrinsic_call]
		_(RawOrigin::Signed(who));
	}

	#[benchmark]
	fn unbond() {
		let who = registered::<T>(1);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), T::Currency::minimum_balance());
	}

	#[benchmark]
	fn withdraw_unbonded(c: Linear<1, { T::MaxUnlockingChunks::get() }>) {
		let who = registered::<T>(1);
		for _ in 0..c {
			Pallet::<T>::do_unbond(who.clone(), T::Currency::minimum_balance()).expect("unbonds");
		}
		let later =
			frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
		frame_system::Pallet::<T>::set_block_number(later);
		#[extrinsic_call]
		_(RawOrigin::Signed(who));
	}

	#[benchmark]
	fn deregister(m: Linear<1, { T::MaxModelsPerProvider::get() }>) {
		let who = registered::<T>(m);
		let info = Providers::<T>::get(&who).expect("registered");
		Pallet::<T>::do_unbond(who.clone(), info.active).expect("unbonds");
		let later =
			frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
		frame_system::Pallet::<T>::set_block_number(later);
		Pallet::<T>::do_withdraw_unbonded(who.clone()).expect("withdraws");
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(!Providers::<T>::contains_key(&who));
	}

	impl_benchmark_test_suite!(
		Pallet,
		crate::mock::ExtBuilder::default().build(),
		crate::mock::Test
	);
}
