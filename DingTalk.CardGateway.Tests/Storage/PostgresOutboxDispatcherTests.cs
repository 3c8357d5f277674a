using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Storage;

public sealed class PostgresOutboxDispatcherTests(PostgresStorageFixture fixture)
    : OutboxDispatcherTests<PostgresStorageFixture>(fixture), IClassFixture<PostgresStorageFixture>;
