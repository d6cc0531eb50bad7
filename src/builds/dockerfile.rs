//! What a non-admin's Dockerfile may make the engine fetch. The engine pulls every `FROM` and
//! `COPY --from` image and downloads every `ADD <url>` by itself, so the Dockerfile is parsed
//! (with `dockerfile-parser`) before the build and those are judged as a pull or a connection
//! made on the user's behalf would be.

use dockerfile_parser::{Dockerfile, Instruction};

use crate::docker::images::ImageRef;
use crate::error::ApiError;

/// The largest Dockerfile berth reads.
pub const MAX_DOCKERFILE_BYTES: usize = 1 << 20;

/// What a Dockerfile makes the engine fetch.
#[derive(Debug, Default, PartialEq)]
pub struct Fetches {
    /// Images pulled for `FROM` and `COPY --from` (not earlier stages, not `scratch`).
    pub images: Vec<ImageRef>,
    /// URLs `ADD` downloads.
    pub urls: Vec<url::Url>,
}

/// Parses a Dockerfile and lists what it fetches; what berth cannot judge (a variable in an
/// image or URL, another escape character, which this parser does not follow) is refused.
pub fn fetches(text: &str) -> Result<Fetches, ApiError> {
    if text.len() > MAX_DOCKERFILE_BYTES {
        return Err(ApiError::bad_request(format!(
            "the Dockerfile is over {} KiB",
            MAX_DOCKERFILE_BYTES >> 10
        )));
    }
    for line in text.lines() {
        let line = line.trim();
        if !line.starts_with('#') {
            break; // parser directives come first
        }
        let directive = line.trim_start_matches('#').trim().to_ascii_lowercase();
        if directive.replace(' ', "").starts_with("escape=") {
            return Err(ApiError::bad_request(
                "the escape directive is not supported: write the Dockerfile with \\",
            ));
        }
    }
    let parsed = Dockerfile::parse(text)
        .map_err(|e| ApiError::bad_request(format!("the Dockerfile does not parse: {e}")))?;
    let mut stages: Vec<String> = Vec::new();
    let mut found = Fetches::default();
    for instruction in &parsed.instructions {
        match instruction {
            Instruction::From(from) => {
                let image = from.image.content.trim();
                if !stages.iter().any(|s| s.eq_ignore_ascii_case(image)) && image != "scratch" {
                    found.images.push(judged_image(image, "FROM")?);
                }
                stages.push(
                    from.alias
                        .as_ref()
                        .map_or_else(|| stages.len().to_string(), |a| a.content.clone()),
                );
            }
            Instruction::Copy(copy) => {
                for flag in &copy.flags {
                    if !flag.name.content.eq_ignore_ascii_case("from") {
                        continue;
                    }
                    let from = flag.value.content.trim();
                    let earlier = stages.iter().any(|s| s.eq_ignore_ascii_case(from))
                        || from.parse::<usize>().is_ok_and(|n| n < stages.len());
                    if !earlier {
                        found.images.push(judged_image(from, "COPY --from")?);
                    }
                }
            }
            Instruction::Misc(misc) if misc.instruction.content.eq_ignore_ascii_case("add") => {
                for source in add_sources(&misc.arguments.to_string()) {
                    let lower = source.to_ascii_lowercase();
                    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                        continue;
                    }
                    if source.contains('$') {
                        return Err(ApiError::bad_request(format!(
                            "ADD {source}: a URL with a variable cannot be checked"
                        )));
                    }
                    let url = url::Url::parse(&source).map_err(|e| {
                        ApiError::bad_request(format!("ADD {source}: not a URL ({e})"))
                    })?;
                    found.urls.push(url);
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

fn judged_image(image: &str, instruction: &str) -> Result<ImageRef, ApiError> {
    if image.contains('$') {
        return Err(ApiError::bad_request(format!(
            "{instruction} {image}: an image named by a variable cannot be checked; name it"
        )));
    }
    ImageRef::parse(image)
}

/// The sources of an `ADD` (its arguments but the last, flags left out), in either form.
fn add_sources(arguments: &str) -> Vec<String> {
    let arguments = arguments.trim();
    let mut parts: Vec<String> = if arguments.starts_with('[') {
        serde_json::from_str(arguments).unwrap_or_default()
    } else {
        arguments
            .split_whitespace()
            .filter(|p| !p.starts_with("--"))
            .map(str::to_string)
            .collect()
    };
    parts.pop(); // the destination
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_dockerfile_fetches_is_found_in_every_form() {
        let found = fetches(
            "FROM busybox AS base\n\
             FROM 127.0.0.1:5000/x:1\n\
             COPY --from=base /a /a\n\
             COPY --from=0 /a /b\n\
             COPY --from=evil.example:5000/y /c /c\n\
             add --chown=1:1 http://10.0.0.1/a https://example.com/b /dst/\n\
             ADD [\"http://169.254.169.254/latest\", \"/meta\"]\n\
             ADD local.txt /x\n\
             RUN echo http://127.0.0.1/not-fetched-by-the-engine\n",
        )
        .unwrap();
        let images: Vec<&str> = found.images.iter().map(|i| i.as_str()).collect();
        assert_eq!(
            images,
            ["busybox", "127.0.0.1:5000/x:1", "evil.example:5000/y"]
        );
        let urls: Vec<String> = found.urls.iter().map(|u| u.to_string()).collect();
        assert_eq!(
            urls,
            [
                "http://10.0.0.1/a",
                "https://example.com/b",
                "http://169.254.169.254/latest"
            ]
        );
    }

    #[test]
    fn what_cannot_be_judged_is_refused() {
        assert!(fetches("ARG B=busybox\nFROM $B\n").is_err());
        assert!(fetches("FROM busybox\nADD http://$HOST/x /x\n").is_err());
        assert!(fetches("# escape=`\nFROM busybox\n").is_err());
        assert!(fetches(&"#".repeat(MAX_DOCKERFILE_BYTES + 1)).is_err());
        assert_eq!(fetches("FROM scratch\n").unwrap(), Fetches::default());
    }
}
