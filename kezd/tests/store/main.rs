//! One store test suite for both backends: every case in [`cases`] runs against SQLite in a
//! temp directory, and against PostgreSQL in a database of its own when
//! `KEZ_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/postgres`; each
//! test creates `kez_test_<random>` and drops it at the end). Without the variable the
//! PostgreSQL tests pass without running, so `cargo test` needs no database server; with it,
//! an unreachable server fails them. [`postgres_only`] holds what only a multi-connection,
//! multi-instance store must prove, [`sqlite_only`] what only the SQLite store must.

mod backend;
mod cases;
mod postgres_only;
#[path = "../support/skipped.rs"]
mod skipped;
mod sqlite_only;

/// Generates, for each case, `sqlite::<case>` and `postgres::<case>` tests.
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let backend = crate::backend::Sqlite::new();
                    crate::cases::$case(&backend).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(backend) = crate::backend::Postgres::from_env().await else {
                        return;
                    };
                    crate::cases::$case(&backend).await;
                }
            )*
        }
    };
}

suite!(
    register_then_look_up_by_handle_and_primary,
    taken_handle_and_taken_primary_are_told_apart,
    identical_registration_again_is_existing,
    local_seqs_start_at_one_per_recipient,
    accept_for_unknown_recipient_is_refused,
    duplicate_id_reports_the_first_seq_and_is_stored_once,
    same_id_many_times_at_once_is_stored_once,
    a_mixed_group_is_answered_as_one_at_a_time,
    admission_runs_for_new_messages_only,
    known_ids_finds_the_remembered_ones,
    seqs_are_not_reused_after_ack_deletes_everything,
    inbox_pages_by_since_and_limit,
    inbox_pages_are_bounded_in_bytes,
    ack_deletes_exactly_through_the_seq_and_counts,
    retention_by_age_deletes_only_older_messages,
    retention_by_count_keeps_the_newest_per_inbox,
    retention_by_count_at_the_limit_and_after_acks,
    retention_larger_than_one_step_finishes,
    retention_beside_accepts_deletes_nothing_it_should_keep,
    remote_route_goes_to_the_outbox_once,
    accepted_messages_survive_close_and_reopen,
    acknowledged_writes_survive_a_drop_without_close,
    concurrent_accepts_are_read_in_order_exactly_once,
    contested_registrations_at_once_get_the_right_answers,
    crash_only_durability_opens_and_stores,
    outbox_outcomes_backoff_and_delivery_status,
    outbox_backlog_counts_pending_destinations_and_failing,
    a_destination_woken_is_due_at_once,
    transaction_responses_first_one_wins,
    retention_forgets_old_ids_but_not_those_in_the_outbox,
    finished_deliveries_and_old_transactions_are_forgotten,
    conversations_are_kept_per_direction_and_forgotten_when_old,
    concurrent_look_ups_each_get_their_own_conversation,
    a_token_is_spent_only_by_registrations_it_stores,
    unknown_expired_and_revoked_tokens_admit_nobody,
    a_token_with_one_use_admits_one_of_many_at_once,
    deletion_removes_the_user_inbox_and_pending_outbox,
    deletion_retry_mismatch_and_unknown,
    tombstone_holds_the_handle_until_release_and_the_primary_for_good,
    deletion_is_durable,
    suspensions_blocks_pages_and_audit,
    destination_reports_show_pending_failures_and_backoff,
);
