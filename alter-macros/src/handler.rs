//! `#[alter::handler]`: binds an axum handler's `Vault` parameter to the request's user and
//! runs the body in that user's identity scope.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, PatType, Type};

use crate::args::HandlerArgs;
use crate::emit::{first_token_span, respan, with_errors};

/// Expands `#[alter::handler(args)]` on `item`.
///
/// ```text
/// #[alter::handler]
/// async fn chat(State(s): State<App>, vault: Vault, Json(b): Json<Body>) -> R { BODY }
///
/// async fn chat(State(s): State<App>, __alter_user: ::alter::__private::RequiredUser,
///               Json(b): Json<Body>) -> R {
///     let (__alter_vault, __alter_token) = ::alter::__private::RequiredUser::into_parts(__alter_user);
///     let vault: Vault = __alter_vault;
///     ::alter::__private::run_in_scope(__alter_token, async move { BODY }).await
/// }
/// ```
///
/// `optional` uses `OptionalUser` in place of `RequiredUser`. On any error the function is
/// emitted unchanged beside the errors, so that code completion keeps working.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let args = HandlerArgs::parse(args, &mut errors);

    let Ok(function) = syn::parse2::<ItemFn>(item.clone()) else {
        errors.push(syn::Error::new(
            first_token_span(&item),
            "`#[alter::handler]` applies only to an `async fn` handler",
        ));
        return with_errors(item, errors);
    };
    if function.sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            function.sig.fn_token.span,
            "`#[alter::handler]` needs an `async fn`; add `async`",
        ));
    }
    let vault_index = find_vault_parameter(&function, &mut errors);

    match vault_index {
        Some(index) if errors.is_empty() => rewrite(function, index, &args),
        _ => with_errors(item, errors),
    }
}

/// Returns the position of the one `Vault` parameter, or reports that there is none or more
/// than one.
fn find_vault_parameter(function: &ItemFn, errors: &mut Vec<syn::Error>) -> Option<usize> {
    let mut found = function
        .sig
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, input)| matches!(input, FnArg::Typed(typed) if is_vault_type(&typed.ty)));

    let Some((first, _)) = found.next() else {
        errors.push(syn::Error::new(
            function.sig.ident.span(),
            "`#[alter::handler]` needs a `Vault` parameter, e.g. `vault: alter::Vault`",
        ));
        return None;
    };
    let mut unique = true;
    for (_, extra) in found {
        unique = false;
        errors.push(syn::Error::new_spanned(
            extra,
            "`#[alter::handler]` takes one `Vault` parameter; remove this one",
        ));
    }
    unique.then_some(first)
}

/// Recognises `Vault`, `alter::Vault` and any other path that ends in `Vault`.
fn is_vault_type(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_vault_type(&group.elem),
        Type::Paren(paren) => is_vault_type(&paren.elem),
        Type::Path(path) => {
            path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "Vault" && last.arguments.is_none())
        }
        _ => false,
    }
}

