namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The schema, as numbered migrations applied in order at startup. Times are epoch milliseconds (BIGINT) and JSON
/// is TEXT in both databases, so every query reads the same in SQLite and PostgreSQL.
/// </summary>
public static class Schema
{
    public static IReadOnlyList<string> Migrations(SqlDialect dialect) =>
    [
        $"""
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
        """,
        "ALTER TABLE callbacks ADD COLUMN params TEXT NULL", // 2: what the click sent (params as JSON)
        // 3: a card is stored before DingTalk is asked to create it, unconfirmed until DingTalk says it has it (cards stored
        // before were stored after their creation: confirmed)
        "ALTER TABLE cards ADD COLUMN creation_confirmed BIGINT NOT NULL DEFAULT 1",
        """
        CREATE TABLE typing_leases (
            card_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            until_at BIGINT NOT NULL,
            last_frame_at BIGINT NOT NULL
        )
        """, // 4: which replica types into a card, and when its last frame went (ITypingLeases)
        // 5: the permissions DingTalk named in the 403 of the entry's last error (accessdenieddetail.requiredScopes), a JSON
        // array as the callbacks' action_ids are: DingTalk's scope names are its own strings, with no separator they could
        // never hold. NULL when the last error named none (every entry stored before).
        "ALTER TABLE outbox ADD COLUMN last_error_scopes TEXT NULL",
        // 6: a dead letter put right (status Resolved: a resend of the whole stored card, entry resolved_by, reached
        // DingTalk after it) or dismissed by an operator (status Dismissed, resolved_by NULL), and when: it stops counting
        // as dead, and retention purges it once resolved_at is past Gateway:Storage:Retention. NULL for every other entry.
        """
        ALTER TABLE outbox ADD COLUMN resolved_at BIGINT NULL;
        ALTER TABLE outbox ADD COLUMN resolved_by BIGINT NULL
        """,
        // 7: effects a handler asked for after its click commits (CardActionResult.AndAfterCommit), queued in the click's
        // transaction. available_at is also the lease of the replica running one (owner, its attempt the fence); one row
        // per effect of a click, so a click handled again after retention forgot it queues none twice.
        $"""
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
        """,
        // 8: when an operator last ran a dead effect again (POST /api/effects/{id}/retry): Gateway:Outbox:GiveUpAfter then
        // counts from it instead of from the click (created_at), so the effect is not given up at its first failure. NULL
        // for an effect never run again. A dismissed effect (status Dismissed) has its done_at set to when it was dismissed.
        "ALTER TABLE effects ADD COLUMN retried_at BIGINT NULL",
    ];
}
