using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Storage;

public sealed class PostgresStoreTests(PostgresStorageFixture fixture)
    : StoreContractTests<PostgresStorageFixture>(fixture), IClassFixture<PostgresStorageFixture>;
