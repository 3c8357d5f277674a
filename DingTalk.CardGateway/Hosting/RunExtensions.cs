using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

public static class RunExtensions
{
    /// <summary>Runs the gateway; a configuration that fails validation stops it with one line per missing key and exit code 1.</summary>
    public static async Task<int> RunGatewayAsync(this WebApplication app)
    {
        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            // Printed plainly: a deployment that cannot start must say why in one glance, without a stack trace.
            await Console.Error.WriteLineAsync($"DingTalk.CardGateway cannot start: {string.Join(" ", ex.Failures)}");
            return 1;
        }
    }
}
