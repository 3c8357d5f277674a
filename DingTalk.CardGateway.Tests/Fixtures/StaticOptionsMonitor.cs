using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>Options that never change, for a class under test that takes an <see cref="IOptionsMonitor{T}"/>.</summary>
public sealed class StaticOptionsMonitor<T>(T value) : IOptionsMonitor<T>
{
    public T CurrentValue => value;

    public T Get(string? name) => value;

    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
