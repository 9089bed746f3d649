//! `#[alter::tool]`: registers an MCP tool with rmcp and runs its body for the user who made
//! the call, with the tool's provider and audit context, and a connect URL in the response
//! when the user has not connected the provider.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, ImplItemFn, PathArguments, ReturnType, Type};

use crate::emit::{first_token_span, respan, with_errors};
use crate::tool_args::ToolArgs;

/// Expands `#[alter::tool(args)]` on `item`.
///
/// ```text
/// #[alter::tool(provider = "github", label = "work", description = "…")]
/// async fn stars(&self, ctx: AlterContext, Parameters(q): Parameters<Q>) -> Result<Json<S>, E> {
///     BODY
/// }
///
/// #[::alter::__private::rmcp::tool(description = "…",
///     output_schema = ::alter::__private::rmcp::…::schema_for_output::<S>())]
/// async fn stars(&self, __alter_context: AlterContext, Parameters(q): Parameters<Q>)
///     -> Result<CallToolResponse, ErrorData> {
///     ::alter::__private::mcp::assert_has_vault::<Self>();
///     let (__alter_call, __alter_context) = ::alter::__private::mcp::ToolCall::start(
///         __alter_context, "github", Some("work"), "stars");
///     __alter_call.finish::<Result<Json<S>, E>, _>(async move {
///         let ctx: AlterContext = __alter_context;
///         BODY
///     }).await
/// }
/// ```
///
/// On any error the function is emitted as written beside the errors, still registered with
/// rmcp unless rmcp's own `#[tool]` already is, so that code completion keeps working and
/// `#[tool_router]` finds the tool it expects.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let args = ToolArgs::parse(args, &mut errors);

    let Ok(function) = syn::parse2::<ImplItemFn>(item.clone()) else {
        errors.push(syn::Error::new(
            first_token_span(&item),
            "`#[alter::tool]` applies only to an `async fn` in a `#[tool_router]` impl",
        ));
        return with_errors(item, errors);
    };
    let owned_by_rmcp = check_rmcp_tool(&function, &mut errors);
    if function.sig.asyncness.is_none() && !owned_by_rmcp {
        errors.push(syn::Error::new(
            function.sig.fn_token.span,
            "`#[alter::tool]` needs an `async fn`; add `async`",
        ));
    }
    let context_index = find_context_parameter(&function, &mut errors);

    match context_index {
        Some(index) if errors.is_empty() => rewrite(function, index, &args),
        _ if owned_by_rmcp => with_errors(item, errors),
        _ => {
            let register = rmcp_attribute(&args, &function.sig.output);
            with_errors(quote!(#register #function), errors)
        }
    }
}

/// Reports rmcp's own `#[tool]` on the function, below this attribute or already expanded
/// above it, and returns whether there is one.
fn check_rmcp_tool(function: &ImplItemFn, errors: &mut Vec<syn::Error>) -> bool {
    let mut found = false;
    for attribute in &function.attrs {
        if attribute
            .path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "tool")
        {
            found = true;
            errors.push(syn::Error::new_spanned(
                attribute,
                "`#[alter::tool]` registers the tool with rmcp itself; remove this attribute \
                 and move its arguments into `#[alter::tool(…)]`",
            ));
        }
    }
    if is_expanded_by_rmcp(function) {
        found = true;
        errors.push(syn::Error::new(
            function.sig.ident.span(),
            "rmcp's `#[tool]` above `#[alter::tool]` has already registered this function; \
             remove `#[tool]` and move its arguments into `#[alter::tool(…)]`",
        ));
    }
    found
}

/// Recognises the shape rmcp's `#[tool]` gives an `async fn`: a plain `fn` that returns
/// `Pin<Box<dyn Future<…>>>`.
fn is_expanded_by_rmcp(function: &ImplItemFn) -> bool {
    let ReturnType::Type(_, output) = &function.sig.output else {
        return false;
    };
    function.sig.asyncness.is_none()
        && matches!(
            output.as_ref(),
            Type::Path(path) if path.path.segments.last().is_some_and(|last| last.ident == "Pin")
        )
}

