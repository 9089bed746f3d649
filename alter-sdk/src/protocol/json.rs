//! JSON encoding that matches the bytes the backend expects.
//!
//! The backend hashes request bodies exactly as sent, and its reference client encodes them like
//! Python's `json.dumps(obj, separators=(",", ":"))`: no spaces, keys in insertion order, every
//! character outside printable ASCII escaped as `\uXXXX` with lower-case hex (surrogate pairs
//! above U+FFFF), and floats written the way Python's `repr` writes them. [`to_ascii_vec`]
//! produces those bytes. Provider bodies use [`serde_json::to_vec`], which keeps UTF-8 as is,
//! like the reference client's HTTP library does.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// Serializes `value` as compact JSON with every non-ASCII and control character escaped.
///
/// # Errors
///
/// Fails when `value`'s `Serialize` implementation fails, for example a map with non-string keys.
pub fn to_ascii_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = Serializer::with_formatter(&mut out, AsciiFormatter);
    value.serialize(&mut serializer)?;
    Ok(out)
}

/// Serializes `value` like [`to_ascii_vec`] and returns it as a `String`.
///
/// # Errors
///
/// Fails when `value`'s `Serialize` implementation fails.
pub fn to_ascii_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let bytes = to_ascii_vec(value)?;
    // Every byte the formatter writes is ASCII, so this conversion cannot fail.
    Ok(String::from_utf8(bytes).expect("ASCII JSON is valid UTF-8"))
}

struct AsciiFormatter;

impl Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if ch.is_ascii() && ch != '\u{7f}' {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = index + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        // Python writes the same short escapes as serde_json; only the hex case of `\u00XX` can
        // differ, and Python uses lower case.
        let escaped: &[u8] = match char_escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"\\/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(writer, "\\u{byte:04x}"),
        };
        writer.write_all(escaped)
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// Formats a finite float the way Python's `repr(float)` does: the shortest digits that round
/// trip, in positional notation when the decimal exponent is in `-4..16`, otherwise in scientific
/// notation with a signed, at least two-digit exponent (`1e+16`, `1e-05`).
fn python_float_repr(value: f64) -> String {
    // Rust's `{:e}` prints the shortest round-trip digits, e.g. `1.2345e-7`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` output always contains an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();

    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        };
        return format!("{sign}{text}");
    }

    let (first, rest) = digits.split_at(1);
    let fraction = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    format!(
        "{sign}{first}{fraction}e{exponent_sign}{:02}",
        exponent.unsigned_abs()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escapes_non_ascii_lower_case() {
        let value = json!({"tool": "list_emails", "note": "caf\u{e9}"});
        let encoded = to_ascii_string(&value).unwrap();
        assert_eq!(encoded, r#"{"tool":"list_emails","note":"caf\u00e9"}"#);
    }

    #[test]
    fn escapes_astral_as_surrogate_pair() {
        let encoded = to_ascii_string("\u{1F600}").unwrap();
        assert_eq!(encoded, r#""\ud83d\ude00""#);
    }

    #[test]
    fn escapes_controls_and_delete() {
        let encoded = to_ascii_string("a\u{1}b\u{7f}\n\"\\/").unwrap();
        assert_eq!(encoded, r#""a\u0001b\u007f\n\"\\/""#);
    }

    #[test]
    fn keeps_insertion_order() {
        let value = json!({"z": 1, "a": [true, null], "m": {}});
        assert_eq!(
            to_ascii_string(&value).unwrap(),
            r#"{"z":1,"a":[true,null],"m":{}}"#
        );
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (-0.5, "-0.5"),
            (3599.0, "3599.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (1e100, "1e+100"),
            (0.0, "0.0"),
        ];
        for (value, expected) in cases {
            assert_eq!(python_float_repr(value), expected, "value {value}");
        }
    }
}
