//! `spec/openapi.yaml` against the daemon (SPEC §4, §8, §10): the routes kezd serves and the
//! paths the file documents are the same set, and real responses — records, JRD, send
//! answers, inbox pages, acknowledgements, stream events, errors — validate against the
//! file's schemas for their documented status and media type, headers included.

use crate::common;

use std::collections::BTreeSet;

use common::kez::{Api, SERVER, User, now_ms, now_secs, send_body, start};
use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

/// Operations the file documents that kezd does not serve yet, as (method, path, reason),
/// e.g. `("GET", "/.well-known/kez", "federation, not yet served")`. The test fails as soon as
/// a listed one is served, so this list cannot go stale silently. Empty since federation
/// (server document, delivery status, transactions) is served.
const NOT_YET_SERVED: &[(&str, &str, &str)] = &[];

/// The HTTP methods an OpenAPI path item can hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// YAML as JSON: the file only uses what JSON can say (mapping keys become strings).
fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(n) => Value::from(*n),
        Yaml::Real(text) => {
            let n: f64 = text.parse().expect("a YAML float");
            serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
        }
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(n) => n.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => panic!("unsupported YAML key {other:?}"),
                    };
                    (key, to_json(value))
                })
                .collect::<Map<_, _>>(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML node {yaml:?}"),
    }
}

/// The OpenAPI document, parsed.
struct Contract {
    doc: Value,
}

impl Contract {
    fn load() -> Contract {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/openapi.yaml");
        let text = std::fs::read_to_string(path).expect("spec/openapi.yaml is readable");
        let docs = YamlLoader::load_from_str(&text).expect("spec/openapi.yaml is YAML");
        assert_eq!(docs.len(), 1, "one YAML document");
        let doc = to_json(&docs[0]);
        assert_eq!(doc["openapi"], "3.1.0");
        Contract { doc }
    }

    /// Every (METHOD, path template) the file documents.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let paths = self.doc["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().expect("path item");
                METHODS
                    .iter()
                    .filter(|method| item.contains_key(**method))
                    .map(|method| (method.to_uppercase(), path.clone()))
            })
            .collect()
    }

    /// Follows a local `$ref` (`#/components/...`).
    fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("a local reference");
                self.doc.pointer(pointer).expect("the reference resolves")
            }
            None => value,
        }
    }

    /// How `instance` violates `schema` (a schema of this file, whose `$ref`s point into its
    /// `components`); empty when it is valid.
    fn violations(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut root = schema.as_object().expect("schema object").clone();
        root.insert("components".into(), self.doc["components"].clone());
        let validator = jsonschema::draft202012::options()
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("{schema}: the schema compiles: {e}"));
        validator
            .iter_errors(instance)
            .map(|e| e.to_string())
            .collect()
    }

    /// Validates `instance` against `schema`; panics listing every violation.
    fn validate(&self, what: &str, schema: &Value, instance: &Value) {
        let errors = self.violations(schema, instance);
        assert!(
            errors.is_empty(),
            "{what}: {instance} violates the schema: {errors:#?}"
        );
    }

    /// `components.schemas.<name>` as a schema to validate with.
    fn component(name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// Validates `instance` against `components.schemas.<name>`.
    fn validate_component(&self, name: &str, instance: &Value) {
        self.validate(name, &Contract::component(name), instance);
    }

    /// Checks a real response against the file's response for (`method`, `path`, status):
    /// the status is documented, required headers are present and every documented header
    /// and the body validate. Returns the body (JSON, or a string for other media types).
    async fn check(&self, method: &str, path: &str, response: reqwest::Response) -> Value {
        let status = response.status().as_u16().to_string();
        let what = format!("{method} {path} {status}");
        let operation = &self.doc["paths"][path][method.to_lowercase()];
        assert!(operation.is_object(), "{what}: operation documented");
        let documented = operation["responses"]
            .get(&status)
            .unwrap_or_else(|| panic!("{what}: status documented"));
        self.check_against(&what, self.deref(documented), response)
            .await
    }

    /// [`check`](Self::check) against a shared response (`components.responses.<name>`).
    async fn check_shared(&self, name: &str, response: reqwest::Response) -> Value {
        let documented = &self.doc["components"]["responses"][name];
        assert!(documented.is_object(), "response {name} documented");
        self.check_against(name, documented, response).await
    }

    async fn check_against(
        &self,
        what: &str,
        documented: &Value,
        response: reqwest::Response,
    ) -> Value {
        let headers = response.headers().clone();
        if let Some(specified) = documented["headers"].as_object() {
            for (name, header) in specified {
                let header = self.deref(header);
                let Some(value) = headers.get(name.as_str()) else {
                    assert_ne!(header["required"], true, "{what}: header {name} required");
                    continue;
                };
                let text = value.to_str().expect("ASCII header");
                let value = match header["schema"]["type"].as_str() {
                    Some("integer") => Value::from(text.parse::<i64>().expect("integer header")),
                    _ => Value::from(text),
                };
                self.validate(&format!("{what} header {name}"), &header["schema"], &value);
            }
        }
        let text = response.text().await.expect("body");
        let Some(content) = documented["content"].as_object() else {
            assert!(text.is_empty(), "{what}: no body documented");
            return Value::Null;
        };
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let schema = &content
            .get(media)
            .unwrap_or_else(|| panic!("{what}: media type {media:?} documented"))["schema"];
        let body = if media.ends_with("json") {
            serde_json::from_str(&text).expect("a JSON body")
        } else {
            Value::String(text)
        };
        self.validate(what, schema, &body);
        body
    }
}

