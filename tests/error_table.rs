//! The error codes are written once, on `ErrorCode`: its list is every code the server can
//! send, and docs/protocol.md's table of codes, HTTP statuses and meanings is made from it.
//! When the table is not what the code says, this test rewrites it and fails: commit the
//! rewritten docs. (The UI's words for each code are checked by `tsc` against the generated
//! `ErrorCode` type.)

use berth::error::ErrorCode;
use ts_rs::TS;

const DOC: &str = "docs/protocol.md";

fn table() -> String {
    let mut text = String::from("| code | HTTP | meaning |\n|------|------|---------|\n");
    for code in ErrorCode::ALL {
        text.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.name(),
            code.status().as_u16(),
            code.meaning()
        ));
    }
    text
}

#[test]
fn the_list_of_codes_is_every_code() {
    // ts-rs reads the enum itself: its declaration names every variant.
    let declared: Vec<String> = ErrorCode::decl()
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let listed: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    let mut declared_sorted = declared.clone();
    declared_sorted.sort();
    assert_eq!(sorted, declared_sorted, "ErrorCode::ALL is not every code");
    for code in ErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), code.name(), "{code:?}");
    }
}

#[test]
fn the_protocol_docs_list_the_codes_as_the_code_does() {
    let docs = std::fs::read_to_string(DOC).unwrap();
    let heading = "### Errors\n\n";
    let start = docs
        .find(heading)
        .expect("docs/protocol.md has an Errors section")
        + heading.len();
    let end = start + docs[start..].find("\n\n").expect("the table ends") + 1;
    let fresh = table();
    if docs[start..end] != fresh {
        std::fs::write(DOC, format!("{}{}{}", &docs[..start], fresh, &docs[end..])).unwrap();
        panic!("{DOC}'s table of error codes was not what ErrorCode says; rewritten: commit it");
    }
}
