using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.Hosting.Internal;
using Npgsql;

namespace DingTalk.CardGateway.Tests.Storage;

public sealed class GatewayDatabaseTests
{
    private const string Server = "Host=db.example;Username=gateway;Password=not-a-secret;Database=cards";

    [Fact]
    public void A_PostgreSQL_connection_string_gets_auto_prepared_statements_and_no_reset_on_close()
    {
        using var database = Postgres(Server);
        var used = new NpgsqlConnectionStringBuilder(database.ConnectionString);

        Assert.Equal(64, used.MaxAutoPrepare);
        Assert.True(used.NoResetOnClose);
        Assert.Equal("db.example", used.Host);
    }

    [Theory]
    [InlineData("Max Auto Prepare=0;No Reset On Close=false")]
    [InlineData("maxautoprepare=0;NORESETONCLOSE=false")]
    public void What_the_connection_string_says_wins(string settings)
    {
        using var database = Postgres($"{Server};{settings}");
        var used = new NpgsqlConnectionStringBuilder(database.ConnectionString);

        Assert.Equal(0, used.MaxAutoPrepare);
        Assert.False(used.NoResetOnClose);
    }

    private static GatewayDatabase Postgres(string connectionString) => new(
        Microsoft.Extensions.Options.Options.Create(new GatewayOptions { Storage = new() { Provider = StorageOptions.Postgres, ConnectionString = connectionString } }),
        new HostingEnvironment { ContentRootPath = Path.GetTempPath() });
}
