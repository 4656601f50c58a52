//! The coverage check: every MUST sentence of SPEC.md carries an id, every id has exactly one
//! entry in the requirements table and every entry an id; a pending entry keeps coverage
//! incomplete; and the client tests the table names exist.

use kez_conformance::coverage::{SPEC, coverage, read_spec};
use kez_conformance::requirements::{Check, REQUIREMENTS, Requirement};

const FAKE_SPEC: &str = "# KEZ\n\n## §1 One\n\nA server MUST do one thing.<sup>[§1-1]</sup>\n\n\
                         ### §1.1 Sub\n\nNothing normative.\n\n## §2 Two\n\nA client MUST NOT do \
                         another.<sup>[§2-1]</sup> It SHOULD be kind.\n";

const SERVER: Check = Check::Server { faults: &["f"] };

#[test]
fn ids_and_entries_must_match() {
    static BOTH: [Requirement; 2] = [
        Requirement {
            id: "§1-1",
            summary: "one",
            check: SERVER,
        },
        Requirement {
            id: "§2-1",
            summary: "two",
            check: Check::Unobservable { reason: "why" },
        },
    ];
    assert!(coverage(FAKE_SPEC, &BOTH).ok());

    // An id without an entry.
    static ONE: [Requirement; 1] = [Requirement {
        id: "§1-1",
        summary: "one",
        check: SERVER,
    }];
    let result = coverage(FAKE_SPEC, &ONE);
    assert_eq!(result.problems.len(), 1, "{:?}", result.problems);
    assert!(result.problems[0].starts_with("§2-1 has no entry"));

    // An entry for an id the SPEC lacks, and a pending one.
    static EXTRA: [Requirement; 3] = [
        Requirement {
            id: "§1-1",
            summary: "one",
            check: Check::Pending { awaits: "someone" },
        },
        Requirement {
            id: "§2-1",
            summary: "two",
            check: SERVER,
        },
        Requirement {
            id: "§2-2",
            summary: "gone",
            check: SERVER,
        },
    ];
    let result = coverage(FAKE_SPEC, &EXTRA);
    assert_eq!(result.problems.len(), 2, "{:?}", result.problems);
    assert!(result.problems[0].starts_with("§1-1 is pending (awaits someone)"));
    assert!(result.problems[1].contains("entry for §2-2, which the SPEC lacks"));

    // A MUST sentence without an id.
    let text = read_spec("## §3 Three\n\nServers MUST answer.\n");
    assert_eq!(text.problems.len(), 1, "{:?}", text.problems);
}

/// The real SPEC and table: every MUST has an id, every id an entry, and none is pending.
#[test]
fn the_spec_is_covered() {
    let result = coverage(SPEC, REQUIREMENTS);
    assert!(result.problems.is_empty(), "{:#?}", result.problems);
    assert!(
        result.rows.len() >= 77,
        "{} requirements",
        result.rows.len()
    );
}

/// The client tests the table names are functions in the files it names.
#[test]
fn client_tests_exist() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    for requirement in REQUIREMENTS {
        let Check::Client { tests } = requirement.check else {
            continue;
        };
        for test in tests {
            let (file, function) = test.split_once("::").expect("path::function");
            let text = std::fs::read_to_string(workspace.join(file))
                .unwrap_or_else(|e| panic!("{}: {file}: {e}", requirement.id));
            assert!(
                text.contains(&format!("fn {function}()")),
                "{}: {file} has no test {function}",
                requirement.id
            );
        }
    }
}
