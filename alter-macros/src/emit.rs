//! Helpers shared by the macros for emitting code and errors.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Gives every token of `tokens` the span `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// Emits `item` unchanged, followed by every error as a `compile_error!`.
pub(crate) fn with_errors(item: TokenStream, errors: Vec<syn::Error>) -> TokenStream {
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote!(#item #(#errors)*)
}

/// Returns the span of the first token of `item`, or the call site when `item` is empty.
pub(crate) fn first_token_span(item: &TokenStream) -> Span {
    item.clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}
