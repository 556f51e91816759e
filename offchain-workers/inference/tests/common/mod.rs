//! Shared by the MiniLM tests.

use std::path::PathBuf;

/// The MiniLM folder (`scripts/fetch-model.sh` fills it; `scripts/test.sh` runs that first).
pub fn model_dir() -> PathBuf {
	let dir = arbiter_inference::model::default_minilm_dir();
	assert!(
		dir.join("model.safetensors").is_file(),
		"MiniLM is not at {} (run scripts/fetch-model.sh)",
		dir.display()
	);
	dir
}
