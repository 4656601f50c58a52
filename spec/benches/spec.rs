//! Benchmarks of the per-message protocol work (SPEC §3, §6): what every send costs a server
//! (parse, canonicalise, verify, id) and a client (seal, open). Figures: docs/BENCHMARKS.md.
//! Run: `cargo bench -p kez-spec --bench spec`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kez_spec::envelope::{Envelope, SignedEnvelope};
use kez_spec::{Address, MessageId, Primary, SigningKey, e2ee, json};

fn fixtures() -> (SigningKey, SigningKey, Vec<u8>) {
    let alice = SigningKey::from_bytes(&[1; 32]);
    let bob = SigningKey::from_bytes(&[2; 32]);
    // ~500 bytes of ciphertext, the load the performance targets use.
    let plaintext = format!(r#"{{"text":"{}"}}"#, "x".repeat(470));
    let env = Envelope::seal(
        &alice,
        "alice@a.example".parse::<Address>().expect("valid"),
        "bob@b.example".parse::<Address>().expect("valid"),
        &Primary::from(&bob),
        1_764_100_000_000,
        [7; 12],
        plaintext.as_bytes(),
    )
    .expect("seals");
    let text = serde_json::to_vec(&env.sign(&alice)).expect("serializes");
    (alice, bob, text)
}

fn benches(c: &mut Criterion) {
    let (alice, bob, text) = fixtures();
    let mut g = c.benchmark_group("envelope");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse", |b| {
        b.iter(|| SignedEnvelope::parse(black_box(&text)))
    });
    let env = SignedEnvelope::parse(&text).expect("parses");
    g.bench_function("verify", |b| b.iter(|| black_box(&env).verify()));
    g.bench_function("parse_and_verify", |b| {
        b.iter(|| SignedEnvelope::parse(black_box(&text)).and_then(|e| e.verify()))
    });
    let value = json::parse_strict(&text).expect("parses");
    g.bench_function("jcs", |b| b.iter(|| json::canonical(black_box(&value))));
    g.bench_function("message_id", |b| {
        b.iter(|| MessageId::of_canonical(black_box(env.canonical.as_bytes())))
    });
    let primary = env.envelope.from_primary.to_string();
    g.bench_function("primary_parse", |b| {
        b.iter(|| kez_spec::Primary::parse(black_box(&primary)))
    });
    g.finish();

    let mut g = c.benchmark_group("e2ee");
    g.throughput(Throughput::Elements(1));
    let plaintext = vec![b'x'; 1024];
    let bob_primary = Primary::from(&bob);
    g.bench_function("seal_1KiB", |b| {
        b.iter(|| {
            e2ee::seal(
                &alice,
                black_box(&bob_primary),
                &[7; 12],
                black_box(&plaintext),
            )
        })
    });
    let ct = e2ee::seal(&alice, &bob_primary, &[7; 12], &plaintext).expect("seals");
    let alice_primary = Primary::from(&alice);
    g.bench_function("open_1KiB", |b| {
        b.iter(|| e2ee::open(&bob, black_box(&alice_primary), &[7; 12], black_box(&ct)))
    });
    g.finish();
}

criterion_group!(spec, benches);
criterion_main!(spec);
