//! Fuzzy matching for searches: how well what a user typed matches an image's names, so the
//! local image search and the federated registry search rank alike.

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

/// How well `query` matches an image: subsequences ("busybx" in "busybox") score by the skim
/// algorithm, near-misses ("bsuybox") by edit distance. None when nothing is close.
pub fn match_score(query: &str, tags: &[String], id: &str) -> Option<i64> {
    let matcher = SkimMatcherV2::default().ignore_case();
    let query = query.trim().to_lowercase();
    let short_id = id.trim_start_matches("sha256:");
    let mut best: Option<i64> = None;
    let mut consider = |score: i64| best = Some(best.map_or(score, |b| b.max(score)));
    if short_id.starts_with(&query) {
        consider(1000);
    }
    for tag in tags {
        if let Some(score) = matcher.fuzzy_match(tag, &query) {
            consider(score);
        }
        // Edit distance against the repository's name and its last path segment.
        let repo = tag.rsplit_once(':').map_or(tag.as_str(), |(r, _)| r);
        let name = repo.rsplit('/').next().unwrap_or(repo);
        for candidate in [repo, name] {
            let similarity =
                strsim::normalized_damerau_levenshtein(&query, &candidate.to_lowercase());
            if similarity >= 0.6 {
                consider((similarity * 40.0) as i64);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::match_score;

    #[test]
    fn fuzzy_matching_forgives_typos_and_ranks_close_names_first() {
        let busybox = vec!["berth-test/busybox:1".to_string()];
        let python = vec!["python:3.12".to_string()];
        assert!(match_score("busybx", &busybox, "sha256:abc").is_some());
        assert!(match_score("bsuybox", &busybox, "sha256:abc").is_some());
        assert!(match_score("busybx", &python, "sha256:abc").is_none());
        assert!(
            match_score("abc", &python, "sha256:abcdef").is_some(),
            "id prefix"
        );
        let exact = match_score("busybox", &busybox, "x").unwrap();
        let typo = match_score("busybx", &busybox, "x").unwrap();
        assert!(exact > typo);
    }
}
