namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The schema, as numbered migrations applied in order at startup. Times are epoch milliseconds (BIGINT) and JSON
/// is TEXT in both databases, so every query reads the same in SQLite and PostgreSQL.
/// </summary>
/// <remarks>
/// Each says whether a build from before it may go on using the database (<see cref="Migration.OlderBuildsMayRun"/>):
/// during a rolling deployment old replicas run beside a new one that migrated, and a rollback starts the previous build
/// on the migrated database. Every one so far only adds, and the reason an older build lives with it is given beside it.
/// Every query names its columns (no <c>SELECT *</c> of a table, nor a <c>RETURNING</c> of all its columns), so a column
/// another replica adds changes no statement's result, prepared or not.
/// </remarks>
public static class Schema
{
    public static IReadOnlyList<Migration> Migrations(SqlDialect dialect) =>
    [
        // 1: the first release's tables.
        new($"""
        CREATE TABLE cards (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            template_id TEXT NOT NULL,
            callback_type TEXT NULL,
            open_space_id TEXT NULL,
            public_data TEXT NOT NULL,
            private_data TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE TABLE callbacks (
            callback_id TEXT PRIMARY KEY,
            card_id TEXT NOT NULL,
            transport TEXT NOT NULL,
            type TEXT NOT NULL,
            user_id TEXT NOT NULL,
            action TEXT NULL,
            action_ids TEXT NOT NULL,
            received_at BIGINT NOT NULL,
            outcome TEXT NOT NULL,
            handler TEXT NULL,
            answer_json TEXT NULL,
            completed_at BIGINT NULL
        );
        CREATE INDEX callbacks_by_card ON callbacks (card_id, received_at);
        CREATE INDEX callbacks_by_age ON callbacks (received_at);
        CREATE TABLE handler_state (
            handler TEXT NOT NULL,
            card_id TEXT NOT NULL,
            state TEXT NULL,
            version BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (handler, card_id)
        );
        CREATE TABLE outbox (
            id {dialect.IdentityPrimaryKey},
            card_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            created_at BIGINT NOT NULL,
            available_at BIGINT NOT NULL,
            sent_at BIGINT NULL,
            last_error TEXT NULL,
            last_error_status INTEGER NULL,
            last_error_code TEXT NULL
        );
        CREATE INDEX outbox_pending ON outbox (status, card_id, id);
        CREATE TABLE outbox_leases (
            card_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            until_at BIGINT NOT NULL
        );
        """, OlderBuildsMayRun: true),
        // 2: what the click sent (params as JSON). Older builds: a nullable column they leave NULL (a click without params).
        new("ALTER TABLE callbacks ADD COLUMN params TEXT NULL", OlderBuildsMayRun: true),
        // 3: a card is stored before DingTalk is asked to create it, unconfirmed until DingTalk says it has it (cards stored
        // before were stored after their creation: confirmed). Older builds: they store a card after DingTalk created it,
        // and the default says just that.
        new("ALTER TABLE cards ADD COLUMN creation_confirmed BIGINT NOT NULL DEFAULT 1", OlderBuildsMayRun: true),
        // 4: which replica types into a card, and when its last frame went (ITypingLeases). Older builds: a table they
        // never read (while one types, a newer replica typing into the same card is not kept apart from it).
        new(
            """
            CREATE TABLE typing_leases (
                card_id TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                until_at BIGINT NOT NULL,
                last_frame_at BIGINT NOT NULL
            )
            """,
            OlderBuildsMayRun: true),
        // 5: the permissions DingTalk named in the 403 of the entry's last error (accessdenieddetail.requiredScopes), a JSON
        // array as the callbacks' action_ids are: DingTalk's scope names are its own strings, with no separator they could
        // never hold. NULL when the last error named none (every entry stored before). Older builds: a nullable column
        // they leave as it is (a later failure they record may keep an earlier one's scopes beside it).
        new("ALTER TABLE outbox ADD COLUMN last_error_scopes TEXT NULL", OlderBuildsMayRun: true),
        // 6: a dead letter put right (status Resolved: a resend of the whole stored card, entry resolved_by, reached
        // DingTalk after it) or dismissed by an operator (status Dismissed, resolved_by NULL), and when: it stops counting
        // as dead, and retention purges it once resolved_at is past Gateway:Storage:Retention. NULL for every other entry.
        // Older builds: nullable columns, and two status values that every query of theirs filters out (they read
        // Pending, Dead or Sent entries only); they leave those to a newer build's retention, and send a queued resend as
        // a refresh of the card's public data, resolving nothing.
        new(
            """
            ALTER TABLE outbox ADD COLUMN resolved_at BIGINT NULL;
            ALTER TABLE outbox ADD COLUMN resolved_by BIGINT NULL
            """,
            OlderBuildsMayRun: true),
        // 7: effects a handler asked for after its click commits (CardActionResult.AndAfterCommit), queued in the click's
        // transaction. available_at is also the lease of the replica running one (owner, its attempt the fence); one row
        // per effect of a click, so a click handled again after retention forgot it queues none twice. Older builds: a table
        // they never read; their handlers ask for no effects, and those a newer build queued wait for a newer replica.
        new($"""
        CREATE TABLE effects (
            id {dialect.IdentityPrimaryKey},
            callback_id TEXT NOT NULL,
            effect_index INTEGER NOT NULL,
            card_id TEXT NOT NULL,
            name TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            created_at BIGINT NOT NULL,
            available_at BIGINT NOT NULL,
            owner TEXT NULL,
            done_at BIGINT NULL,
            last_error TEXT NULL
        );
        CREATE UNIQUE INDEX effects_by_callback ON effects (callback_id, effect_index);
        CREATE INDEX effects_due ON effects (status, available_at);
        CREATE INDEX effects_by_card ON effects (card_id, id);
        """, OlderBuildsMayRun: true),
        // 8: when an operator last ran a dead effect again (POST /api/effects/{id}/retry): Gateway:Outbox:GiveUpAfter then
        // counts from it instead of from the click (created_at), so the effect is not given up at its first failure. NULL
        // for an effect never run again. A dismissed effect (status Dismissed) has its done_at set to when it was dismissed.
        // Older builds: a nullable column, and a status their queries filter out (Pending and Dead only); an effect run
        // again that such a build runs is given up counting from its click.
        new("ALTER TABLE effects ADD COLUMN retried_at BIGINT NULL", OlderBuildsMayRun: true),
        // 9: the lowest schema version a build must know to use this database, one row, written by the build that migrates
        // (SchemaMigrator): a build older than the database reads it to learn whether it may run. Older builds: a table
        // they never read (builds before it cannot be refused: every migration until it only adds).
        new(
            """
            CREATE TABLE schema_floor (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                min_build_version INTEGER NOT NULL
            )
            """,
            OlderBuildsMayRun: true),
        // 10: on PostgreSQL, each DingTalk API's next free turn for a call, shared by every replica (Cards/SharedApiPace):
        // epoch milliseconds of the database's clock. Unused on SQLite (one process paces itself). Older builds: a table
        // they never read; during a rolling deployment their calls go at their own pace, outside the shared one.
        new(
            """
            CREATE TABLE outbound_pace (
                api TEXT PRIMARY KEY,
                next_at BIGINT NOT NULL
            )
            """,
            OlderBuildsMayRun: true),
        // 11: on PostgreSQL, the clicks answered {} before their commit, kept until they commit (Callbacks/AnsweredEarlyJournal):
        // a replica that dies in between leaves its row, and another handles the click. kept_at is the database's clock,
        // epoch milliseconds. Unused on SQLite (kept in files beside the database). Older builds: a table they never read;
        // their clicks answered early are not kept.
        new(
            """
            CREATE TABLE answered_early (
                callback_id TEXT PRIMARY KEY,
                action_json TEXT NOT NULL,
                kept_at BIGINT NOT NULL
            )
            """,
            OlderBuildsMayRun: true),
    ];

    /// <summary>
    /// The lowest schema version a build must know to use a database migrated through <paramref name="migrations"/>: that
    /// of the last one older builds may not run with, or 1 when every one only adds.
    /// </summary>
    public static int MinBuildVersion(IReadOnlyList<Migration> migrations)
    {
        for (var version = migrations.Count; version > 1; version--)
        {
            if (!migrations[version - 1].OlderBuildsMayRun)
            {
                return version;
            }
        }

        return 1;
    }
}
