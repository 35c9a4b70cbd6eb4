#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rhp_fuzz::harness::parse_reply(data));
