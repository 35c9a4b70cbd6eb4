#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = rhp_fuzz::harness::engine(data);
});
