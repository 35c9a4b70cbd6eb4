//! A session password: compared exactly, never printed.

use rhp_server::secret::Password;

#[test]
fn matches_exactly_and_never_shows() {
    let p = Password::new("TopSecret9");
    assert!(p.matches("TopSecret9"));
    for wrong in ["", "T", "TopSecret", "TopSecret90", "topSecret9", "TopSecret9\0", "TopSecret9TopSecret9"] {
        assert!(!p.matches(wrong), "{wrong:?}");
    }
    assert!(Password::new("abcdefghijkl").matches("abcdefghijkl"));
    assert!(!Password::new("abcdefghijkl").matches("abcdefghijklm"));
    assert_eq!(format!("{p:?}"), "<redacted>");
}
