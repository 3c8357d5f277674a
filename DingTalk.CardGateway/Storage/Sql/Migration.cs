namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>One numbered change of the schema (<see cref="Schema.Migrations"/>).</summary>
/// <param name="Sql">What it runs, in its own transaction with the others of the same startup.</param>
/// <param name="OlderBuildsMayRun">
/// Whether a build that knows only the migrations before this one may go on using the database once it is applied: true
/// when it only adds what such a build never reads or can leave to its default (a table, a nullable column or one with a
/// default, an index, a status value its queries filter out); false when it takes away or changes what such a build
/// relies on (a column it writes dropped or made NOT NULL, a value given another meaning). A false one makes the database
/// refuse every build before it at startup (<see cref="SchemaMigrator"/>, <see cref="SchemaTooNewException"/>).
/// </param>
public sealed record Migration(string Sql, bool OlderBuildsMayRun);