/// SPEC §4, §8 and the OpenAPI file: every route kezd serves is documented with the same
/// method, and every documented operation is served, except the listed federation routes.
#[test]
fn served_routes_and_documented_paths_are_the_same() {
    let contract = Contract::load();
    let documented = contract.operations();
    let config = common::config(|_| {});
    let served: BTreeSet<(String, String)> = kezd::handlers::routes(&config)
        .endpoints()
        .into_iter()
        .map(|(pattern, method)| (method.to_string(), pattern.to_owned()))
        .collect();
    assert!(!served.is_empty());
    for operation in &served {
        assert!(
            documented.contains(operation),
            "{operation:?} is served but not in spec/openapi.yaml"
        );
    }
    for (method, path, reason) in NOT_YET_SERVED {
        let operation = ((*method).to_owned(), (*path).to_owned());
        assert!(
            documented.contains(&operation),
            "{operation:?} ({reason}) is not in spec/openapi.yaml: drop it from NOT_YET_SERVED"
        );
        assert!(
            !served.contains(&operation),
            "{operation:?} is served now: drop it from NOT_YET_SERVED ({reason})"
        );
    }
    for operation in &documented {
        let excepted = NOT_YET_SERVED
            .iter()
            .any(|(method, path, _)| operation.0 == *method && operation.1 == *path);
        assert!(
            excepted || served.contains(operation),
            "{operation:?} is documented but kezd does not serve it"
        );
    }
}

/// SPEC §4.1–§4.5, §10: health, registration, lookups and WebFinger answers, and their error
/// bodies, match the file's schemas.
#[tokio::test]
async fn user_responses_match_the_schemas() {
    let contract = Contract::load();
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let c = &contract;

    let health = c
        .check("GET", "/v1/healthz", api.get("/v1/healthz").await)
        .await;
    assert_eq!(health["status"], "ok");
    let registration = alice.registration(now_ms());
    let created = api.post_json("/v1/register", &registration).await;
    assert_eq!(created.status(), 201);
    c.check("POST", "/v1/register", created).await;
    let again = api.post_json("/v1/register", &registration).await;
    assert_eq!(again.status(), 200);
    c.check("POST", "/v1/register", again).await;
    for refused in [
        api.register(&User::new("alice", 2)).await,
        api.register(&User::new("admin", 3)).await,
        api.post_json("/v1/register", &json!({"type": "registration"}))
            .await,
    ] {
        c.check("POST", "/v1/register", refused).await;
    }

    for path in ["/v1/u/alice", "/v1/u/Alice", "/v1/u/nobody"] {
        c.check("GET", "/v1/u/{handle}", api.get(path).await).await;
    }
    let stranger = User::new("bob", 4).primary();
    for primary in [
        alice.primary().to_string(),
        stranger.to_string(),
        "x".into(),
    ] {
        let response = api.get(&format!("/v1/by-primary/{primary}")).await;
        c.check("GET", "/v1/by-primary/{primary}", response).await;
    }
    for query in [
        format!("?resource=acct:alice@{SERVER}"),
        "?resource=nonsense".to_owned(),
        format!("?resource=acct:bob@{SERVER}"),
    ] {
        let response = api.get(&format!("/.well-known/webfinger{query}")).await;
        c.check("GET", "/.well-known/webfinger", response).await;
    }
    let metrics = c.check("GET", "/metrics", api.get("/metrics").await).await;
    assert!(metrics.is_string());

    let not_found = api.get("/v1/nothing-here").await;
    assert_eq!(not_found.status(), 404);
    c.check_shared("NotFound", not_found).await;
    let not_allowed = api
        .http
        .delete(api.url("/v1/register"))
        .send()
        .await
        .expect("request");
    assert_eq!(not_allowed.status(), 405);
    c.check_shared("MethodNotAllowed", not_allowed).await;
}