fn rewrite(mut function: ItemFn, vault_index: usize, args: &HandlerArgs) -> TokenStream {
    let krate = &args.krate;
    let extractor = if args.optional {
        quote!(OptionalUser)
    } else {
        quote!(RequiredUser)
    };
    // Mixed-site hygiene keeps these names out of the user's body.
    let user = Ident::new("__alter_user", Span::mixed_site());
    let vault = Ident::new("__alter_vault", Span::mixed_site());
    let token = Ident::new("__alter_token", Span::mixed_site());

    let Some(FnArg::Typed(parameter)) = function.sig.inputs.iter_mut().nth(vault_index) else {
        unreachable!("find_vault_parameter returned a typed parameter");
    };
    let PatType { attrs, pat, ty, .. } = parameter.clone();
    // Every token carries the span of the user's type, so that an error about the extractor (a
    // router state without `AlterAxum`) points at the parameter, not at the attribute.
    let krate_at_type = respan(quote!(#krate), ty.span());
    let extractor_type = quote_spanned!(ty.span()=> #krate_at_type::__private::#extractor);
    *parameter = syn::parse_quote!(#(#attrs)* #user: #extractor_type);

    let body = &function.block;
    let binding = quote_spanned!(ty.span()=> let #pat: #ty = #vault;);
    function.block = syn::parse_quote!({
        let (#vault, #token) = #extractor_type::into_parts(#user);
        #binding
        #krate::__private::run_in_scope(#token, async move #body).await
    });
    quote!(#function)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn expand_to_string(args: TokenStream, item: TokenStream) -> String {
        expand(args, item).to_string()
    }

    fn compile_errors(output: &str) -> usize {
        output.matches("compile_error").count()
    }

    #[test]
    fn required_uses_absolute_private_paths() {
        let output = expand_to_string(
            quote!(),
            quote!(
                async fn h(vault: Vault) {}
            ),
        );
        assert!(
            output.contains(":: alter :: __private :: RequiredUser"),
            "{output}"
        );
        assert!(
            output.contains(":: alter :: __private :: run_in_scope"),
            "{output}"
        );
        assert!(
            output.contains("let vault : Vault = __alter_vault"),
            "{output}"
        );
        assert_eq!(compile_errors(&output), 0, "{output}");
    }

    #[test]
    fn optional_uses_optional_extractor() {
        let output = expand_to_string(
            quote!(optional),
            quote!(
                async fn h(vault: Vault) {}
            ),
        );
        assert!(
            output.contains(":: alter :: __private :: OptionalUser"),
            "{output}"
        );
        assert!(!output.contains("RequiredUser"), "{output}");
    }

    #[test]
    fn crate_argument_replaces_the_path() {
        let output = expand_to_string(
            quote!(crate = "my_alter"),
            quote!(
                async fn h(vault: Vault) {}
            ),
        );
        assert!(
            output.contains("my_alter :: __private :: RequiredUser"),
            "{output}"
        );
        assert!(!output.contains(":: alter ::"), "{output}");
    }

    #[test]
    fn vault_keeps_its_position() {
        let output = expand_to_string(
            quote!(),
            quote!(
                async fn h(a: A, v: alter::Vault, b: B) {}
            ),
        );
        let a = output.find("a : A").unwrap();
        let user = output.find("__alter_user :").unwrap();
        let b = output.find("b : B").unwrap();
        assert!(a < user, "{output}");
        assert!(user < b, "{output}");
    }

    #[test]
    fn vault_type_spellings() {
        assert!(is_vault_type(&syn::parse_quote!(Vault)));
        assert!(is_vault_type(&syn::parse_quote!(alter::Vault)));
        assert!(is_vault_type(&syn::parse_quote!(::alter::Vault)));
        assert!(is_vault_type(&syn::parse_quote!((my::Vault))));
        assert!(!is_vault_type(&syn::parse_quote!(Vault<T>)));
        assert!(!is_vault_type(&syn::parse_quote!(&Vault)));
        assert!(!is_vault_type(&syn::parse_quote!(VaultClient)));
        assert!(!is_vault_type(&syn::parse_quote!(<T as X>::Vault)));
    }

    #[test]
    fn every_error_is_reported_and_the_function_kept() {
        let output = expand_to_string(
            quote!(unknown),
            quote!(
                fn h(a: Vault, b: Vault) {}
            ),
        );
        assert_eq!(compile_errors(&output), 3, "{output}");
        assert!(output.contains("unknown argument `unknown`"), "{output}");
        assert!(output.contains("needs an `async fn`"), "{output}");
        assert!(output.contains("takes one `Vault` parameter"), "{output}");
        assert!(
            output.starts_with("fn h (a : Vault , b : Vault) { }"),
            "{output}"
        );
    }

    #[test]
    fn missing_vault_is_reported() {
        let output = expand_to_string(
            quote!(),
            quote!(
                async fn h(a: A) {}
            ),
        );
        assert_eq!(compile_errors(&output), 1, "{output}");
        assert!(output.contains("needs a `Vault` parameter"), "{output}");
    }

    #[test]
    fn non_function_is_reported_and_kept() {
        let output = expand_to_string(
            quote!(),
            quote!(
                struct NotAHandler;
            ),
        );
        assert_eq!(compile_errors(&output), 1, "{output}");
        assert!(output.starts_with("struct NotAHandler ;"), "{output}");
    }
}
