//! The uniffi bindings generator, built from the same uniffi version as the library:
//! `cargo run -p hellocode-ffi --features cli --bin uniffi-bindgen -- generate --library
//! target/debug/libhellocode_ffi.so --language kotlin --out-dir <dir>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