/// SPEC §4.7: the deletion's answer, its retry and refusals, and the 410 answers of what a
/// deleted account leaves behind match the file's schemas.
#[tokio::test]
async fn deletion_responses_match_the_schemas() {
    let contract = Contract::load();
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    let c = &contract;
    let path = "/v1/account/delete";
    for refused in [
        api.post_json(path, &json!({"type": "deletion"})).await,
        api.post_json(path, &User::new("alice", 3).deletion_on(SERVER, now_ms()))
            .await,
        api.post_json(path, &User::new("carol", 4).deletion_on(SERVER, now_ms()))
            .await,
    ] {
        c.check("POST", path, refused).await;
    }
    let deletion = alice.deletion_on(SERVER, now_ms());
    for _first_and_retry in 0..2 {
        let answer = api.post_json(path, &deletion).await;
        assert_eq!(answer.status(), 200);
        c.check("POST", path, answer).await;
    }
    let gone = api.get("/v1/u/alice").await;
    assert_eq!(gone.status(), 410);
    c.check("GET", "/v1/u/{handle}", gone).await;
    let by_primary = format!("/v1/by-primary/{}", alice.primary());
    c.check(
        "GET",
        "/v1/by-primary/{primary}",
        api.get(&by_primary).await,
    )
    .await;
    let webfinger = format!("/.well-known/webfinger?resource=acct:alice@{SERVER}");
    c.check("GET", "/.well-known/webfinger", api.get(&webfinger).await)
        .await;
    let send = api.send(&bob.envelope(&alice, now_ms(), "late")).await;
    assert_eq!(send.status(), 410);
    c.check("POST", "/v1/messages", send).await;
}

