using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

public static class RunExtensions
{
    /// <summary>
    /// Runs the gateway. A configuration that fails validation stops it before the host starts, with one line
    /// naming every missing key and exit code 1: no stack trace for an operator to dig through.
    /// </summary>
    public static async Task<int> RunGatewayAsync(this WebApplication app)
    {
        var failures = ValidationFailures(app.Services);
        if (failures.Count > 0)
        {
            await Console.Error.WriteLineAsync($"DingTalk.CardGateway cannot start: {string.Join(" ", failures)}");
            return 1;
        }

        await app.RunAsync();
        return 0;
    }

    private static List<string> ValidationFailures(IServiceProvider services)
    {
        var failures = new List<string>();
        Check<DingTalkOptions>(services, failures);
        Check<GatewayOptions>(services, failures);
        return failures;
    }

    private static void Check<T>(IServiceProvider services, List<string> failures)
        where T : class
    {
        try
        {
            _ = services.GetRequiredService<IOptions<T>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            failures.AddRange(ex.Failures);
        }
    }
}
