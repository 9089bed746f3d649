//! Compile-time behaviour of `#[alter::tool]`: the shapes it accepts, under strict lints, and
//! the diagnostic for each misuse.

#[test]
fn tool_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/tool/pass/*.rs");
    cases.compile_fail("ui/tool/fail/*.rs");
}
