//! Coverage of SPEC.md's requirements. Every sentence with a MUST (or MUST NOT) carries an id
//! such as `<sup>[§9.2-3]</sup>` (SPEC §1, "Requirement ids"); this module reads them out of the
//! text at run time (the copy compiled in, or `--spec FILE`) and checks them against
//! [`crate::requirements::REQUIREMENTS`], the one table that says how each is checked.
//!
//! Coverage is complete when every MUST sentence carries an id of its own section, every id has
//! exactly one entry, every entry names an id the SPEC has, and no entry is still pending.
//! Whether each server requirement's fault is really caught by a case is the faults run's part
//! (`crate::faults`): this check is static, so it runs with every suite run.

use std::collections::BTreeMap;

use crate::requirements::{Check, Requirement};

/// SPEC.md as compiled into the suite.
pub const SPEC: &str = include_str!("../../spec/SPEC.md");

/// One requirement id as written in the SPEC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecId {
    /// `§9.2-3`.
    pub id: String,
    /// The section it was found in: `§9.2`.
    pub section: String,
    /// The sentence it marks, ids removed.
    pub sentence: String,
}

/// What the SPEC text holds: its ids, and MUST sentences that carry none or a foreign one.
#[derive(Debug, Clone, Default)]
pub struct SpecText {
    /// Every id, in document order.
    pub ids: Vec<SpecId>,
    /// Problems with the text itself.
    pub problems: Vec<String>,
}

/// Reads the requirement ids and checks the MUST sentences. Text before the first `§` heading
/// (the status line), text under headings without `§` (the changelog), fenced code blocks,
/// inline code and quoted key words (`"MUST"`, as in §1's BCP 14 sentence) are ignored.
pub fn read_spec(spec: &str) -> SpecText {
    let mut out = SpecText::default();
    for (section, paragraph) in paragraphs(spec) {
        for sentence in sentences(&paragraph) {
            let ids = ids_in(&sentence);
            let plain = without_ids(&sentence);
            if has_must(&plain) && ids.is_empty() {
                out.problems
                    .push(format!("{section}: a MUST sentence without an id: {plain}"));
            }
            for id in ids {
                if id_section(&id) != Some(section.as_str()) {
                    out.problems.push(format!(
                        "{id} is written in {section}, not in its own section"
                    ));
                }
                out.ids.push(SpecId {
                    id,
                    section: section.clone(),
                    sentence: plain.clone(),
                });
            }
        }
    }
    let mut seen = BTreeMap::new();
    for id in &out.ids {
        *seen.entry(id.id.as_str()).or_insert(0) += 1;
    }
    for (id, n) in seen {
        if n > 1 {
            out.problems
                .push(format!("{id} is written {n} times in the SPEC"));
        }
    }
    out
}

/// The paragraphs of each `§` section, with code removed, as (section, text).
fn paragraphs(spec: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    let mut paragraph = String::new();
    let mut in_code = false;
    let flush = |section: &Option<String>, paragraph: &mut String, out: &mut Vec<_>| {
        if let Some(section) = section
            && !paragraph.trim().is_empty()
        {
            out.push((section.clone(), without_inline_code(paragraph)));
        }
        paragraph.clear();
    };
    for line in spec.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if line.starts_with("## ") || line.starts_with("### ") {
            flush(&section, &mut paragraph, &mut out);
            // A heading without `§` (the changelog) holds no requirement.
            section = section_heading(line);
        } else if line.trim().is_empty() || line.trim_start().starts_with("- ") {
            // List items are sentences of their own, like paragraphs.
            flush(&section, &mut paragraph, &mut out);
            paragraph.push_str(line.trim());
            paragraph.push(' ');
        } else {
            paragraph.push_str(line.trim());
            paragraph.push(' ');
        }
    }
    flush(&section, &mut paragraph, &mut out);
    out
}

/// `## §8 Title` or `### §8.5 Title` → `§8.5`.
fn section_heading(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("### ")
        .or_else(|| line.strip_prefix("## "))?;
    let id = rest.split(' ').next().unwrap_or(rest);
    let number = id.strip_prefix('§')?;
    valid_number(number).then(|| id.to_owned())
}

/// `8.5` (digits separated by single dots).
fn valid_number(number: &str) -> bool {
    !number.is_empty()
        && number
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The text with the inline code spans that show an id (as examples) removed: they are not
/// ids. Other code spans stay, backticks included, so sentences read as written.
fn without_inline_code(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| match (i % 2, part.contains(OPEN)) {
            (0, _) => part.to_owned(),
            (_, true) => String::new(),
            (_, false) => format!("`{part}`"),
        })
        .collect()
}

const OPEN: &str = "<sup>[";
const CLOSE: &str = "]</sup>";

/// The ids written in `text`, in order.
fn ids_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        out.push(after[..end].to_owned());
        rest = &after[end + CLOSE.len()..];
    }
    out
}

