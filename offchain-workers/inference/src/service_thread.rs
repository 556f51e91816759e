//! The background thread of a service (job runner, watcher): stopped and joined when the last
//! handle of the service is dropped.

use std::sync::{Arc, Condvar, Mutex};

/// Shared state a service thread watches for a stop request.
pub(crate) trait Stop: Send + Sync {
	/// Asks the thread to finish (sets its flag and wakes it).
	fn request_stop(&self);
}

/// What a [`Stop`] implementation does: `set_flag` under the state's lock, then wake the thread.
pub(crate) fn stop_and_wake<S>(state: &Mutex<S>, wake: &Condvar, set_flag: impl FnOnce(&mut S)) {
	if let Ok(mut s) = state.lock() {
		set_flag(&mut s);
	}
	wake.notify_all();
}

pub(crate) struct ServiceThread {
	shared: Arc<dyn Stop>,
	thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ServiceThread {
	/// Runs `body(shared)` on a thread named `name`.
	pub(crate) fn spawn<S: Stop + 'static>(
		name: &str,
		shared: Arc<S>,
		body: impl FnOnce(Arc<S>) + Send + 'static,
	) -> Self {
		let for_thread = shared.clone();
		let thread = std::thread::Builder::new()
			.name(name.into())
			.spawn(move || body(for_thread))
			.ok();
		Self { shared, thread: Mutex::new(thread) }
	}
}

impl Drop for ServiceThread {
	fn drop(&mut self) {
		self.shared.request_stop();
		if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
			let _ = t.join();
		}
	}
}
