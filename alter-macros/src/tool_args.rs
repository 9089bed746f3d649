//! Parsing the arguments of `#[alter::tool(…)]`: alter's own and rmcp's `#[tool]` arguments,
//! which pass through unchanged.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token, parenthesized, parse_quote};

use crate::args::crate_path;

/// The arguments of rmcp's `#[tool]` in rmcp 3.11.
const RMCP_ARGUMENTS: &[&str] = &[
    "name",
    "title",
    "description",
    "input_schema",
    "output_schema",
    "annotations",
    "icons",
    "meta",
    "local",
];
/// The maximum length of a grant label that a connect session accepts, in characters.
const MAX_LABEL_CHARS: usize = 255;

/// The arguments of `#[alter::tool]`.
pub(crate) struct ToolArgs {
    /// The provider whose grant the tool uses.
    pub(crate) provider: Option<LitStr>,
    /// The label that chooses among the user's grants for the provider.
    pub(crate) label: Option<LitStr>,
    /// The path of the `alter` crate, `::alter` unless `crate = "…"` names another.
    pub(crate) krate: Path,
    /// rmcp's `name = "…"`, when given as a string literal.
    pub(crate) name: Option<LitStr>,
    /// Whether rmcp's `output_schema = …` is among the arguments.
    pub(crate) has_output_schema: bool,
    /// rmcp's arguments, each as written: `key = value`, `key(…)` or `key`.
    pub(crate) rmcp: Vec<TokenStream>,
}

impl ToolArgs {
    /// Parses `tokens`, pushing every problem to `errors` and keeping what was valid.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Vec<syn::Error>) -> Self {
        let mut args = Self {
            provider: None,
            label: None,
            krate: parse_quote!(::alter),
            name: None,
            has_output_schema: false,
            rmcp: Vec::new(),
        };
        let mut seen = Vec::new();
        let parser = |input: ParseStream<'_>| parse_list(input, &mut args, &mut seen, errors);
        match parser.parse2(tokens) {
            Ok(()) if !seen.iter().any(|key| key == "provider") => errors.push(syn::Error::new(
                Span::call_site(),
                "`#[alter::tool]` needs the provider whose grant the tool uses, \
                 e.g. `#[alter::tool(provider = \"github\")]`",
            )),
            Ok(()) => {}
            Err(error) => errors.push(error),
        }
        args
    }
}

/// The value after an argument's key.
enum Value {
    /// `key`
    Flag,
    /// `key = value`
    Assigned(Expr),
    /// `key(…)`
    Nested(TokenStream),
}