/// The text with its ids removed.
fn without_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        match after.find(CLOSE) {
            Some(end) => rest = &after[end + CLOSE.len()..],
            None => {
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

/// The section of a well-formed id: `§9.2-3` → `§9.2`.
pub fn id_section(id: &str) -> Option<&str> {
    let (section, ordinal) = id.rsplit_once('-')?;
    let number = section.strip_prefix('§')?;
    let ordinal_ok = !ordinal.is_empty()
        && ordinal.bytes().all(|b| b.is_ascii_digit())
        && !ordinal.starts_with('0');
    (valid_number(number) && ordinal_ok).then_some(section)
}

/// Splits a paragraph into sentences: after `.`, `:` or an id, when a space and a capital
/// follow.
fn sentences(paragraph: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = paragraph.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        current.push(*c);
        let next = chars.get(i + 1).copied();
        let next2 = chars.get(i + 2).copied();
        let ends = matches!(c, '.' | ':') || (*c == '>' && current.ends_with(CLOSE));
        if ends && next == Some(' ') && next2.is_some_and(char::is_uppercase) {
            out.push(current.trim().to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// Whether a sentence holds a normative MUST: the word in capitals, not in quotes.
fn has_must(sentence: &str) -> bool {
    let unquoted = sentence.replace("\"MUST\"", "").replace("\"MUST NOT\"", "");
    unquoted
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w == "MUST")
}

/// One row of the coverage table: a requirement of the SPEC and its entry.
#[derive(Debug, Clone)]
pub struct Row {
    /// The id as written in the SPEC.
    pub spec: SpecId,
    /// Its entry, if it has one.
    pub requirement: Option<&'static Requirement>,
}

/// The coverage of a SPEC text by a requirements table.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// One row per id, in document order.
    pub rows: Vec<Row>,
    /// Everything that makes coverage incomplete.
    pub problems: Vec<String>,
}

impl Coverage {
    /// Whether coverage is complete.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks `spec`'s ids against `requirements`.
pub fn coverage(spec: &str, requirements: &'static [Requirement]) -> Coverage {
    let text = read_spec(spec);
    let mut problems = text.problems;
    let rows: Vec<Row> = text
        .ids
        .into_iter()
        .map(|spec| Row {
            requirement: requirements.iter().find(|r| r.id == spec.id),
            spec,
        })
        .collect();
    for row in &rows {
        match row.requirement {
            None => problems.push(format!(
                "{} has no entry in conformance/src/requirements.rs: {}",
                row.spec.id, row.spec.sentence
            )),
            Some(Requirement {
                check: Check::Pending { awaits },
                ..
            }) => problems.push(format!(
                "{} is pending (awaits {awaits}): {}",
                row.spec.id, row.spec.sentence
            )),
            Some(_) => {}
        }
    }
    let mut entries = BTreeMap::new();
    for requirement in requirements {
        *entries.entry(requirement.id).or_insert(0) += 1;
        if !rows.iter().any(|r| r.spec.id == requirement.id) {
            problems.push(format!(
                "conformance/src/requirements.rs has an entry for {}, which the SPEC lacks",
                requirement.id
            ));
        }
    }
    for (id, n) in entries {
        if n > 1 {
            problems.push(format!("{id} has {n} entries in requirements.rs"));
        }
    }
    Coverage { rows, problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sentences_code_and_quotes() {
        let spec = "# Title\nintro MUST be ignored\n## §1 Conventions\nThe key words \"MUST\", \
                    \"MUST NOT\" are BCP 14. Ids look like `<sup>[§9.9-9]</sup>`.\n\nBits MUST \
                    be zero.<sup>[§1-1]</sup> Other text.\n```\nMUST in code\n```\n### §2 Ids\n\
                    A server MUST reject it<sup>[§2-1]</sup> and MUST NOT accept \
                    it.<sup>[§2-2]</sup> It MUST be kind. Fine.\n- a list item MUST \
                    too<sup>[§1-2]</sup>\n## Changelog\n\nA note on MUST.\n";
        let text = read_spec(spec);
        let ids: Vec<(&str, &str)> = text
            .ids
            .iter()
            .map(|i| (i.id.as_str(), i.section.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("§1-1", "§1"),
                ("§2-1", "§2"),
                ("§2-2", "§2"),
                ("§1-2", "§2")
            ]
        );
        assert_eq!(text.ids[0].sentence, "Bits MUST be zero.");
        assert_eq!(text.problems.len(), 2, "{:?}", text.problems);
        assert!(text.problems[0].contains("It MUST be kind."));
        assert!(text.problems[1].contains("§1-2 is written in §2"));
    }

    #[test]
    fn id_grammar() {
        assert_eq!(id_section("§9.2-3"), Some("§9.2"));
        assert_eq!(id_section("§14-1"), Some("§14"));
        for bad in ["§9.2", "9.2-3", "§9.2-", "§9.2-03", "§9..2-1", "§9.2-x"] {
            assert_eq!(id_section(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_real_spec_has_ids_on_every_must() {
        let text = read_spec(SPEC);
        assert!(text.problems.is_empty(), "{:#?}", text.problems);
        assert!(text.ids.len() >= 60, "{} ids", text.ids.len());
    }
}
