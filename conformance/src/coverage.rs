//! Coverage of SPEC.md's MUSTs: the sentences with a MUST (or MUST NOT) under each `## §n` /
//! `### §n.m` heading, extracted from the text at run time (the copy compiled in, or
//! `--spec FILE`), matched against the sections the cases name. A section with a MUST and no
//! case fails the run, unless [`COVERED_ELSEWHERE`] — a reviewed list — names the case in
//! another section that checks it and says why.

use std::collections::BTreeMap;

use crate::case::Case;

/// SPEC.md as compiled into the suite.
pub const SPEC: &str = include_str!("../../spec/SPEC.md");

/// Sections whose MUSTs no case of their own checks, the case that does check them, and why.
/// Reviewed: each entry must name an existing case, and a section listed here that gains a
/// case of its own should be removed from the list.
pub const COVERED_ELSEWHERE: &[(&str, &str, &str)] = &[
    (
        "§8.6",
        "s8.send.stored",
        "durability on stable storage (power loss) is not observable over the network; what is \
         observable — a 2xx send is in the inbox for the next request — is checked by §8.1's \
         cases, and by every federation case through the `accepted` result",
    ),
    (
        "§14",
        "s3.sig.strict_s",
        "vector files are checked offline by kez-spec's tests and spec/crosscheck; the suite \
         signs with kez-spec, so every case uses the vectors' constructions against the \
         server, and §3.4's case sends the vectors' non-canonical-S edge case",
    ),
    (
        "§13.4",
        "s4.record.registration",
        "a MUST for users (compare primaries out of band), not servers; the server's part — \
         serving the signed registration so the binding can be checked — is §4.2's case",
    ),
    (
        "§13.5",
        "s6.e2ee.round_trip",
        "nonces are chosen by clients; the server's part — storing and serving the nonce and \
         ciphertext unchanged so the recipient opens the message — is §6.2's round trip",
    ),
];

/// One section's MUST sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MustSection {
    /// `§8.5`.
    pub section: String,
    /// The heading's title.
    pub title: String,
    /// Each sentence containing a normative MUST.
    pub sentences: Vec<String>,
}

/// Extracts the MUST sentences per section. Text before the first `§` heading, fenced code
/// blocks, and quoted key words (`"MUST"`, as in §1's BCP 14 sentence) are ignored.
pub fn extract_musts(spec: &str) -> Vec<MustSection> {
    let mut sections: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut paragraph = String::new();
    let mut in_code = false;
    let flush = |paragraph: &mut String, sections: &mut Vec<(String, String, Vec<String>)>| {
        if let Some((_, _, paragraphs)) = sections.last_mut()
            && !paragraph.trim().is_empty()
        {
            paragraphs.push(std::mem::take(paragraph));
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
        if let Some(heading) = section_heading(line) {
            flush(&mut paragraph, &mut sections);
            sections.push((heading.0, heading.1, Vec::new()));
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut sections);
        } else {
            paragraph.push_str(line.trim());
            paragraph.push(' ');
        }
    }
    flush(&mut paragraph, &mut sections);
    sections
        .into_iter()
        .map(|(section, title, paragraphs)| MustSection {
            section,
            title,
            sentences: paragraphs
                .iter()
                .flat_map(|p| sentences(p))
                .filter(|s| has_must(s))
                .collect(),
        })
        .filter(|s| !s.sentences.is_empty())
        .collect()
}

/// `## §8 Title` or `### §8.5 Title` → (`§8.5`, `Title`).
fn section_heading(line: &str) -> Option<(String, String)> {
    let rest = line
        .strip_prefix("### ")
        .or_else(|| line.strip_prefix("## "))?;
    let (id, title) = rest.split_once(' ').unwrap_or((rest, ""));
    let number = id.strip_prefix('§')?;
    let valid = !number.is_empty()
        && number
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| (id.to_owned(), title.trim().to_owned()))
}

