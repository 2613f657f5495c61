//! Shared pieces of the fuzz targets (`fuzz_targets/`): structured inputs that `arbitrary`
//! builds from the fuzzer's bytes.

pub mod rest_input;
