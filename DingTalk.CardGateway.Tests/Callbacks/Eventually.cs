namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>Waits for something that happens after an answer (an update reaching the fake); fails with a reason, never on timing alone.</summary>
public static class Eventually
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    public static Task TrueAsync(Func<bool> condition, string because) => TrueAsync(() => Task.FromResult(condition()), because);

    public static async Task TrueAsync(Func<Task<bool>> condition, string because)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Still waiting for: {because}");
            await Task.Delay(20);
        }
    }

    /// <summary>As above, with its own <paramref name="patience"/> and a reason read only on failure (so it can say what it saw last).</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, Func<Task<string>> because, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (!await condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"Still waiting for: {await because()}");
            }

            await Task.Delay(50);
        }
    }

    public static async Task<T> ValueAsync<T>(Func<T?> read, string because)
        where T : class
    {
        T? value = null;
        await TrueAsync(() => (value = read()) is not null, because);
        return value!;
    }
}
