//! Arbiter's inference engine (native side of the off-chain workers).
//!
//! - [`model`]: a model folder (safetensors weights, memory-mapped; `config.json`;
//!   `tokenizer.json`) becomes an IR graph template ([`bert`]) with its commitments; a LLaMA GGUF
//!   file becomes a decoder template ([`llama`], reading the file with [`gguf`]).
//! - [`engine`]: runs the graph with candle, batched, in plain or traced mode; [`cpu`]: the CPU
//!   kernels it plugs into candle for linear layers and GELU.
//! - [`decode`]: generation with a decoder graph, one position at a time (KV cache), its trace the
//!   rows decoding computed; greedy or seeded Gumbel-max token choice.
//! - [`trace`] / [`trace_store`]: a trace, its root, rows with proofs and openings; traces of
//!   recent tasks on disk.
//! - [`jobs`] / [`host`]: the provider's job service behind the inference host functions.
//! - [`watch`]: the watcher: re-execute committed results, find a provable wrong element.
//! - [`generated`]: small random models for tests.
//!
//! - [`allocator`] / [`process`]: the binaries' allocator and process-wide settings.
//!
//! Inference never runs inside block execution: the node calls this from its off-chain worker
//! threads only.

pub mod allocator;
pub mod bert;
pub mod blake2b_x8;
pub mod commit;
pub mod cpu;
pub mod decode;
pub mod engine;
pub mod error;
pub mod generated;
pub mod gguf;
pub mod host;
pub mod jobs;
pub mod llama;
pub mod model;
pub mod process;
mod record_log;
mod service_thread;
pub mod tokenize;
pub mod trace;
pub mod trace_store;
pub mod watch;

pub use engine::{open_device, run, DeviceKind, Execution, Mode};
pub use error::{EngineError, Result};
pub use model::{Model, ModelInput};
pub use trace::{Trace, TraceRow};
pub use trace_store::{StoreLimits, TraceStore};
