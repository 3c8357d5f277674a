using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Storage;

public sealed class SqliteStoreTests(SqliteStorageFixture fixture)
    : StoreContractTests<SqliteStorageFixture>(fixture), IClassFixture<SqliteStorageFixture>;
