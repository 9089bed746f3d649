//! Compile-time behaviour of `#[alter::handler]`: the shapes it accepts, under strict lints, and
//! the diagnostic for each misuse.

#[test]
fn handler_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/handler/pass/*.rs");
    cases.compile_fail("ui/handler/fail/*.rs");
}