/// Returns the position of the one `AlterContext` parameter, or reports that there is none or
/// more than one.
fn find_context_parameter(function: &ImplItemFn, errors: &mut Vec<syn::Error>) -> Option<usize> {
    let mut found =
        function.sig.inputs.iter().enumerate().filter(
            |(_, input)| matches!(input, FnArg::Typed(typed) if is_context_type(&typed.ty)),
        );

    let Some((first, _)) = found.next() else {
        errors.push(syn::Error::new(
            function.sig.ident.span(),
            "`#[alter::tool]` needs an `AlterContext` parameter, \
             e.g. `ctx: alter::mcp::AlterContext`",
        ));
        return None;
    };
    let mut unique = true;
    for (_, extra) in found {
        unique = false;
        errors.push(syn::Error::new_spanned(
            extra,
            "`#[alter::tool]` takes one `AlterContext` parameter; remove this one",
        ));
    }
    unique.then_some(first)
}

/// Recognises `AlterContext`, `alter::mcp::AlterContext` and any other path that ends in
/// `AlterContext`.
fn is_context_type(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_context_type(&group.elem),
        Type::Paren(paren) => is_context_type(&paren.elem),
        Type::Path(path) => {
            path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "AlterContext" && last.arguments.is_none())
        }
        _ => false,
    }
}