/// Parses the comma-separated arguments, recording each key in `seen`.
fn parse_list(
    input: ParseStream<'_>,
    args: &mut ToolArgs,
    seen: &mut Vec<String>,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<()> {
    while !input.is_empty() {
        // `crate` is a keyword, so the key is read with `parse_any`.
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Value::Assigned(input.parse::<Expr>()?)
        } else if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            Value::Nested(content.parse()?)
        } else {
            Value::Flag
        };

        let name = key.to_string();
        if seen.contains(&name) {
            errors.push(syn::Error::new(
                key.span(),
                format!("duplicate argument `{name}`"),
            ));
        }
        match name.as_str() {
            // provider = "github"
            "provider" => {
                match string_value(&key, value, "the provider id, e.g. `provider = \"github\"`") {
                    Ok(provider) if provider.value().trim().is_empty() => errors.push(
                        syn::Error::new(provider.span(), "the provider must not be empty"),
                    ),
                    Ok(provider) => args.provider = Some(provider),
                    Err(error) => errors.push(error),
                }
            }
            // label = "work"
            "label" => {
                match string_value(&key, value, "the grant label, e.g. `label = \"work\"`") {
                    Ok(label) => match check_label(&label) {
                        Ok(()) => args.label = Some(label),
                        Err(error) => errors.push(error),
                    },
                    Err(error) => errors.push(error),
                }
            }
            // crate = "my_alter"
            "crate" => {
                let value = match value {
                    Value::Assigned(expr) => Some(expr),
                    Value::Flag | Value::Nested(_) => None,
                };
                match crate_path(&key, value) {
                    Ok(path) => args.krate = path,
                    Err(error) => errors.push(error),
                }
            }
            // name = "list_issues", description = "…", annotations(read_only_hint = true), …
            known if RMCP_ARGUMENTS.contains(&known) => {
                if let (
                    Value::Assigned(Expr::Lit(ExprLit {
                        lit: Lit::Str(name),
                        ..
                    })),
                    "name",
                ) = (&value, known)
                {
                    args.name = Some(name.clone());
                }
                args.has_output_schema |= known == "output_schema";
                args.rmcp.push(match value {
                    Value::Flag => quote!(#key),
                    Value::Assigned(expr) => quote!(#key = #expr),
                    Value::Nested(tokens) => quote!(#key(#tokens)),
                });
            }
            _ => errors.push(syn::Error::new(
                key.span(),
                format!(
                    "unknown argument `{name}`; expected `provider`, `label`, `crate`, or one \
                     of rmcp's `{}`",
                    RMCP_ARGUMENTS.join("`, `")
                ),
            )),
        }
        seen.push(name);

        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// Reads `key = "…"`; `expected` describes the literal in the error message.
fn string_value(key: &Ident, value: Value, expected: &str) -> syn::Result<LitStr> {
    let message = format!("expected a string literal with {expected}");
    match value {
        Value::Assigned(Expr::Lit(ExprLit {
            lit: Lit::Str(literal),
            ..
        })) => Ok(literal),
        Value::Assigned(other) => Err(syn::Error::new_spanned(other, message)),
        Value::Nested(tokens) => Err(syn::Error::new_spanned(tokens, message)),
        Value::Flag => Err(syn::Error::new(key.span(), message)),
    }
}

/// Checks the limits a connect session puts on a grant label.
fn check_label(label: &LitStr) -> syn::Result<()> {
    let length = label.value().chars().count();
    if length == 0 || length > MAX_LABEL_CHARS {
        return Err(syn::Error::new(
            label.span(),
            format!("the grant label must be 1 to {MAX_LABEL_CHARS} characters, got {length}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: TokenStream) -> (ToolArgs, Vec<String>) {
        let mut errors = Vec::new();
        let args = ToolArgs::parse(tokens, &mut errors);
        (args, errors.iter().map(ToString::to_string).collect())
    }

    fn strings(tokens: &[TokenStream]) -> Vec<String> {
        tokens.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn provider_only() {
        let (args, errors) = parse(quote!(provider = "github"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.provider.unwrap().value(), "github");
        assert!(args.label.is_none());
        assert!(args.rmcp.is_empty());
        let krate = &args.krate;
        assert_eq!(quote!(#krate).to_string(), ":: alter");
    }

    #[test]
    fn rmcp_arguments_pass_through() {
        let (args, errors) = parse(quote!(
            provider = "github",
            name = "list_issues",
            description = "Lists issues",
            annotations(read_only_hint = true, title = "Issues"),
            local,
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.name.unwrap().value(), "list_issues");
        assert!(!args.has_output_schema);
        assert_eq!(
            strings(&args.rmcp),
            [
                "name = \"list_issues\"",
                "description = \"Lists issues\"",
                "annotations (read_only_hint = true , title = \"Issues\")",
                "local",
            ]
        );
    }

    #[test]
    fn output_schema_is_noticed() {
        let (args, errors) = parse(quote!(provider = "github", output_schema = schema()));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(args.has_output_schema);
    }

    #[test]
    fn label_and_crate() {
        let (args, errors) = parse(quote!(
            provider = "github",
            label = "work",
            crate = "my_alter"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.label.unwrap().value(), "work");
        let krate = &args.krate;
        assert_eq!(quote!(#krate).to_string(), "my_alter");
    }

    #[test]
    fn missing_provider() {
        let (_, errors) = parse(quote!(description = "x"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("needs the provider"), "{errors:?}");
    }

    #[test]
    fn empty_provider_and_label() {
        let (args, errors) = parse(quote!(provider = " ", label = ""));
        assert!(args.provider.is_none());
        assert_eq!(
            errors,
            [
                "the provider must not be empty",
                "the grant label must be 1 to 255 characters, got 0",
            ]
        );
    }

    #[test]
    fn provider_must_be_a_string() {
        let (_, errors) = parse(quote!(provider = github));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("expected a string literal with the provider id"),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_argument_lists_the_known_ones() {
        let (_, errors) = parse(quote!(provider = "github", scopes = "repo"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("unknown argument `scopes`"),
            "{errors:?}"
        );
        assert!(errors[0].contains("`output_schema`"), "{errors:?}");
    }

    #[test]
    fn every_problem_is_reported() {
        let (_, errors) = parse(quote!(provider = "a", provider = "b", label, crate, bogus));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("duplicate argument `provider`"));
        assert!(errors[1].starts_with("expected a string literal with the grant label"));
        assert!(errors[2].starts_with("expected a string literal with the crate's path"));
        assert!(errors[3].starts_with("unknown argument `bogus`"));
    }
}