/// Splits a paragraph into sentences at `. ` / `; ` boundaries and list items.
fn sentences(paragraph: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = paragraph.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        current.push(*c);
        let next = chars.get(i + 1).copied();
        let next2 = chars.get(i + 2).copied();
        let boundary =
            matches!(c, '.' | ':') && next == Some(' ') && next2.is_some_and(char::is_uppercase);
        let item = *c == ' ' && next == Some('-') && next2 == Some(' ');
        if boundary || item {
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

/// One row of the coverage table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The section.
    pub section: String,
    /// Its title.
    pub title: String,
    /// How many MUST sentences it has.
    pub musts: usize,
    /// The cases that name it.
    pub cases: Vec<&'static str>,
    /// The reviewed entry that covers it from another section, when no case names it.
    pub elsewhere: Option<(&'static str, &'static str)>,
}

/// The coverage of a spec text by a set of cases.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// One row per section with a MUST, in document order.
    pub rows: Vec<Row>,
    /// Problems: sections with MUSTs and no case, reviewed entries naming unknown cases.
    pub problems: Vec<String>,
}

impl Coverage {
    /// Whether every MUST section is covered.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Builds the coverage of `spec` by `cases`, with `elsewhere` as the reviewed list.
pub fn coverage(
    spec: &str,
    cases: &[Case],
    elsewhere: &[(&str, &'static str, &'static str)],
) -> Coverage {
    let mut by_section: BTreeMap<&str, Vec<&'static str>> = BTreeMap::new();
    for case in cases {
        for section in case.sections {
            by_section.entry(section).or_default().push(case.id);
        }
    }
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    for must in extract_musts(spec) {
        let cases_here = by_section
            .get(must.section.as_str())
            .cloned()
            .unwrap_or_default();
        let reviewed = elsewhere
            .iter()
            .find(|(section, _, _)| *section == must.section)
            .map(|(_, case, reason)| (*case, *reason));
        if cases_here.is_empty() && reviewed.is_none() {
            problems.push(format!(
                "{} ({}) has {} MUST sentence(s) and no case, e.g.: {}",
                must.section,
                must.title,
                must.sentences.len(),
                must.sentences[0]
            ));
        }
        rows.push(Row {
            section: must.section,
            title: must.title,
            musts: must.sentences.len(),
            cases: cases_here,
            elsewhere: reviewed,
        });
    }
    for (section, case, _) in elsewhere {
        if by_section.contains_key(section) {
            problems.push(format!(
                "the reviewed entry for {section} is stale: cases name {section} directly"
            ));
        }
        if !cases.iter().any(|c| c.id == *case) {
            problems.push(format!(
                "the reviewed entry for {section} names {case}, which is not a case"
            ));
        }
    }
    Coverage { rows, problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_code_and_quotes() {
        let spec = "# Title\nintro MUST be ignored\n## §1 Conventions\nThe key words \"MUST\", \
                    \"MUST NOT\" are BCP 14.\n\nBits MUST be zero. Other text.\n```\nMUST in \
                    code\n```\n### §1.1 Version\nNo requirement here.\n### §2 Ids\nA server \
                    MUST reject it. It MUST NOT accept. Fine.\n";
        let musts = extract_musts(spec);
        assert_eq!(
            musts
                .iter()
                .map(|m| (m.section.as_str(), m.sentences.len()))
                .collect::<Vec<_>>(),
            vec![("§1", 1), ("§2", 2)]
        );
        assert_eq!(musts[0].sentences[0], "Bits MUST be zero.");
    }

    #[test]
    fn the_real_spec_has_musts_in_known_sections() {
        let musts = extract_musts(SPEC);
        let sections: Vec<&str> = musts.iter().map(|m| m.section.as_str()).collect();
        for expected in ["§2.1", "§3.4", "§4.1", "§8.5", "§9.3", "§9.4"] {
            assert!(sections.contains(&expected), "{expected} in {sections:?}");
        }
        assert!(!sections.contains(&"§1.2"), "§1.2 has no MUST");
    }
}