fn rewrite(mut function: ImplItemFn, context_index: usize, args: &ToolArgs) -> TokenStream {
    let krate = &args.krate;
    // Mixed-site hygiene keeps these names out of the user's body.
    let context = Ident::new("__alter_context", Span::mixed_site());
    let call = Ident::new("__alter_call", Span::mixed_site());

    let register = rmcp_attribute(args, &function.sig.output);
    let output = match &function.sig.output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => ty.to_token_stream(),
        ReturnType::Type(..) => quote!(_),
        ReturnType::Default => quote!(()),
    };
    let output_span = function.sig.output.span();

    let Some(FnArg::Typed(parameter)) = function.sig.inputs.iter_mut().nth(context_index) else {
        unreachable!("find_context_parameter returned a typed parameter");
    };
    let pattern = parameter.pat.clone();
    let ty = parameter.ty.clone();
    *parameter.pat = syn::parse_quote!(#context);

    let provider = args.provider.as_ref().expect("checked before rewriting");
    let label = match &args.label {
        Some(label) => quote!(::core::option::Option::Some(#label)),
        None => quote!(::core::option::Option::None),
    };
    let tool_name = args
        .name
        .as_ref()
        .map_or_else(|| function.sig.ident.to_string(), syn::LitStr::value);
    let stmts = &function.block.stmts;
    let finish = quote_spanned!(output_span=> #call.finish::<#output, _>);
    // Spanned on the parameter, so a server without a vault is reported there.
    let krate_at_type = respan(quote!(#krate), ty.span());
    let assert_has_vault = quote_spanned!(ty.span()=>
        #krate_at_type::__private::mcp::assert_has_vault::<Self>();
    );
    function.block = syn::parse_quote!({
        #assert_has_vault
        let (#call, #context) = #krate::__private::mcp::ToolCall::start(
            #context,
            #provider,
            #label,
            #tool_name,
        );
        #finish(async move {
            let #pattern: #ty = #context;
            #(#stmts)*
        })
        .await
    });
    function.sig.output = syn::parse_quote!(
        -> ::core::result::Result<
            #krate::__private::rmcp::model::CallToolResponse,
            #krate::__private::rmcp::ErrorData,
        >
    );
    quote!(#register #function)
}

/// Builds rmcp's `#[tool(…)]` with the user's rmcp arguments, and the output schema of the
/// declared return type, which the rewritten function no longer shows.
fn rmcp_attribute(args: &ToolArgs, output: &ReturnType) -> TokenStream {
    let krate = &args.krate;
    let mut rmcp_args = args.rmcp.clone();
    if !args.has_output_schema
        && let ReturnType::Type(_, ty) = output
        && let Some(structured) = structured_output(ty)
    {
        rmcp_args.push(quote!(
            output_schema = #krate::__private::rmcp::handler::server::tool::schema_for_output::<
                #structured,
            >()
        ));
    }
    quote!(#[#krate::__private::rmcp::tool(#(#rmcp_args),*)])
}

/// Finds `T` in a return type spelled `Json<T>` or `Result<Json<T>, E>`, the rule by which
/// rmcp 3.11 gives a tool an output schema.
fn structured_output(ty: &Type) -> Option<&Type> {
    let last = last_segment(ty)?;
    if last.ident == "Json" {
        return first_type_argument(&last.arguments);
    }
    if last.ident == "Result" {
        let ok = first_type_argument(&last.arguments)?;
        let json = last_segment(ok)?;
        if json.ident == "Json" {
            return first_type_argument(&json.arguments);
        }
    }
    None
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) => path.path.segments.last(),
        _ => None,
    }
}

fn first_type_argument(arguments: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(arguments) = arguments else {
        return None;
    };
    match arguments.args.first()? {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    }
}

/// Returns whether `ty` mentions `impl Trait`, which cannot be named as a type argument.
fn contains_impl_trait(ty: &Type) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == "impl",
            TokenTree::Group(group) => scan(group.stream()),
            _ => false,
        })
    }
    scan(ty.to_token_stream())
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
    fn rewrite_uses_absolute_private_paths() {
        let output = expand_to_string(
            quote!(provider = "github"),
            quote!(
                async fn stars(&self, ctx: AlterContext) -> String {
                    ctx.provider().unwrap().to_owned()
                }
            ),
        );
        assert_eq!(compile_errors(&output), 0, "{output}");
        for expected in [
            "# [:: alter :: __private :: rmcp :: tool ()]",
            ":: alter :: __private :: mcp :: ToolCall :: start",
            "__alter_context , \"github\" , :: core :: option :: Option :: None , \"stars\"",
            "finish :: < String , _ >",
            "let ctx : AlterContext = __alter_context ;",
            "-> :: core :: result :: Result < :: alter :: __private :: rmcp :: model :: CallToolResponse",
        ] {
            assert!(output.contains(expected), "{expected} missing in {output}");
        }
    }

    #[test]
    fn context_keeps_its_position_and_type() {
        let output = expand_to_string(
            quote!(provider = "github"),
            quote!(
                async fn t(&self, a: A, ctx: alter::mcp::AlterContext, b: B) {}
            ),
        );
        let a = output.find("a : A").unwrap();
        let context = output
            .find("__alter_context : alter :: mcp :: AlterContext")
            .unwrap();
        let b = output.find("b : B").unwrap();
        assert!(a < context, "{output}");
        assert!(context < b, "{output}");
        assert!(output.contains("finish :: < () , _ >"), "{output}");
    }

    #[test]
    fn json_output_keeps_its_schema() {
        for output_type in [
            quote!(Json<Stars>),
            quote!(Result<rmcp::Json<Stars>, alter::Error>),
        ] {
            let output = expand_to_string(
                quote!(provider = "github", description = "Counts stars"),
                quote!(
                    async fn stars(ctx: AlterContext) -> #output_type { todo!() }
                ),
            );
            assert!(
                output.contains(
                    "tool (description = \"Counts stars\" , output_schema = :: alter :: __private \
                     :: rmcp :: handler :: server :: tool :: schema_for_output :: < Stars , > ())"
                ),
                "{output}"
            );
        }
    }

    #[test]
    fn explicit_output_schema_wins() {
        let output = expand_to_string(
            quote!(provider = "github", output_schema = my_schema()),
            quote!(
                async fn stars(ctx: AlterContext) -> Json<Stars> {
                    todo!()
                }
            ),
        );
        assert_eq!(output.matches("output_schema").count(), 1, "{output}");
        assert!(output.contains("output_schema = my_schema ()"), "{output}");
    }

    #[test]
    fn name_label_and_crate() {
        let output = expand_to_string(
            quote!(
                provider = "github",
                label = "work",
                name = "list_stars",
                crate = "my_alter"
            ),
            quote!(
                async fn stars(ctx: AlterContext) {}
            ),
        );
        assert_eq!(compile_errors(&output), 0, "{output}");
        assert!(
            output.contains("# [my_alter :: __private :: rmcp :: tool (name = \"list_stars\")]"),
            "{output}"
        );
        assert!(
            output.contains("Option :: Some (\"work\") , \"list_stars\""),
            "{output}"
        );
        assert!(!output.contains(":: alter ::"), "{output}");
    }

    #[test]
    fn impl_trait_output_is_inferred() {
        let output = expand_to_string(
            quote!(provider = "github"),
            quote!(
                async fn t(ctx: AlterContext) -> impl IntoCallToolResult {
                    "x"
                }
            ),
        );
        assert!(output.contains("finish :: < _ , _ >"), "{output}");
    }

    #[test]
    fn every_error_is_reported_and_the_function_kept() {
        let output = expand_to_string(
            quote!(unknown),
            quote!(
                fn t(a: AlterContext, b: AlterContext) {}
            ),
        );
        assert_eq!(compile_errors(&output), 4, "{output}");
        assert!(output.contains("unknown argument `unknown`"), "{output}");
        assert!(output.contains("needs the provider"), "{output}");
        assert!(output.contains("needs an `async fn`"), "{output}");
        assert!(
            output.contains("takes one `AlterContext` parameter"),
            "{output}"
        );
        assert!(
            output.starts_with(
                "# [:: alter :: __private :: rmcp :: tool ()] fn t (a : AlterContext , b : AlterContext) { }"
            ),
            "{output}"
        );
    }

    #[test]
    fn missing_context_is_reported() {
        let output = expand_to_string(
            quote!(provider = "github"),
            quote!(
                async fn t(&self) {}
            ),
        );
        assert_eq!(compile_errors(&output), 1, "{output}");
        assert!(
            output.contains("needs an `AlterContext` parameter"),
            "{output}"
        );
    }

    #[test]
    fn rmcp_tool_below_is_reported() {
        let output = expand_to_string(
            quote!(provider = "github"),
            quote!(
                #[tool(description = "x")]
                async fn t(&self, ctx: AlterContext) {}
            ),
        );
        assert_eq!(compile_errors(&output), 1, "{output}");
        assert!(
            output.contains("registers the tool with rmcp itself"),
            "{output}"
        );
        assert!(!output.contains("__private :: rmcp :: tool"), "{output}");
    }

    #[test]
    fn rmcp_tool_above_is_reported() {
        let output = expand_to_string(
            quote!(provider = "github"),
            quote!(
                fn t(
                    &self,
                    ctx: AlterContext,
                ) -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ()> + Send + '_>>
                {
                    Box::pin(async move {})
                }
            ),
        );
        assert_eq!(compile_errors(&output), 1, "{output}");
        assert!(
            output.contains("has already registered this function"),
            "{output}"
        );
        assert!(!output.contains("__private :: rmcp :: tool"), "{output}");
    }

    #[test]
    fn non_function_is_reported_and_kept() {
        let output = expand_to_string(
            quote!(provider = "github"),
            quote!(
                struct NotATool;
            ),
        );
        assert_eq!(compile_errors(&output), 1, "{output}");
        assert!(output.starts_with("struct NotATool ;"), "{output}");
    }

    #[test]
    fn context_type_spellings() {
        assert!(is_context_type(&syn::parse_quote!(AlterContext)));
        assert!(is_context_type(&syn::parse_quote!(
            alter::mcp::AlterContext
        )));
        assert!(is_context_type(&syn::parse_quote!(
            (::alter::mcp::AlterContext)
        )));
        assert!(!is_context_type(&syn::parse_quote!(&AlterContext)));
        assert!(!is_context_type(&syn::parse_quote!(AlterContext<T>)));
        assert!(!is_context_type(&syn::parse_quote!(Context)));
    }
}