/// SPEC §8.1–§8.3, §8.5, §10: send answers (stored, duplicate, each error), inbox pages,
/// acknowledgements, stream events and their errors match the file's schemas.
#[tokio::test]
async fn message_responses_match_the_schemas() {
    let contract = Contract::load();
    let server = start(|raw| raw.rate.sender_per_minute = 4).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    let c = &contract;

    let envelope = alice.envelope(&bob, now_ms(), "hello");
    let mut stream = api.stream(&bob, None, false).await;
    stream.expect_retry().await;
    let ready = stream.next_event().await;
    let ready: Value = serde_json::from_str(ready.data.as_deref().expect("data")).expect("JSON");
    c.validate_component("StreamReady", &ready);

    for expected in [201, 200] {
        let response = api.send(&envelope).await;
        assert_eq!(response.status(), expected);
        c.check("POST", "/v1/messages", response).await;
    }
    let item = stream.expect_message().await;
    c.validate_component("InboxItem", &item);

    let mut forged = alice.envelope(&bob, now_ms(), "forged");
    forged["ts"] = (forged["ts"].as_u64().expect("ts") + 1).into();
    let unknown_sender = User::new("carol", 3).envelope(&bob, now_ms(), "who");
    let dave = kez_spec::Address::parse(&format!("dave@{SERVER}")).expect("valid");
    let to_nobody = alice.envelope_to(&dave, &bob.primary(), now_ms(), "anyone?");
    for (refused, status) in [(forged, 400), (unknown_sender, 403), (to_nobody, 404)] {
        let response = api.send(&refused).await;
        assert_eq!(response.status(), status);
        c.check("POST", "/v1/messages", response).await;
    }
    let mut too_large = send_body(&envelope);
    too_large["pad"] = "x".repeat(262_144).into();
    let response = api.post_json("/v1/messages", &too_large).await;
    assert_eq!(response.status(), 413);
    c.check("POST", "/v1/messages", response).await;
    // The sender's quota of 4 is used up by now (1 stored, 3 refused after the count).
    let limited = loop {
        let response = api.send(&alice.envelope(&bob, now_ms(), "more")).await;
        if response.status() == 429 {
            break response;
        }
        assert_eq!(response.status(), 201);
    };
    c.check("POST", "/v1/messages", limited).await;

    let credential = bob.poll_credential(0, now_secs());
    for (query, credential) in [
        ("?since=0", Some(credential.as_str())),
        ("?since=zero", Some(credential.as_str())),
        ("?since=0", None),
    ] {
        let response = api.poll_raw("bob", query, credential).await;
        let page = c.check("GET", "/v1/inbox/{handle}", response).await;
        if let Some(messages) = page["messages"].as_array() {
            assert!(!messages.is_empty());
        }
    }

    let ack = bob.ack_credential(1, now_secs());
    for (body, credential) in [
        (r#"{"through":1}"#, Some(ack.as_str())),
        (r#"{"through":"1"}"#, Some(ack.as_str())),
        (r#"{"through":1}"#, None),
    ] {
        let response = api.ack_raw("bob", body, credential).await;
        c.check("POST", "/v1/inbox/{handle}/ack", response).await;
    }

    for (query, last_event_id) in [
        (String::new(), None),
        (
            format!(
                "?since=1&auth={}",
                bob.stream_credential(Some(1), now_secs())
            ),
            Some("2"),
        ),
        ("?auth=garbage".to_owned(), None),
    ] {
        let response = api.stream_raw("bob", &query, last_event_id).await;
        c.check("GET", "/v1/inbox/{handle}/stream", response).await;
    }
}

/// The checker itself: a response that breaks the file's schemas is caught, so the tests
/// above cannot pass by validating nothing.
#[tokio::test]
async fn the_checker_catches_violations() {
    let contract = Contract::load();
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let record = api.register_ok(&User::new("alice", 1)).await;
    let schema = Contract::component("HandleRecord");
    assert!(contract.violations(&schema, &record).is_empty());
    let mutations: [(&str, Value); 5] = [
        ("handle", json!("Alice")),
        ("primary", json!("ed25519:00")),
        ("registered_at", json!(-1)),
        ("registration", json!({"type": "registration"})),
        ("extra", json!(true)),
    ];
    for (member, value) in mutations {
        let mut broken = record.clone();
        broken[member] = value;
        assert!(
            !contract.violations(&schema, &broken).is_empty(),
            "{member} = {} must violate HandleRecord",
            broken[member]
        );
    }
    let error = Contract::component("Error");
    assert!(
        !contract
            .violations(&error, &json!({"error": "no_such_code", "message": ""}))
            .is_empty()
    );
}

/// SPEC §9.7, §7.6, §10: the delivery status of a sent message, and its errors, match the
/// file's schemas.
#[tokio::test]
async fn status_responses_match_the_schemas() {
    let contract = Contract::load();
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    let c = &contract;
    let sent = api
        .send_ok(&alice.envelope(&bob, now_ms(), "followed"))
        .await;
    let id: kez_spec::MessageId = sent["id"].as_str().expect("id").parse().expect("an id");
    let status_of = |user: &User| {
        kez_spec::auth::AuthRequest::Status { id: &id }
            .sign(&user.key, now_secs())
            .to_string()
    };
    let unknown = "0".repeat(64);
    for (message, credential, expected) in [
        (id.to_string(), Some(status_of(&alice)), 200),
        (id.to_string(), Some(status_of(&bob)), 401),
        (id.to_string(), None, 401),
        ("not-an-id".to_owned(), Some(status_of(&alice)), 400),
        (unknown, Some(status_of(&alice)), 404),
    ] {
        let mut request = api
            .http
            .get(api.url(&format!("/v1/messages/{message}/status")));
        if let Some(credential) = credential {
            request = request.header("x-kez-auth", credential);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), expected, "{message}");
        let body = c.check("GET", "/v1/messages/{id}/status", response).await;
        if expected == 200 {
            assert_eq!(body["status"], "stored", "a local recipient");
        }
    }
}
